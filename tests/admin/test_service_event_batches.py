"""Admin service: ``create_events``, a batch of events applied in order in one transaction, with
each event judged as its own Create*Event call would judge it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import literals_pb2
from flyteidl.event import event_pb2
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from flytecore.admin.db import WriteTransaction, node_execution_key
from flytecore.admin.db import models as m
from flytecore.admin.service import (
    AdminService,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.errors import AbortedError
from flytecore.admin.service.events.rules import serialized
from flytecore.spec.identifiers import NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase as Node
from flytecore.spec.phases import TaskExecutionPhase as Task
from flytecore.spec.phases import WorkflowExecutionPhase as Wf
from tests.admin import test_service_events as events
from tests.admin.conftest import storage_files
from tests.admin.test_db_transaction_batch import count_statements, writes
from tests.admin.test_service_events import RUN, T0, at, node_id, outputs, task_id
from tests.admin.test_service_executions import DOMAIN, PROJECT, exec_id, integer, launch, text

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


# -- write-back: each record read once and written once per batch ------------------------------


def chain(run: str, tasks: int) -> list[Any]:
    """A chain of ``tasks`` tasks as the propeller reports it: 5 events per task on 2 records (its
    node execution QUEUED, RUNNING, SUCCEEDED; its task execution RUNNING, SUCCEEDED)."""
    requests: list[Any] = []
    for i in range(tasks):
        name, t = f"n{i}", 10 * i
        log = core_execution_pb2.TaskLog(name="stdout", uri=f"file:///log/{name}")
        requests += [
            node(name, Node.QUEUED, t + 1, run, spec_node_id=name, input_data=outputs(a=i)),
            node(name, Node.RUNNING, t + 2, run),
            task(name, Task.RUNNING, t + 3, run, logs=[log], reason="started"),
            task(name, Task.SUCCEEDED, t + 5, run, output_data=outputs(o0=i)),
            node(name, Node.SUCCEEDED, t + 6, run, output_data=outputs(o0=i)),
        ]
    return requests


# Where CreateExecution recorded an execution's inputs: by the limit when it was created, which
# for RUN (the `run` fixture's) is the default whatever a test sets after. Not the events' doing.
EXECUTION_INPUTS = {"inputs_uri", "user_inputs_uri", "inputs_data", "user_inputs_data"}


def rows(admin: AdminService, run: str) -> dict[str, list[dict[str, Any]]]:
    """Every column of the execution, node and task execution rows of ``run`` as stored, but the
    wall-clock times (when the rows were written) and the execution's inputs, with the run's
    name replaced."""

    def same_for_every_run(model: type[m.Base], column: str, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(run, "run-0")
        if isinstance(value, bytes):  # a closure: the run's name is in its URIs (same length)
            value = value.replace(run.encode(), b"run-0")
            if model is m.Execution and column == "closure":
                closure = execution_pb2.ExecutionClosure.FromString(value)
                closure.ClearField("created_at")  # when it was launched
                closure.ClearField("updated_at")  # the same, until a workflow event sets it
                return closure
        return value

    found = {}
    with admin.repo.engine.connect() as conn:
        for model in (m.Execution, m.NodeExecution, m.TaskExecution):
            table = m.table_of(model)
            of_run = (table.c.name if model is m.Execution else table.c.execution_name) == run
            found[model.__name__] = [
                {
                    column: same_for_every_run(model, column, value)
                    for column, value in row._mapping.items()
                    if column not in ("created_at", "updated_at")
                    and not (model is m.Execution and column in EXECUTION_INPUTS)
                }
                for row in conn.execute(select(table).where(of_run).order_by(*table.primary_key.columns))
            ]
    return found


@pytest.fixture
def no_fallback(run: AdminService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches must be applied in their one transaction: falling back to one by one fails."""

    def one_by_one(requests: Any) -> Any:
        raise AssertionError("the batch fell back to one event per transaction")

    monkeypatch.setattr(run, "_create_events_one_by_one", one_by_one)


