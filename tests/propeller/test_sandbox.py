"""The sandbox end to end, in-process: the admin accepts an execution, the propeller runs it in
worker processes through the task entrypoint, events bring the result back to the admin."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase
from tests.admin.test_grpc import requests_for

EXAMPLES = Path(__file__).parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))  # the workers inherit sys.path: they import the example module
import quickstart  # noqa: E402

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)) as box:
        yield box


def register(box: Sandbox, wf: object) -> None:
    """Register a workflow and its tasks; ones already registered identically are fine."""
    from flytecore.admin.service import AlreadyExistsError

    tasks, wf_request = requests_for(wf)
    for request in [*tasks, wf_request]:
        try:
            (box.admin.create_task if hasattr(request.spec, "template") and request in tasks else box.admin.create_workflow)(request)
        except AlreadyExistsError:
            pass


def launch(box: Sandbox, wf: object, name: str, **inputs: int | str) -> identifier_pb2.WorkflowExecutionIdentifier:
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=wf.name,
        version="v1",  # type: ignore[attr-defined]
    )
    literals = {
        k: literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(
            **{"string_value" if isinstance(v, str) else "integer": v}
        )))
        for k, v in inputs.items()
    }
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=literals_pb2.LiteralMap(literals=literals),
    )
    return box.admin.create_execution(request).id


def wait(
    box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier, timeout: float = 90
) -> execution_pb2.Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = box.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid))
        if WorkflowExecutionPhase(execution.closure.phase).is_terminal:
            return execution
        time.sleep(0.05)
    raise AssertionError(
        f"{eid.name} still {WorkflowExecutionPhase(execution.closure.phase).name} after {timeout} s"
    )


def test_quickstart_runs_end_to_end_in_worker_processes(sandbox: Sandbox) -> None:
    register(sandbox, quickstart.wf)
    eid = launch(sandbox, quickstart.wf, "quick1", n=5)
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["total"].scalar.primitive.integer == 30
    assert (
        data.full_outputs.literals["message"].scalar.primitive.string_value == "sum of squares is 30 (small)"
    )
    nodes = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, limit=100)
    )
    phases = {n.id.node_id: NodeExecutionPhase(n.closure.phase) for n in nodes.node_executions}
    assert phases == {
        "n0": NodeExecutionPhase.SUCCEEDED,
        "n1": NodeExecutionPhase.SUCCEEDED,
        "n2": NodeExecutionPhase.SUCCEEDED,
        "n3": NodeExecutionPhase.SUCCEEDED,
    }
    assert execution.closure.HasField("duration") and execution.closure.duration.ToNanoseconds() > 0
    # Task nodes' small inputs and outputs never touched storage: the propeller handed them to
    # the worker and took them back in memory, its events carried them inline, and the admin
    # keeps them in its database (n1, the map, and n3, the branch, are not task nodes).
    task_nodes = [n for n in nodes.node_executions if not (n.metadata.is_array or n.metadata.is_parent_node)]
    assert [n.id.node_id for n in task_nodes] == ["n0", "n2"]
    expected = {"n0": ({"n": 5}, {"o0": list(range(5))}), "n2": ({"xs": [0, 1, 4, 9, 16]}, {"o0": 30})}
    folder = sandbox.config.home / "storage" / "metadata" / "flytesnacks" / "development" / "executions" / "quick1"
    for node in task_nodes:
        node_id = node.id.node_id
        assert not (folder / "nodes" / node_id).exists()
        assert node.input_uri == "" and node.closure.output_uri == "" and node.closure.HasField("output_data")
        data = sandbox.admin.get_node_execution_data(node_execution_pb2.NodeExecutionGetDataRequest(id=node.id))
        inputs, outputs = (plain(m) for m in (data.full_inputs, data.full_outputs))
        assert (inputs, outputs) == expected[node_id]
        tasks = sandbox.admin.list_task_executions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node.id, limit=10)
        )
        [attempt] = tasks.task_executions
        assert attempt.closure.output_uri == "" and not (folder / "nodes" / node_id / "0").exists()
        data = sandbox.admin.get_task_execution_data(task_execution_pb2.TaskExecutionGetDataRequest(id=attempt.id))
        assert (plain(data.full_inputs), plain(data.full_outputs)) == expected[node_id]


def plain(literal_map: literals_pb2.LiteralMap) -> dict[str, object]:
    """Integers and lists of integers of a literal map, as Python values."""
    def value(literal: literals_pb2.Literal) -> object:
        if literal.HasField("collection"):
            return [value(item) for item in literal.collection.literals]
        return literal.scalar.primitive.integer

    return {name: value(literal) for name, literal in literal_map.literals.items()}


@pytest.mark.parametrize("size", [10, 70_000])
def test_task_data_goes_through_storage_only_when_large(sandbox: Sandbox, size: int) -> None:
    """Inputs and outputs above the hand-off limit (64 KiB) are files, as in Flyte: the node's
    inputs.pb and the attempt's outputs.pb, which the admin names; small ones are kept inline."""
    from tests.propeller import sandbox_tasks

    register(sandbox, sandbox_tasks.shouting)
    name = f"shout{size}"
    eid = launch(sandbox, sandbox_tasks.shouting, name, text="a" * size)
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"].scalar.primitive.string_value == "A" * size
    nodes = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, limit=10)
    )
    by_id = {n.id.node_id: n for n in nodes.node_executions}
    for node_id in ("n0", "n1"):
        node = by_id[node_id]
        if size > 65536:
            assert node.input_uri.endswith(f"/{name}/nodes/{node_id}/inputs.pb"), node.input_uri
            assert node.closure.output_uri.endswith(f"/{name}/nodes/{node_id}/0/outputs.pb"), node.closure.output_uri
        else:
            assert node.input_uri == "" and node.closure.output_uri == ""
        data = sandbox.admin.get_node_execution_data(node_execution_pb2.NodeExecutionGetDataRequest(id=node.id))
        text = "a" * size if node_id == "n0" else "A" * size
        assert data.full_inputs.literals["text"].scalar.primitive.string_value == text
        assert data.full_outputs.literals["o0"].scalar.primitive.string_value == "A" * size


