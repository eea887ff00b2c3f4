"""Task resolvers (flytecore.sdk.resolver): the loader arguments serialization writes and the
task entrypoint follows, custom resolvers, scripts run as ``__main__`` and map task elements."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2

from flytecore.sdk.entrypoint import main
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import (
    SETTINGS,
    container_args,
    run_task,
    write_inputs,
)


def test_loader_args_name_the_module_and_the_attribute_that_hold_the_task() -> None:
    def tail(entity: Any) -> list[str]:
        args = list(entity.to_template(SETTINGS).container.args)
        return args[args.index("--resolver") :]

    module = "tests.sdk.entrypoint_tasks"
    default = "flytecore.sdk.resolver.default"
    assert tail(tasks.add) == ["--resolver", default, "--", "task-module", module, "task-name", "add"]
    assert tail(tasks.Namespace.triple)[-1] == "Namespace.triple"
    # A task held by a variable named differently from its function is found by the variable.
    assert tail(tasks.renamed)[-1] == "renamed"
    assert tail(tasks.registered) == ["--resolver", "tests.sdk.entrypoint_tasks.registry_resolver", "--",
                                      "key", "registered"]


@pytest.mark.parametrize(("entity", "value", "expected"),
                         [(tasks.Namespace.triple, 5, 15), (tasks.renamed, 5, 10), (tasks.registered, 5, 4)],
                         ids=["attribute-path", "renamed", "custom-resolver"])
def test_tasks_load_through_their_loader_args(tmp_path: Path, entity: Any, value: int, expected: int) -> None:
    assert run_task(tmp_path, entity, x=value).outputs().literals["o0"].scalar.primitive.integer == expected


def test_a_script_run_as_main_is_named_after_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.sdk.resolver import task_location
    from flytecore.sdk.task import PythonFunctionTask

    script = tmp_path / "pkg" / "jobs.py"
    script.parent.mkdir()
    script.write_text("def double(x: int) -> int:\n    return 2 * x\n")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    fake_main = type(sys)("__main__")
    fake_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert task_location(PythonFunctionTask(namespace["double"])) == ("pkg.jobs", "double")


def test_a_map_task_element_runs_the_mapped_task_with_its_bound_inputs(tmp_path: Path) -> None:
    """map_task(partial(add, b=100)): the array node's sub-node references ``add`` itself and the
    partial's value is an array-node binding passed whole (bound_inputs); an element's inputs.pb
    holds one ``a`` and that ``b``, and the plain task runs."""
    import functools

    from flytecore import map_task, workflow
    from flytecore.sdk.serialize import serialize_workflow

    @workflow
    def shifted(xs: list[int]) -> list[int]:
        return map_task(functools.partial(tasks.add, b=100))(a=xs)

    bundle = serialize_workflow(shifted, SETTINGS)
    assert bundle.workflow is not None
    (node,) = bundle.workflow.nodes
    array = node.array_node
    assert array is not None and array.bound_inputs == ("b",)
    assert {b.var for b in node.inputs} == {"a", "b"}
    sub = array.node.task_node
    assert sub is not None and sub.reference_id.name == "tests.sdk.entrypoint_tasks.add"
    template = bundle.tasks[sub.reference_id.name]
    inputs = write_inputs(tmp_path / "element-3.pb", tasks.add, a=3, b=100)
    out = tmp_path / "element-3"
    assert main(container_args(template, input=inputs, output=str(out), raw=str(tmp_path / "raw")), environ={}) == 0
    assert literals_pb2.LiteralMap.FromString((out / "outputs.pb").read_bytes()).literals["o0"].scalar.primitive.integer == 103


def test_a_module_that_imports_something_missing_says_what(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.errors import TaskResolutionError
    from flytecore.sdk.resolver import default

    module = f"needs_missing_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TaskResolutionError, match=f"importing '{module}' failed: No module named 'no_such_dependency_xyz'"):
        default.load_task(["task-module", module, "task-name", "t"])
    monkeypatch.delitem(sys.modules, module, raising=False)