def in_batches(admin: AdminService, requests: list[Any], size: int) -> list[BaseException | None]:
    return [
        outcome
        for i in range(0, len(requests), size)
        for outcome in admin.create_events(requests[i : i + size])
    ]


@pytest.mark.parametrize("limit", [64 * 1024, 0], ids=["inline", "offload"])
def test_batches_with_many_events_per_record_store_what_the_calls_one_by_one_store(
    run: AdminService, no_fallback: None, limit: int
) -> None:
    def events(run: str) -> list[Any]:
        return [
            wf(Wf.RUNNING, 0.5, run),
            *chain(run, 4),
            wf(Wf.SUCCEEDING, 50, run),
            wf(Wf.SUCCEEDED, 51, run, output_data=outputs(o0=8)),
        ]

    run.config = attrs.evolve(run.config, inline_data_bytes=limit)
    for name in ("run-2", "run-3"):
        launch(run, {"a": integer(1)}, name=name)
    assert run.create_events(events(RUN)) == [None] * 23  # all in one batch
    assert in_batches(run, events("run-2"), 7) == [None] * 23  # records created and updated across batches
    assert one_by_one(run, events("run-3")) == [None] * 23
    assert rows(run, RUN) == rows(run, "run-3")
    assert rows(run, "run-2") == rows(run, "run-3")
    stored = rows(run, RUN)
    assert [(n["phase"], n["duration"]) for n in stored["NodeExecution"]] == [(Node.SUCCEEDED, 4.0)] * 4
    assert [(t["phase"], t["logs"]) for t in stored["TaskExecution"]][0] == (
        Task.SUCCEEDED,
        [{"name": "stdout", "uri": "file:///log/n0"}],
    )
    assert stored["Execution"][0]["closure"].phase == Wf.SUCCEEDED
    # The small inline inputs and outputs kept in the rows (inline), or in files (offload).
    node_closure = node_execution_pb2.NodeExecutionClosure.FromString(stored["NodeExecution"][2]["closure"])
    if limit:
        assert [(n["input_data"], n["input_uri"], n["output_uri"]) for n in stored["NodeExecution"]] == [
            (serialized(outputs(a=i)), "", "") for i in range(4)
        ]
        assert [t["input_data"] for t in stored["TaskExecution"]] == [None] * 4  # the chain's tasks send none
        assert node_closure.output_data == outputs(o0=2)
    else:
        assert [n["input_data"] for n in stored["NodeExecution"]] == [None] * 4
        assert stored["NodeExecution"][2]["input_uri"].endswith("/executions/run-0/nodes/n2/inputs.pb")
        assert node_closure.output_uri.endswith("/executions/run-0/nodes/n2/outputs.pb")
    files = {name: event_files(run, name) for name in (RUN, "run-2", "run-3")}
    assert files[RUN] == files["run-2"] == files["run-3"]
    per_task = {f"nodes/n{i}/{name}" for i in range(4) for name in ("inputs.pb", "outputs.pb", "0/outputs.pb")}
    # The execution's outputs (always a file), and per task offloaded.
    assert set(files[RUN]) == {"outputs.pb"} | (set() if limit else per_task)


def run_folder(admin: AdminService, name: str) -> Path:
    return Path(admin.store.prefix) / f"metadata/{PROJECT}/{DOMAIN}/executions/{name}"


def event_files(admin: AdminService, name: str) -> dict[str, str]:
    """The files the events of execution ``name`` made: its folder's, CreateExecution's inputs
    (kept in the database unless a test's limit was set before it) aside."""
    return {
        path: digest for path, digest in storage_files(run_folder(admin, name)).items()
        if path not in ("inputs.pb", "user_inputs.pb")
    }  # fmt: skip


def text_of(size: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"s": text("x" * size)})


