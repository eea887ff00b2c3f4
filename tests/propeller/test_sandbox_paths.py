"""Sandbox paths with real worker processes: a worker crash retried as a system failure, task
logs captured to storage, a launch plan node's child execution, termination mid-run, and
events held back while the admin refuses them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.propeller.sink import DeliveryFailed
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec import idl
from flytecore.spec.phases import NodeExecutionPhase, WorkflowExecutionPhase
from tests.propeller import sandbox_tasks
from tests.propeller.test_sandbox import DOMAIN, PROJECT, register, wait


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)) as box:
        yield box


@pytest.fixture
def inline_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """Events delivered by the propeller's loop, not by the event process."""
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2, event_process=False)) as box:
        assert box.events is None
        yield box


def literal(value: object) -> literals_pb2.Literal:
    primitive = (
        literals_pb2.Primitive(string_value=value) if isinstance(value, str)
        else literals_pb2.Primitive(float_value=value) if isinstance(value, float)
        else literals_pb2.Primitive(integer=value)  # type: ignore[arg-type]
    )
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def start(box: Sandbox, lp_name: str, name: str, **inputs: object) -> identifier_pb2.WorkflowExecutionIdentifier:
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=lp_name, version="v1"
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, name=name, spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=literals_pb2.LiteralMap(literals={k: literal(v) for k, v in inputs.items()}),
    )
    return box.admin.create_execution(request).id


def node_executions(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, object]:
    found = box.admin.list_node_executions(node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, limit=100))
    return {n.id.node_id: n for n in found.node_executions}


def attempts(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier, node_id: str) -> list[task_execution_pb2.TaskExecution]:
    node = identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=eid)
    found = box.admin.list_task_executions(task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=10))
    return sorted(found.task_executions, key=lambda t: t.id.retry_attempt)


def test_a_worker_crash_is_a_system_failure_retried_on_a_new_worker(sandbox: Sandbox, tmp_path: Path) -> None:
    register(sandbox, sandbox_tasks.crashy)
    eid = start(sandbox, sandbox_tasks.crashy.name, "crash1", marker=str(tmp_path / "crashed"), x=4)
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    tries = attempts(sandbox, eid, "n0")
    assert [t.id.retry_attempt for t in tries] == [0, 1]
    assert tries[0].closure.error.kind == 2  # SYSTEM
    assert tries[0].closure.error.message.startswith("worker process ")
    assert "exited with code 3 while running job" in tries[0].closure.error.message
    assert sandbox.pool.size == 2


def test_task_stdout_and_stderr_are_captured_to_storage(sandbox: Sandbox) -> None:
    register(sandbox, sandbox_tasks.talk)
    eid = start(sandbox, sandbox_tasks.talk.name, "talk1", x=7)
    assert wait(sandbox, eid).closure.phase == WorkflowExecutionPhase.SUCCEEDED
    (attempt,) = attempts(sandbox, eid, "n0")
    logs = {log.name: log.uri for log in attempt.closure.logs}
    assert set(logs) == {"stdout", "stderr"}
    assert Path(logs["stdout"]).read_text() == "hello from stdout 7\nraw fd write\n"
    assert Path(logs["stderr"]).read_text() == "hello from stderr 7\n"


def test_a_launch_plan_node_runs_a_child_execution(sandbox: Sandbox) -> None:
    register(sandbox, sandbox_tasks.child)
    spec = sandbox_tasks.child_lp.to_spec(SerializationSettings(version="v1"))
    sandbox.admin.create_launch_plan(launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(spec.id), spec=idl.to_idl(spec.spec)))
    register(sandbox, sandbox_tasks.parent)
    eid = start(sandbox, sandbox_tasks.parent.name, "parent1", x=5)
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 20
    lp_node = node_executions(sandbox, eid)["n0"]
    child_id = lp_node.closure.workflow_node_metadata.executionId
    assert child_id.name
    child = sandbox.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=child_id))
    assert child.closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert child.spec.metadata.parent_node_execution.node_id == "n0"


