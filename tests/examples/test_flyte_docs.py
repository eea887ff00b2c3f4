"""Flyte's documentation examples (examples/flyte_docs, only import lines changed) run locally
and every workflow in them compiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "examples" / "flyte_docs"

# file -> strings its __main__ block must print (computed by hand; see examples/flyte_docs/README.md)
EXPECTED: dict[str, list[str]] = {
    "basics_hello_world.py": ["Hello, World!"],
    "basics_task.py": ["-1.5"],
    "basics_workflow.py": ["3.0"],
    "basics_named_outputs.py": ["slope=-1.5, intercept=3.0"],
    "basics_launch_plan.py": [],
    "basics_documenting_workflows.py": [],
    "basics_imperative_workflow.py": ["Running imperative_wf() 3.0"],
    "control_flow_conditional.py": ["2.5120000000000005", "0.5024000000000001", "78.5"],
    "control_flow_map_task.py": ["[False, True, False, False, True, True, True, False, True, False]"],
    "control_flow_dynamic_workflow.py": ["[315, 383, 1813, 2403, 2634, 3105, 3260, 3291, 7037, 7164]"],
    "control_flow_subworkflow.py": ["-4.5"],
    "control_flow_decorating_tasks.py": ["21"],
    "control_flow_chain_entities.py": [],
    # no __main__ block: the script only imports; test_flyte_docs_gates.py runs its gated workflows
    "control_flow_waiting_for_external_inputs.py": [],
    "data_types_enum_type.py": ["Preparing latte ..."],
    "data_types_pickle_type.py": ["Hello Thor! Your superpower is Flight."],
    "data_types_attribute_access.py": ["['banana']", "{'fruit': 'banana'}"],
}

# Examples whose __main__ block needs the internet (it fetches CSV files from people.sc.fsu.edu):
# not run here; tests/examples/test_flyte_docs_files.py calls their workflows with URLs of a local
# HTTP server instead. Their workflows are still compiled below (that needs no network).
TESTED_ELSEWHERE: frozenset[str] = frozenset({"data_types_file.py", "data_types_folder.py"})

# Examples that define no workflow of their own (they define tasks or launch plans only); every
# other file must compile at least one, so a workflow the compile step misses does not pass silently.
NO_WORKFLOWS: frozenset[str] = frozenset({"basics_task.py", "basics_launch_plan.py"})

COMPILE_ALL = """
import sys
from flytecore.cli.loader import load_module
from flytecore.sdk.workflow import PythonFunctionWorkflow
from flytecore.sdk.serialize import compile_entity
module = load_module(sys.argv[1])
names = [n for n, v in vars(module).items() if isinstance(v, PythonFunctionWorkflow) and v.__module__ == module.__name__]
for n in names:
    closure = compile_entity(getattr(module, n))
    assert closure.primary.template.nodes, n
print("compiled", len(names))
"""


def test_every_example_is_listed() -> None:
    assert not TESTED_ELSEWHERE & EXPECTED.keys()
    assert NO_WORKFLOWS <= EXPECTED.keys() | TESTED_ELSEWHERE
    assert sorted(p.name for p in DOCS.glob("*.py")) == sorted(EXPECTED.keys() | TESTED_ELSEWHERE)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, name], cwd=DOCS, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for expected in EXPECTED[name]:
        assert expected in proc.stdout, f"{expected!r} not in output of {name}:\n{proc.stdout}"


@pytest.mark.parametrize("name", sorted(EXPECTED.keys() | TESTED_ELSEWHERE))
def test_example_workflows_compile(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", COMPILE_ALL, name], cwd=DOCS, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().startswith("compiled")
    count = int(proc.stdout.split()[1])
    assert (count == 0) == (name in NO_WORKFLOWS), proc.stdout
