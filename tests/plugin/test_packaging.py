"""Packaging: wheels of flytecore and flyte-plugin-dask in a fresh virtual environment.

The plugin is found through its entry point only (``flytecore plugins list`` shows it); once it
is uninstalled, a registered Dask task fails to run with a message naming the distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "dask"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Run in the fresh venv while the plugin is installed: register a workflow with a Dask task
# into a sandbox folder (the admin's database keeps the task template).
REGISTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from flyteidl.admin import task_pb2, workflow_pb2

    from flytecore import task, workflow
    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
    from flytecore.sdk.serialize import SerializationSettings, serialize_workflow
    from flytecore.spec.idl import to_idl
    from flyte_plugin_dask import Dask


    @task(task_config=Dask())
    def total(n: int) -> int:
        return n


    @workflow
    def wf() -> int:
        return total(n=3)


    bundle = serialize_workflow(wf, SerializationSettings(version="v1"))
    assert [t.type for t in bundle.tasks.values()] == ["dask"]
    with Sandbox(SandboxConfig(home=Path(sys.argv[1]), workers=1, http_port=None)) as box:
        for t in bundle.tasks.values():
            box.admin.create_task(task_pb2.TaskCreateRequest(id=to_idl(t.id), spec=task_pb2.TaskSpec(template=to_idl(t))))
        box.admin.create_workflow(workflow_pb2.WorkflowCreateRequest(
            id=to_idl(bundle.workflow.id), spec=workflow_pb2.WorkflowSpec(template=to_idl(bundle.workflow))))
    print(bundle.workflow.id.name)
    """
)

# Run after the plugin is uninstalled: launch the registered workflow, print how it ended.
LAUNCH = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from flyteidl.admin import execution_pb2
    from flyteidl.core import identifier_pb2

    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
    from flytecore.spec import WorkflowExecutionPhase

    with Sandbox(SandboxConfig(home=Path(sys.argv[1]), workers=1, http_port=None)) as box:
        lp = identifier_pb2.Identifier(resource_type=identifier_pb2.LAUNCH_PLAN, project="flytesnacks",
                                       domain="development", name=sys.argv[2], version="v1")
        eid = box.admin.create_execution(execution_pb2.ExecutionCreateRequest(
            project="flytesnacks", domain="development", name="nodask",
            spec=execution_pb2.ExecutionSpec(launch_plan=lp))).id
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            closure = box.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid)).closure
            if WorkflowExecutionPhase(closure.phase).is_terminal:
                break
            time.sleep(0.1)
        print(WorkflowExecutionPhase(closure.phase).name)
        print(closure.error.message)
    """
)


def _run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheels_install_into_a_fresh_venv_and_a_missing_plugin_is_named(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for project in (ROOT, PLUGIN):
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, project)
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert [n.split("-")[0] for n in built] == ["flyte_plugin_dask", "flytecore"]

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    # Dependencies come from the index; the two wheels from the folder.
    _run(python, "-m", "pip", "install", "-q", *sorted(wheels.glob("*.whl")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTECORE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    listed = json.loads(_run(bin_dir / "flytecore", "plugins", "list", "--json", env=env))
    dask = [p for p in listed if p["distribution"] == "flyte-plugin-dask"]
    assert len(dask) == 1 and dask[0]["error"] is None
    assert dask[0]["contributions"]["task types"] == ["dask"]

    home = tmp_path / "home"
    workflow_name = _run(python, "-c", REGISTER, home, env=env).strip().splitlines()[-1]

    _run(python, "-m", "pip", "uninstall", "-y", "-q", "flyte-plugin-dask")
    listed = json.loads(_run(bin_dir / "flytecore", "plugins", "list", "--json", env=env))
    assert "flyte-plugin-dask" not in {p["distribution"] for p in listed}

    phase, *message = _run(python, "-c", LAUNCH, home, workflow_name, env=env).strip().splitlines()
    assert phase == "FAILED"
    assert "flyte-plugin-dask" in "\n".join(message)