@pytest.mark.parametrize("limit", [64 * 1024, 1000, 0], ids=["inline", "mixed", "offload"])
def test_a_batch_keeps_or_offloads_inline_data_as_the_calls_one_by_one_do(
    run: AdminService, no_fallback: None, limit: int
) -> None:
    """Each map kept or offloaded by its own size (mixed: the small ones kept, the large ones
    offloaded), and the first inputs of a record winning within a batch, as one by one."""

    def events(name: str) -> list[Any]:
        small, large = outputs(a=1, b=3), text_of(2000)
        return [
            node("n0", Node.QUEUED, 1, name, input_data=small),
            node("n0", Node.RUNNING, 2, name, input_data=outputs(a=9)),  # not recorded: the first inputs win
            task("n0", Task.RUNNING, 3, name, input_data=small),
            task("n0", Task.SUCCEEDED, 4, name, output_data=large),
            node("n0", Node.SUCCEEDED, 5, name, output_data=large),
            node("n1", Node.QUEUED, 6, name, input_data=large),
            node("n1", Node.SUCCEEDED, 7, name, output_data=small),
        ]

    run.config = attrs.evolve(run.config, inline_data_bytes=limit)
    launch(run, {"a": integer(1)}, name="run-2")
    assert run.create_events(events(RUN)) == [None] * 7
    assert one_by_one(run, events("run-2")) == [None] * 7
    assert rows(run, RUN) == rows(run, "run-2")
    assert event_files(run, RUN) == event_files(run, "run-2")

    (n0, n1), (t0,) = rows(run, RUN)["NodeExecution"], rows(run, RUN)["TaskExecution"]
    small_kept, large_kept = limit > 0, limit > 2000
    assert (n0["input_data"], t0["input_data"]) == ((serialized(outputs(a=1, b=3)),) * 2 if small_kept else (None, None))
    assert n1["input_data"] == (serialized(text_of(2000)) if large_kept else None)
    assert sorted(event_files(run, RUN)) == sorted(
        (set() if small_kept else {"nodes/n0/inputs.pb", "nodes/n1/outputs.pb"})
        | (set() if large_kept else {"nodes/n0/outputs.pb", "nodes/n0/0/outputs.pb", "nodes/n1/inputs.pb"})
    )


@pytest.mark.parametrize("tasks", [1, 12])
def test_a_batch_reads_each_record_once_and_writes_it_once(
    run: AdminService, monkeypatch: pytest.MonkeyPatch, statements: list[str], no_fallback: None, tasks: int
) -> None:
    executed = count_statements(monkeypatch)  # on the driver's cursor, which `statements` does not see
    statements.clear()  # the ORM's (none here)
    launch(run, {"a": integer(1)}, name="run-2")
    statements.clear()
    assert run.create_events(chain(RUN, tasks)) == [None] * 5 * tasks
    assert Counter(writes(executed)) == {"SELECT": 2 * tasks, "INSERT": 2 * tasks}

    # Each task's records created in one batch and updated in the next.
    requests = chain("run-2", tasks)
    created = [r for i, r in enumerate(requests) if i % 5 < 3]
    executed.clear()
    assert run.create_events(created) == [None] * 3 * tasks
    assert Counter(writes(executed)) == {"SELECT": 2 * tasks, "INSERT": 2 * tasks}
    executed.clear()
    assert run.create_events([r for i, r in enumerate(requests) if i % 5 >= 3]) == [None] * 2 * tasks
    assert Counter(writes(executed)) == {"SELECT": 2 * tasks, "UPDATE": 2 * tasks}
    assert statements == []
    assert rows(run, RUN) == rows(run, "run-2")


