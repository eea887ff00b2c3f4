"""Admin service: ``create_events``, a batch of events applied in order in one transaction, with
each event judged as its own Create*Event call would judge it (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.event import event_pb2
from sqlalchemy.exc import OperationalError

from flytecore.admin.db import WriteTransaction
from flytecore.admin.service import (
    AdminService,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.errors import AbortedError
from flytecore.spec.phases import NodeExecutionPhase as Node
from flytecore.spec.phases import TaskExecutionPhase as Task
from flytecore.spec.phases import WorkflowExecutionPhase as Wf
from tests.admin import test_service_events as events
from tests.admin.test_service_events import RUN, at, node_id, outputs, task_id
from tests.admin.test_service_executions import exec_id, integer, launch

admin = events.admin
launcher = events.launcher


@pytest.fixture
def run(admin: AdminService) -> AdminService:
    """The admin with execution ``run-1`` created (QUEUED)."""
    launch(admin, {"a": integer(1)}, name=RUN)
    return admin


def wf(phase: Wf, t: float, run: str = RUN, **kw: Any) -> admin_event_pb2.WorkflowExecutionEventRequest:
    event = event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id(run), phase=int(phase), occurred_at=at(t), **kw
    )
    return admin_event_pb2.WorkflowExecutionEventRequest(request_id="r", event=event)


def node(
    name: str, phase: Node | int, t: float, run: str = RUN, **kw: Any
) -> admin_event_pb2.NodeExecutionEventRequest:
    event = event_pb2.NodeExecutionEvent(id=node_id(name, run), phase=int(phase), occurred_at=at(t), **kw)
    return admin_event_pb2.NodeExecutionEventRequest(request_id="r", event=event)


def task(
    name: str, phase: Task, t: float, run: str = RUN, version: int = 0, **kw: Any
) -> admin_event_pb2.TaskExecutionEventRequest:
    tid = task_id(name, 0, run)
    event = event_pb2.TaskExecutionEvent(
        task_id=tid.task_id, parent_node_execution_id=tid.node_execution_id, phase=int(phase),
        phase_version=version, occurred_at=at(t), **kw,
    )  # fmt: skip
    return admin_event_pb2.TaskExecutionEventRequest(request_id="r", event=event)


def one_by_one(admin: AdminService, requests: list[Any]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = []
    calls = {
        admin_event_pb2.WorkflowExecutionEventRequest: admin.create_workflow_event,
        admin_event_pb2.NodeExecutionEventRequest: admin.create_node_event,
        admin_event_pb2.TaskExecutionEventRequest: admin.create_task_event,
    }
    for request in requests:
        try:
            calls[type(request)](request)
            outcomes.append(None)
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def a_run_of_events(run: str) -> list[Any]:
    return [
        wf(Wf.RUNNING, 1, run),
        node("n0", Node.QUEUED, 2, run, spec_node_id="n0", input_data=outputs(a=1, b=3)),
        node("n0", Node.RUNNING, 3, run),
        task("n0", Task.QUEUED, 3, run),
        task("n0", Task.RUNNING, 4, run),
        task("n0", Task.RUNNING, 5, run, version=1, reason="still going"),
        task("n0", Task.SUCCEEDED, 7, run, output_data=outputs(o0=4)),
        node("n0", Node.SUCCEEDED, 8, run, output_data=outputs(o0=4)),
        wf(Wf.SUCCEEDING, 9, run),
        wf(Wf.SUCCEEDED, 11, run, output_data=outputs(o0=8)),
    ]


def stored(admin: AdminService, run: str) -> tuple[Any, Any, Any]:
    """What the events recorded, without the ids and URIs that name the run."""
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(run))).closure
    nodes = admin.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(run))
    )
    tasks = admin.list_task_executions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id("n0", run))
    )
    n, t = nodes.node_executions[0].closure, tasks.task_executions[0].closure
    for closure in (execution, n, t):
        closure.ClearField("created_at")  # the execution's is when it was created, not an event time
    execution.outputs.ClearField("uri")
    n.ClearField("output_uri")
    t.ClearField("output_uri")
    return execution, n, t


def test_a_batch_records_what_the_calls_one_by_one_record_in_order(run: AdminService) -> None:
    launch(run, {"a": integer(1)}, name="run-2")
    assert run.create_events(a_run_of_events(RUN)) == [None] * 10
    assert one_by_one(run, a_run_of_events("run-2")) == [None] * 10
    assert stored(run, RUN) == stored(run, "run-2")
    execution, node_closure, task_closure = stored(run, RUN)
    assert execution.phase == Wf.SUCCEEDED and node_closure.phase == Node.SUCCEEDED
    assert task_closure.phase == Task.SUCCEEDED and task_closure.reason == "still going"


def mixed_events(run: str) -> list[Any]:
    return [
        node("n0", Node.QUEUED, 1, run),
        node("n0", Node.QUEUED, 2, run),  # again: ALREADY_EXISTS
        node("n0", Node.RUNNING, 3, run),
        node("n0", Node.QUEUED, 4, run),  # back to QUEUED: FAILED_PRECONDITION
        node("n0", 99, 5, run),  # no such phase: INVALID_ARGUMENT
        task("nx", Task.QUEUED, 5, run),  # its node execution does not exist: NOT_FOUND
        node("n0", Node.SUCCEEDED, 6, run),
        node("n0", Node.RUNNING, 7, run),  # after the end: FAILED_PRECONDITION
        node("n1", Node.QUEUED, 8, run),
    ]


def kinds(outcomes: list[BaseException | None]) -> list[type | None]:
    return [None if outcome is None else type(outcome) for outcome in outcomes]


def test_refused_events_in_a_batch_are_reported_and_undo_nothing(run: AdminService) -> None:
    launch(run, {"a": integer(1)}, name="run-2")
    outcomes = run.create_events(mixed_events(RUN))
    assert kinds(outcomes) == [
        None, AlreadyExistsError, None, FailedPreconditionError, InvalidArgumentError, NotFoundError, None,
        FailedPreconditionError, None,
    ]  # fmt: skip
    assert kinds(outcomes) == kinds(one_by_one(run, mixed_events("run-2")))
    assert "already ended" in str(outcomes[7])
    nodes = run.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(RUN))
    )
    assert {n.id.node_id: n.closure.phase for n in nodes.node_executions} == {
        "n0": Node.SUCCEEDED,
        "n1": Node.QUEUED,
    }


def test_an_event_for_an_unknown_execution_is_not_found_in_a_batch(run: AdminService) -> None:
    outcomes = run.create_events([wf(Wf.RUNNING, 1, "nope"), wf(Wf.RUNNING, 1)])
    assert isinstance(outcomes[0], NotFoundError) and "nope" in str(outcomes[0])
    assert outcomes[1] is None


def test_a_failing_database_stops_the_batch_at_that_event(
    run: AdminService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = WriteTransaction.insert

    def insert(self: WriteTransaction, model: Any, values: Any) -> None:
        if values.get("node_id") == "n1":
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        real_insert(self, model, values)

    monkeypatch.setattr(WriteTransaction, "insert", insert)
    requests = [
        node("n0", Node.QUEUED, 1),
        node("n0", Node.RUNNING, 2),
        node("n1", Node.QUEUED, 3),
        node("n2", Node.QUEUED, 4),
    ]
    outcomes = run.create_events(requests)
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], OperationalError)
    assert isinstance(outcomes[3], AbortedError) and "not applied" in str(outcomes[3])
    nodes = run.list_node_executions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(RUN))
    )
    assert {n.id.node_id: n.closure.phase for n in nodes.node_executions} == {"n0": Node.RUNNING}


def test_a_batch_that_is_not_events_is_refused_per_request(run: AdminService) -> None:
    outcomes = run.create_events([execution_pb2.WorkflowExecutionGetRequest(), node("n0", Node.QUEUED, 1)])
    assert isinstance(outcomes[0], InvalidArgumentError) and outcomes[1] is None


def test_refusals_are_judged_before_writing_so_the_batch_stays_one_transaction(
    run: AdminService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = run.repo.transaction
    opened: list[int] = []

    def transaction() -> Any:
        opened.append(1)
        return real()

    monkeypatch.setattr(run.repo, "transaction", transaction)
    requests = [
        node("n0", Node.QUEUED, 1),
        node("n0", Node.QUEUED, 2),
        node("n0", Node.RUNNING, 3),
        wf(Wf.QUEUED, 4),
    ]
    assert kinds(run.create_events(requests)) == [None, AlreadyExistsError, None, AlreadyExistsError]
    assert len(opened) == 1