def test_a_thousand_element_map_completes_on_the_local_backend(sandbox: Sandbox) -> None:
    register(sandbox, quickstart.wf)
    eid = launch(sandbox, quickstart.wf, "wide1", n=1000)
    execution = wait(sandbox, eid, timeout=300)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["total"].scalar.primitive.integer == sum(i * i for i in range(1000))
    # The elements are the external resources of the array node's task execution (as
    # FlytePropeller reports a map task's), not node executions of their own.
    children = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, unique_parent_id="n1", limit=2000)
    )
    assert not children.node_executions
    array = sandbox.admin.list_task_executions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n1", execution_id=eid), limit=10
        )
    ).task_executions
    assert len(array) == 1 and TaskExecutionPhase(array[0].closure.phase) == TaskExecutionPhase.SUCCEEDED
    assert array[0].closure.task_type == "container_array"
    resources = array[0].closure.metadata.external_resources
    assert sorted(r.index for r in resources) == list(range(1000))
    assert {TaskExecutionPhase(r.phase) for r in resources} == {TaskExecutionPhase.SUCCEEDED}
    assert {log.name for log in resources[0].logs} == {f"stdout-{resources[0].index}", f"stderr-{resources[0].index}"}


@pytest.mark.parametrize("n", [3, 1000])
def test_a_dynamic_fan_out_runs_its_sub_workflow(sandbox: Sandbox, n: int) -> None:
    from tests.propeller import fanout_tasks

    register(sandbox, fanout_tasks.dynamic_wf)
    eid = launch(sandbox, fanout_tasks.dynamic_wf, f"dyn{n}", n=n)
    execution = wait(sandbox, eid, timeout=300)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == sum(i * i for i in range(n))
    children = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, unique_parent_id="n0", limit=2000)
    )
    assert len(children.node_executions) == n + 1  # n squares and the sum


def test_served_sandbox_answers_grpc_and_shows_both_planes_metrics(tmp_path: Path) -> None:
    import urllib.request

    import grpc
    from flyteidl.service import admin_pb2_grpc

    box = Sandbox(SandboxConfig(home=tmp_path / "home", workers=1, grpc_port=0, http_port=0))
    try:
        servers = box.serve()
        register(box, quickstart.wf)
        stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(f"127.0.0.1:{servers.grpc_port}"))
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=quickstart.wf.name, version="v1"
        )
        eid = stub.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT, domain=DOMAIN, name="served1", spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                inputs=literals_pb2.LiteralMap(
                    literals={"n": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=3)))}
                ),
            ),
            timeout=30,
        ).id
        assert wait(box, eid).closure.phase == WorkflowExecutionPhase.SUCCEEDED
        text = urllib.request.urlopen(f"{servers.http_url}/metrics", timeout=10).read().decode()
        assert 'flytecore_admin_grpc_requests_total{code="OK",method="/flyteidl.service.AdminService/CreateExecution"} 1.0' in text
        assert "flytecore_propeller_acceptance_seconds_count 1.0" in text
        assert "flytecore_propeller_round_seconds_count" in text and "flytecore_propeller_free_workers 1.0" in text
    finally:
        box.stop()