def test_a_refused_event_in_the_middle_of_a_batch_leaves_its_record_as_it_was(
    run: AdminService, no_fallback: None
) -> None:
    def events(run: str) -> list[Any]:
        requests = chain(run, 2)
        requests.insert(2, node("n0", Node.QUEUED, 2.5, run))  # after RUNNING: FAILED_PRECONDITION
        requests.insert(4, task("n0", Task.RUNNING, 3.5, run, reason="again"))  # ALREADY_EXISTS
        requests.insert(7, node("n0", Node.RUNNING, 7, run))  # after SUCCEEDED: FAILED_PRECONDITION
        return requests

    launch(run, {"a": integer(1)}, name="run-2")
    outcomes = run.create_events(events(RUN))
    assert kinds(outcomes) == [
        None, None, FailedPreconditionError, None, AlreadyExistsError, None, None, FailedPreconditionError,
        *[None] * 5,
    ]  # fmt: skip
    assert kinds(outcomes) == kinds(one_by_one(run, events("run-2")))
    assert rows(run, RUN) == rows(run, "run-2")
    n0, t0 = rows(run, RUN)["NodeExecution"][0], rows(run, RUN)["TaskExecution"][0]
    assert (n0["phase"], n0["started_at"], n0["duration"]) == (
        Node.SUCCEEDED,
        T0 + dt.timedelta(seconds=2),
        4.0,
    )
    closure = task_execution_pb2.TaskExecutionClosure.FromString(t0["closure"])
    assert (t0["phase"], closure.reason) == (Task.SUCCEEDED, "started")


@pytest.mark.parametrize("writer", ["read before it", "concurrent"])
def test_a_record_another_writer_changed_after_the_batch_read_it_makes_the_batch_fall_back(
    run: AdminService, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The other writer records n0 RUNNING between the batch's read of n0 (QUEUED) and its write:
    the batch's conditional UPDATE finds n0 changed, the transaction rolls back, and the events are
    judged again one by one against what the other writer recorded."""
    if writer == "concurrent" and run.repo.engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the batch holds the write lock from its start; no other writer gets in")

    def later(run: str) -> list[Any]:
        return [
            node("n0", Node.RUNNING, 3, run),
            task("n0", Task.RUNNING, 4, run),
            task("n0", Task.SUCCEEDED, 5, run),
            node("n0", Node.SUCCEEDED, 6, run),
        ]

    launch(run, {"a": integer(1)}, name="run-2")
    for name in (RUN, "run-2"):
        assert run.create_events([node("n0", Node.QUEUED, 1, name)]) == [None]
    key = node_execution_key(
        NodeExecutionIdentifier(
            node_id="n0", execution_id=WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=RUN)
        )
    )
    other_writer = [node("n0", Node.RUNNING, 2, RUN)]
    real_select = WriteTransaction._select
    if writer == "read before it":  # as if the batch had read n0 before the other writer's commit
        with run.repo.transaction() as tx:
            as_read = tx.row(m.NodeExecution, key)
        assert one_by_one(run, other_writer) == [None]

    def select(self: WriteTransaction, model: type[m.Base], key_: dict[str, Any]) -> Any:
        if model is not m.NodeExecution or key_ != key or not other_writer:
            return real_select(self, model, key_)
        requests = other_writer[:]
        other_writer.clear()  # once: the batch's read
        if writer == "read before it":
            return as_read
        row = real_select(self, model, key_)
        assert one_by_one(run, requests) == [None]  # another transaction on another connection
        return row

    monkeypatch.setattr(WriteTransaction, "_select", select)
    real_transaction = run.repo.transaction
    opened: list[int] = []

    def transaction() -> Any:
        opened.append(1)
        return real_transaction()

    monkeypatch.setattr(run.repo, "transaction", transaction)
    outcomes = run.create_events(later(RUN))
    assert len(opened) > 1 and not other_writer  # it fell back to one by one
    expected = one_by_one(run, [node("n0", Node.RUNNING, 2, "run-2"), *later("run-2")])[1:]
    assert kinds(outcomes) == kinds(expected) == [AlreadyExistsError, None, None, None]
    assert rows(run, RUN) == rows(run, "run-2")
    n0 = rows(run, RUN)["NodeExecution"][0]
    assert (n0["phase"], n0["started_at"]) == (Node.SUCCEEDED, T0 + dt.timedelta(seconds=2))  # the other's
