"""examples/failure_node.py: runs locally as a script (the handlers run, the workflows fail), and in
the sandbox, where the admin shows the failure nodes with the error the propeller gave them and
the handler tasks read it in worker processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.sdk.serialize import SerializationSettings, serialize_workflow
from flytecore.spec import idl
from flytecore.spec.phases import NodeExecutionPhase, WorkflowExecutionPhase
from tests.propeller.test_sandbox import DOMAIN, PROJECT, wait

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_runs_locally_and_prints_what_the_handlers_saw() -> None:
    proc = subprocess.run(
        [sys.executable, "failure_node.py"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    # wf1: subwf fails in t1, its clean_up runs, the error reaches wf1 (which has no handler).
    # wf2: t1 fails, wf2's clean_up runs. delete_cluster never runs.
    assert lines == [
        "Creating cluster: my_workflow",
        "Creating cluster: another_wf",
        "1 2",
        "Cleaning up cluster another_wf: task '__main__.t1' failed: ValueError: Fail!",
        "wf1 failed: task '__main__.t1' failed: ValueError: Fail!",
        "Creating cluster: my_workflow",
        "1 2",
        "Cleaning up cluster my_workflow: task '__main__.t1' failed: ValueError: Fail!",
        "wf2 failed: task '__main__.t1' failed: ValueError: Fail!",
    ]


# --- in the sandbox (worker processes, the admin's view) ----------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sys.path.insert(0, str(EXAMPLES))  # the workers inherit sys.path: they import the example
    try:
        with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)) as box:
            yield box
    finally:
        sys.path.remove(str(EXAMPLES))


def run_in(box: Sandbox, wf_name: str, execution: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Register the example's workflow ``wf_name`` (with its tasks and subworkflows) and launch
    its default launch plan with name="sandbox"."""
    import failure_node  # type: ignore[import-not-found]

    bundle = serialize_workflow(
        getattr(failure_node, wf_name), SerializationSettings(project=PROJECT, domain=DOMAIN, version="v1")
    )
    for t in bundle.tasks.values():
        box.admin.create_task(
            task_pb2.TaskCreateRequest(id=idl.to_idl(t.id), spec=task_pb2.TaskSpec(template=idl.to_idl(t)))
        )
    assert bundle.workflow is not None
    spec = workflow_pb2.WorkflowSpec(
        template=idl.to_idl(bundle.workflow),
        sub_workflows=[idl.to_idl(s) for s in bundle.sub_workflows.values()],
    )
    box.admin.create_workflow(
        workflow_pb2.WorkflowCreateRequest(id=idl.to_idl(bundle.workflow.id), spec=spec)
    )
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=bundle.workflow.id.name,
        version="v1",
    )
    name = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="sandbox"))
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=execution,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=literals_pb2.LiteralMap(literals={"name": name}),
    )
    return box.admin.create_execution(request).id


def node_inputs(
    box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier, node_id: str
) -> literals_pb2.LiteralMap:
    nid = identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=eid)
    return box.admin.get_node_execution_data(
        node_execution_pb2.NodeExecutionGetDataRequest(id=nid)
    ).full_inputs


def test_the_sandbox_runs_the_failure_node_and_the_admin_shows_it(sandbox: Sandbox) -> None:
    eid = run_in(sandbox, "wf2", "failnode1")
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.FAILED
    assert "Fail!" in execution.closure.error.message and "clean_up" not in execution.closure.error.message
    nodes = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, limit=100)
    )
    phases = {n.id.node_id: NodeExecutionPhase(n.closure.phase) for n in nodes.node_executions}
    # n0 create_cluster, n1 t1 (fails), n2 delete_cluster never starts; fn0 clean_up ran in a
    # worker and read err from its inputs.
    assert phases == {
        "n0": NodeExecutionPhase.SUCCEEDED,
        "n1": NodeExecutionPhase.FAILED,
        "fn0": NodeExecutionPhase.SUCCEEDED,
    }
    inputs = node_inputs(sandbox, eid, "fn0")
    assert inputs.literals["name"].scalar.primitive.string_value == "sandbox"
    error = inputs.literals["err"].scalar.union.value.scalar.error
    assert error.failed_node_id == "n1" and error.message == execution.closure.error.message


def test_a_failing_subworkflow_runs_its_failure_node_in_the_sandbox(sandbox: Sandbox) -> None:
    eid = run_in(sandbox, "wf1", "failnode2")
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.FAILED
    children = sandbox.admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=eid, unique_parent_id="n1", limit=100
        )
    )
    phases = {n.id.node_id: NodeExecutionPhase(n.closure.phase) for n in children.node_executions}
    assert phases["n1-0-fn0"] == NodeExecutionPhase.SUCCEEDED
    error = node_inputs(sandbox, eid, "n1-0-fn0").literals["err"].scalar.union.value.scalar.error
    assert error.failed_node_id == "n1-0-n1" and "Fail!" in error.message
    assert (
        node_inputs(sandbox, eid, "n1-0-fn0").literals["name"].scalar.primitive.string_value == "another_wf"
    )
