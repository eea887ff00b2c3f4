"""``@dynamic`` tasks in a task container: ``futures.pb`` (a flyteidl ``DynamicJobSpec``) with
prefixed nodes, accepted by the compiler and runnable node by node through the entrypoint."""

from __future__ import annotations

from pathlib import Path

import attrs
from flyteidl.core import dynamic_job_pb2

from flytecore import spec
from flytecore.sdk.entrypoint import main
from flytecore.spec import idl
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import (
    FLYTE_ENV,
    SETTINGS,
    USER,
    Attempt,
    container_args,
    run_task,
)

DYNAMIC_ENV = {**FLYTE_ENV, "FLYTE_INTERNAL_TASK_PROJECT": "p", "FLYTE_INTERNAL_TASK_DOMAIN": "d",
               "FLYTE_INTERNAL_TASK_VERSION": "v1"}


def read_job(attempt: Attempt) -> spec.DynamicJobSpec:
    assert attempt.code == 0 and attempt.files() == ["futures.pb"], attempt.files()
    return idl.from_idl(dynamic_job_pb2.DynamicJobSpec.FromString(attempt.read("futures.pb")), spec.DynamicJobSpec)


def resolve(binding: spec.BindingData, outputs: dict[str, spec.LiteralMap]) -> spec.Literal:
    """A binding's value, given the outputs of the nodes that ran (what the propeller does)."""
    if binding.promise is not None:
        assert not binding.promise.attr_path
        return outputs[binding.promise.node_id].literals[binding.promise.var]
    if binding.collection is not None:
        return spec.Literal(collection=tuple(resolve(b, outputs) for b in binding.collection))
    if binding.map is not None:
        return spec.Literal(map={k: resolve(b, outputs) for k, b in binding.map.items()})
    assert binding.scalar is not None
    return spec.Literal(scalar=binding.scalar)


def test_a_dynamic_task_writes_a_job_of_prefixed_nodes(tmp_path: Path) -> None:
    job = read_job(run_task(tmp_path, tasks.plan, n=3, environ=DYNAMIC_ENV))
    ids = [n.id for n in job.nodes]
    # square x3, the map task, total(squares), total(shifted), double_wf: in call order.
    assert ids == ["dn0", "dn1", "dn2", "dn3", "dn4", "dn5", "dn6"]
    assert job.min_successes == len(job.nodes)
    squares = job.nodes[:3]
    assert [n.inputs[0].binding.scalar.primitive.integer for n in squares] == [0, 1, 2]  # type: ignore[union-attr]
    array = job.nodes[3]
    assert array.array_node is not None and array.array_node.bound_inputs == ("b",)
    total_of_squares = job.nodes[4]
    (xs,) = total_of_squares.inputs
    assert [b.promise.node_id for b in xs.binding.collection or ()] == ["dn0", "dn1", "dn2"]  # type: ignore[union-attr]
    assert set(total_of_squares.upstream_node_ids) == {"dn0", "dn1", "dn2"}
    assert job.nodes[6].workflow_node is not None and job.nodes[6].upstream_node_ids == ("dn5",)
    assert [(b.var, b.binding.promise.node_id) for b in job.outputs] == [("o0", "dn4"), ("o1", "dn6")]  # type: ignore[union-attr]
    # Every referenced task and subworkflow comes along, identified like the running task.
    assert {t.id.name.rsplit(".", 1)[1] for t in job.tasks} == {"square", "add", "total"}
    assert {(t.id.project, t.id.domain, t.id.version) for t in job.tasks} == {("p", "d", "v1")}
    assert [w.id.name for w in job.subworkflows] == ["tests.sdk.entrypoint_tasks.double_wf"]
    assert all(t.container is not None and "--resolver" in t.container.args for t in job.tasks)


def test_the_compiler_accepts_a_dynamic_job(tmp_path: Path) -> None:
    from flytecore.compiler import compile_workflow

    job = read_job(run_task(tmp_path, tasks.plan, n=3, environ=DYNAMIC_ENV))
    template = tasks.plan.to_template(SETTINGS)
    wf_id = attrs.evolve(template.id, resource_type=spec.ResourceType.WORKFLOW)
    closure = compile_workflow(job.to_workflow_template(wf_id, template.interface), tasks=job.tasks,
                               sub_workflows=job.subworkflows)
    assert [n.id for n in closure.primary.template.nodes] == [n.id for n in job.nodes]
    assert set(closure.primary.connections.upstream["dn4"]) == {"dn0", "dn1", "dn2"}
    assert len(closure.sub_workflows) == 1


def test_running_a_dynamic_jobs_nodes_gives_the_dynamic_tasks_outputs(tmp_path: Path) -> None:
    """Play the propeller: run each node's task through its container args, in order, and
    resolve the job's output bindings."""
    job = read_job(run_task(tmp_path, tasks.sum_of_squares, n=4, environ=DYNAMIC_ENV))
    templates = {t.id.name: t for t in job.tasks}
    outputs: dict[str, spec.LiteralMap] = {}
    for node in job.nodes:
        assert node.task_node is not None
        inputs = spec.LiteralMap(literals={b.var: resolve(b.binding, outputs) for b in node.inputs})
        folder = tmp_path / node.id
        folder.mkdir()
        (folder / "inputs.pb").write_bytes(idl.literal_map_to_bytes(inputs))
        args = container_args(templates[node.task_node.reference_id.name], input=str(folder / "inputs.pb"),
                              output=str(folder / "out"), raw=str(folder / "raw"))
        assert main(args, environ={}) == 0
        outputs[node.id] = idl.literal_map_from_bytes((folder / "out" / "outputs.pb").read_bytes())
    result = {b.var: resolve(b.binding, outputs) for b in job.outputs}
    assert result["o0"].scalar.primitive.integer == 0 + 1 + 4 + 9  # type: ignore[union-attr]


def test_a_dynamic_body_that_calls_nothing_writes_outputs(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.shortcut, n=21)
    assert attempt.outputs().literals["o0"].scalar.primitive.integer == 42


def test_a_failing_dynamic_body_is_a_user_error(tmp_path: Path) -> None:
    error = run_task(tmp_path, tasks.broken_plan, n=5).error()
    assert (error.code, error.origin) == ("USER:RuntimeError", USER)
    assert "cannot plan for 5" in error.message