def test_terminating_a_running_execution_aborts_its_task(sandbox: Sandbox, tmp_path: Path) -> None:
    register(sandbox, sandbox_tasks.sleepy)
    marker = tmp_path / "started"
    eid = start(sandbox, sandbox_tasks.sleepy.name, "sleepy1", marker=str(marker), seconds=60.0)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    sandbox.admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=eid, cause="stop it"))
    execution = wait(sandbox, eid, timeout=30)
    assert execution.closure.phase == WorkflowExecutionPhase.ABORTED
    assert NodeExecutionPhase(node_executions(sandbox, eid)["n0"].closure.phase) == NodeExecutionPhase.ABORTED
    deadline = time.monotonic() + 30
    while sandbox.pool.free_workers < 2:  # the sleeping worker was killed and replaced
        assert time.monotonic() < deadline, "the aborted task's worker was not freed"
        time.sleep(0.05)


def test_the_admin_hears_of_a_running_task_while_it_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    """While tasks run, the loop delivers events at most every DELIVERY_INTERVAL instead of at
    once: they still reach the admin while the task runs, not when it ends."""
    register(sandbox, sandbox_tasks.sleepy)
    marker = tmp_path / "started"
    eid = start(sandbox, sandbox_tasks.sleepy.name, "sleepy2", marker=str(marker), seconds=60.0)
    deadline = time.monotonic() + 60
    while not (marker.exists() and node_executions(sandbox, eid).get("n0") is not None
               and NodeExecutionPhase(node_executions(sandbox, eid)["n0"].closure.phase) == NodeExecutionPhase.RUNNING):
        assert time.monotonic() < deadline, "the admin never saw the running task"
        time.sleep(0.05)
    assert sandbox.pool.running == 1  # still running: the events came while it ran
    sandbox.admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=eid, cause="done looking"))
    assert wait(sandbox, eid, timeout=30).closure.phase == WorkflowExecutionPhase.ABORTED


def test_events_wait_in_the_outbox_while_the_admin_refuses_them(inline_sandbox: Sandbox) -> None:
    sandbox = inline_sandbox
    register(sandbox, sandbox_tasks.talk)
    sink = sandbox.propeller.sink
    real = sink.deliver
    refused: list[object] = []

    def down(event: object) -> None:
        refused.append(event)
        raise DeliveryFailed("admin unavailable")

    sink.deliver = down  # type: ignore[method-assign]
    eid = start(sandbox, sandbox_tasks.talk.name, "outbox1", x=1)
    deadline = time.monotonic() + 60
    while len(sandbox.store.pending_events(100)) < 5:  # the run finishes; its events wait
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert refused, "delivery was attempted"
    assert sandbox.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid)).closure.phase == WorkflowExecutionPhase.QUEUED
    sink.deliver = real  # type: ignore[method-assign]
    sandbox.propeller.kick()
    execution = wait(sandbox, eid)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert NodeExecutionPhase(node_executions(sandbox, eid)["n0"].closure.phase) == NodeExecutionPhase.SUCCEEDED


def test_the_loop_asks_the_store_what_is_due_only_when_that_may_have_changed(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain's loop passes twice per task; what is due in the store changes only when this
    process launches, releases or wakes something (or another process writes, seen within
    STORE_RECHECK, here an hour): the store's earliest due time is read a few times for the
    whole chain, not at every pass."""
    from flytecore.propeller import runner

    monkeypatch.setattr(runner, "STORE_RECHECK", 3600.0)
    reads: list[float | None] = []
    next_due_at = sandbox.store.next_due_at

    def counted() -> float | None:
        reads.append(next_due_at())
        return reads[-1]

    monkeypatch.setattr(sandbox.store, "next_due_at", counted)
    register(sandbox, sandbox_tasks.doubling)
    eid = start(sandbox, sandbox_tasks.doubling.name, "doubling1", x=1)
    execution = wait(sandbox, eid, timeout=60)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert sandbox.admin.get_execution_data(
        execution_pb2.WorkflowExecutionGetDataRequest(id=eid)
    ).full_outputs.literals["o0"].scalar.primitive.integer == 2**30
    assert len(reads) < 10, f"{len(reads)} reads for a chain of 30 tasks"
