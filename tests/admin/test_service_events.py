"""Admin service: workflow, node and task events with Flyte's phase-transition rules, on SQLite
and PostgreSQL, including two admins racing to record the same event."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2
from sqlalchemy import Engine

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import ConcurrentUpdate, Repository, make_engine, make_session_factory
from flytecore.admin.service import (
    AdminService,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.errors import AbortedError
from flytecore.admin.storage import MetadataStore
from flytecore.spec import WorkflowExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase as Node
from flytecore.spec.phases import TaskExecutionPhase as Task
from flytecore.spec.phases import WorkflowExecutionPhase as Wf
from tests.admin import test_service_executions as executions
from tests.admin.test_service_executions import (
    DOMAIN,
    PROJECT,
    RecordingLauncher,
    exec_id,
    integer,
    ints,
    launch,
)
from tests.admin.test_service_registration import add

# The execution tests' fixtures: an admin with a recording launcher and `pipeline` registered.
admin = executions.admin
launcher = executions.launcher

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
RUN = "run-1"


def at(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(T0 + dt.timedelta(seconds=seconds))
    return ts


def outputs(**values: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={k: integer(v) for k, v in values.items()})


def node_id(node: str, run: str = RUN) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=exec_id(run))


def task_id(node: str, attempt: int = 0, run: str = RUN) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=add.name, version="v1"
        ),
        node_execution_id=node_id(node, run),
        retry_attempt=attempt,
    )


def wf_event(admin: AdminService, phase: Wf, t: float, run: str = RUN, **kw: Any) -> None:
    event = event_pb2.WorkflowExecutionEvent(execution_id=exec_id(run), phase=int(phase), occurred_at=at(t), **kw)
    admin.create_workflow_event(admin_event_pb2.WorkflowExecutionEventRequest(request_id="r", event=event))


def node_event(admin: AdminService, node: str, phase: Node, t: float, run: str = RUN, **kw: Any) -> None:
    event = event_pb2.NodeExecutionEvent(id=node_id(node, run), phase=int(phase), occurred_at=at(t), **kw)
    admin.create_node_event(admin_event_pb2.NodeExecutionEventRequest(request_id="r", event=event))


def task_event(
    admin: AdminService, node: str, phase: Task, t: float, version: int = 0, attempt: int = 0, **kw: Any
) -> None:
    tid = task_id(node, attempt)
    event = event_pb2.TaskExecutionEvent(
        task_id=tid.task_id, parent_node_execution_id=tid.node_execution_id, retry_attempt=attempt,
        phase=int(phase), phase_version=version, occurred_at=at(t), **kw,
    )  # fmt: skip
    admin.create_task_event(admin_event_pb2.TaskExecutionEventRequest(request_id="r", event=event))


@pytest.fixture
def run(admin: AdminService) -> AdminService:
    """The admin with execution ``run-1`` of ``pipeline(a=1)`` created (QUEUED)."""
    launch(admin, {"a": integer(1)}, name=RUN)
    return admin


def test_happy_path_updates_execution_nodes_and_tasks_with_outputs_and_durations(run: AdminService) -> None:
    admin = run
    wf_event(admin, Wf.RUNNING, 1)
    node_event(admin, "n0", Node.QUEUED, 2, spec_node_id="n0", input_data=outputs(a=1, b=3))
    node_event(admin, "n0", Node.RUNNING, 3)
    task_event(admin, "n0", Task.QUEUED, 3)
    task_event(admin, "n0", Task.RUNNING, 4, logs=[core_execution_pb2.TaskLog(name="stdout", uri="file:///log/1")])
    task_event(
        admin, "n0", Task.RUNNING, 5, version=1, reason="still going",
        logs=[core_execution_pb2.TaskLog(name="stdout", uri="file:///log/1"),
              core_execution_pb2.TaskLog(name="stderr", uri="file:///log/2")],
    )  # fmt: skip
    task_event(admin, "n0", Task.SUCCEEDED, 7, output_data=outputs(o0=4))
    node_event(admin, "n0", Node.SUCCEEDED, 8, output_data=outputs(o0=4))
    wf_event(admin, Wf.SUCCEEDING, 9)
    wf_event(admin, Wf.SUCCEEDED, 11, output_data=outputs(o0=8))

    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN)))
    closure = execution.closure
    assert closure.phase == Wf.SUCCEEDED
    assert closure.started_at.ToDatetime(tzinfo=dt.UTC) == T0 + dt.timedelta(seconds=1)
    assert closure.duration.ToTimedelta() == dt.timedelta(seconds=10)
    assert closure.outputs.uri.endswith(f"/executions/{RUN}/outputs.pb")
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id(RUN)))
    assert ints(data.full_outputs) == {"o0": 8} and ints(data.full_inputs) == {"a": 1, "b": 3}

    [node] = admin.list_node_executions(node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(RUN))).node_executions
    assert node.id.node_id == "n0" and node.closure.phase == Node.SUCCEEDED
    assert node.closure.duration.ToTimedelta() == dt.timedelta(seconds=5)
    assert node.metadata.spec_node_id == "n0"
    node_data = admin.get_node_execution_data(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id("n0")))
    assert ints(node_data.full_inputs) == {"a": 1, "b": 3} and ints(node_data.full_outputs) == {"o0": 4}

    [attempt] = admin.list_task_executions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id("n0"))
    ).task_executions
    assert attempt.id.retry_attempt == 0 and attempt.closure.phase == Task.SUCCEEDED
    assert attempt.closure.duration.ToTimedelta() == dt.timedelta(seconds=3)
    assert [(log.name, log.uri) for log in attempt.closure.logs] == [("stdout", "file:///log/1"), ("stderr", "file:///log/2")]
    assert attempt.closure.reason == "still going"
    got = admin.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0")))
    # Small inline outputs stay in the closure (the inline event data policy, test_service_event_data).
    assert got.closure.output_uri == "" and ints(got.closure.output_data) == {"o0": 4}
    task_data = admin.get_task_execution_data(task_execution_pb2.TaskExecutionGetDataRequest(id=task_id("n0")))
    assert ints(task_data.full_outputs) == {"o0": 4}


def test_a_failure_records_the_error(run: AdminService) -> None:
    error = core_execution_pb2.ExecutionError(code="USER:ValueError", message="bad", kind=core_execution_pb2.ExecutionError.USER)
    wf_event(run, Wf.RUNNING, 1)
    node_event(run, "n0", Node.RUNNING, 2)
    node_event(run, "n0", Node.FAILED, 4, error=error)
    wf_event(run, Wf.FAILED, 5, error=error)
    execution = run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN)))
    assert execution.closure.error.code == "USER:ValueError"
    node = run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0")))
    assert node.closure.error.message == "bad" and node.closure.duration.ToTimedelta() == dt.timedelta(seconds=2)
    row = run.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=RUN))
    assert row.error == {"code": "USER:ValueError", "message": "bad", "error_uri": "", "kind": "USER"}


@pytest.mark.parametrize(
    ("history", "event", "error", "message"),
    [
        ([Wf.RUNNING], Wf.RUNNING, AlreadyExistsError, "phase RUNNING was already recorded"),
        ([], Wf.QUEUED, AlreadyExistsError, "phase QUEUED was already recorded"),
        ([Wf.RUNNING, Wf.SUCCEEDED], Wf.FAILED, FailedPreconditionError, r"already ended \(SUCCEEDED\)"),
        ([Wf.RUNNING, Wf.ABORTED], Wf.RUNNING, FailedPreconditionError, r"already ended \(ABORTED\)"),
        ([Wf.RUNNING], Wf.QUEUED, FailedPreconditionError, "cannot go back to QUEUED"),
        ([Wf.RUNNING, Wf.FAILING], Wf.QUEUED, FailedPreconditionError, "cannot go back to QUEUED"),
        ([Wf.ABORTING], Wf.RUNNING, FailedPreconditionError, "only a terminal phase may follow"),
        ([], Wf.UNDEFINED, InvalidArgumentError, "has no phase"),
    ],
)
def test_workflow_event_rules(
    run: AdminService, history: list[Wf], event: Wf, error: type[Exception], message: str
) -> None:
    for t, phase in enumerate(history):
        wf_event(run, phase, t)
    before = run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN)))
    with pytest.raises(error, match=message):
        wf_event(run, event, 50)
    assert run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN))) == before


@pytest.mark.parametrize(
    ("history", "event", "error", "message"),
    [
        ([Node.QUEUED], Node.QUEUED, AlreadyExistsError, "phase QUEUED was already recorded"),
        ([Node.RUNNING, Node.SUCCEEDED], Node.RUNNING, FailedPreconditionError, r"already ended \(SUCCEEDED\)"),
        ([Node.SKIPPED], Node.RUNNING, FailedPreconditionError, r"already ended \(SKIPPED\)"),
        ([Node.QUEUED, Node.RUNNING], Node.QUEUED, FailedPreconditionError, "cannot go back to QUEUED"),
    ],
)
def test_node_event_rules(
    run: AdminService, history: list[Node], event: Node, error: type[Exception], message: str
) -> None:
    for t, phase in enumerate(history):
        node_event(run, "n0", phase, t)
    before = run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0")))
    with pytest.raises(error, match=message):
        node_event(run, "n0", event, 50)
    assert run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0"))) == before


@pytest.mark.parametrize(
    ("history", "event", "error", "message"),
    [
        ([(Task.RUNNING, 2)], (Task.RUNNING, 1), AlreadyExistsError, r"RUNNING version 1 was already recorded \(recorded version: 2\)"),
        ([(Task.RUNNING, 2)], (Task.RUNNING, 2), AlreadyExistsError, "version 2 was already recorded"),
        ([(Task.RUNNING, 0), (Task.SUCCEEDED, 0)], (Task.SUCCEEDED, 1), FailedPreconditionError, r"already ended \(SUCCEEDED\)"),
        ([(Task.RUNNING, 0), (Task.FAILED, 0)], (Task.RUNNING, 3), FailedPreconditionError, r"already ended \(FAILED\)"),
        ([(Task.RUNNING, 0)], (Task.QUEUED, 5), FailedPreconditionError, "cannot go back to QUEUED"),
    ],
)
def test_task_event_rules_order_by_phase_version(
    run: AdminService, history: list[tuple[Task, int]], event: tuple[Task, int], error: type[Exception], message: str
) -> None:
    node_event(run, "n0", Node.RUNNING, 0)
    for t, (phase, version) in enumerate(history):
        task_event(run, "n0", phase, t, version=version)
    before = run.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0")))
    with pytest.raises(error, match=message):
        task_event(run, "n0", event[0], 50, version=event[1])
    assert run.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0"))) == before


def test_a_newer_phase_version_is_applied(run: AdminService) -> None:
    node_event(run, "n0", Node.RUNNING, 0)
    task_event(run, "n0", Task.QUEUED, 0)
    task_event(run, "n0", Task.QUEUED, 1, version=1, reason="waiting for a worker")
    got = run.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0")))
    assert got.closure.reason == "waiting for a worker"


def test_a_maps_elements_are_merged_into_its_task_execution_by_index_and_attempt(run: AdminService) -> None:
    """As FlytePropeller reports a map task's elements: external resources of the array node's
    task execution, a newer report of an element attempt replacing the older one."""

    def element(index: int, phase: Task, attempt: int = 0, logs: bool = False) -> event_pb2.ExternalResourceInfo:
        links = [core_execution_pb2.TaskLog(name=f"stdout-{index}", uri=f"/logs/{index}/{attempt}")] if logs else []
        return event_pb2.ExternalResourceInfo(
            external_id=f"x-n{index}-{attempt}", index=index, retry_attempt=attempt, phase=int(phase), logs=links
        )

    def report(version: int, *elements: event_pb2.ExternalResourceInfo, phase: Task = Task.RUNNING) -> None:
        metadata = event_pb2.TaskExecutionMetadata(external_resources=elements, plugin_identifier="k8s-array")
        task_event(run, "n0", phase, version, version=version, metadata=metadata, task_type="container_array")

    node_event(run, "n0", Node.RUNNING, 0)
    report(0, element(0, Task.QUEUED, logs=True), element(1, Task.QUEUED, logs=True))
    report(1, element(1, Task.FAILED), element(1, Task.QUEUED, attempt=1, logs=True))
    report(2, element(0, Task.SUCCEEDED), element(1, Task.SUCCEEDED, attempt=1), phase=Task.SUCCEEDED)
    got = run.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0")))
    assert got.closure.task_type == "container_array" and got.closure.metadata.plugin_identifier == "k8s-array"
    merged = {(r.index, r.retry_attempt): r for r in got.closure.metadata.external_resources}
    assert {k: Task(r.phase) for k, r in merged.items()} == {
        (0, 0): Task.SUCCEEDED, (1, 0): Task.FAILED, (1, 1): Task.SUCCEEDED,
    }
    # Logs reported once stay when later reports of the same attempt carry none.
    assert [log.uri for log in merged[(0, 0)].logs] == ["/logs/0/0"]
    assert [log.uri for log in merged[(1, 1)].logs] == ["/logs/1/1"]


def test_events_for_unknown_records_are_not_found(run: AdminService) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        wf_event(run, Wf.RUNNING, 1, run="ghost")
    with pytest.raises(NotFoundError, match="ghost"):
        node_event(run, "n0", Node.RUNNING, 1, run="ghost")
    with pytest.raises(NotFoundError, match="node n9"):
        task_event(run, "n9", Task.RUNNING, 1)


def test_nested_nodes_are_listed_under_their_parent(run: AdminService) -> None:
    node_event(run, "n0", Node.RUNNING, 1, is_parent=True)
    parent = event_pb2.ParentNodeExecutionMetadata(node_id="n0")
    for child in ("n0-0-n0", "n0-0-n1"):
        node_event(run, child, Node.QUEUED, 2, parent_node_metadata=parent, retry_group="0", spec_node_id=child[-2:])

    def listed(**kw: Any) -> list[str]:
        request = node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(RUN), **kw)
        return [n.id.node_id for n in run.list_node_executions(request).node_executions]

    assert listed() == ["n0"]
    assert listed(unique_parent_id="n0") == ["n0-0-n0", "n0-0-n1"]
    assert listed(unique_parent_id="n0", limit=1, filters="eq(spec_node_id,n1)") == ["n0-0-n1"]
    child = run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0-0-n1")))
    assert child.metadata.retry_group == "0" and child.metadata.spec_node_id == "n1"
    assert run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0"))).metadata.is_parent_node
    with pytest.raises(NotFoundError):
        listed(unique_parent_id="nope")


def test_a_child_execution_records_the_node_that_launched_it(run: AdminService) -> None:
    spec = execution_pb2.ExecutionSpec(launch_plan=identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name="pipeline_b_fixed", version="v1"))  # fmt: skip
    spec.metadata.mode = execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
    spec.metadata.parent_node_execution.CopyFrom(node_id("n1"))
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, name="child", spec=spec, inputs=outputs(a=3)
    )
    with pytest.raises(NotFoundError, match="node n1"):
        run.create_execution(request)  # the launching node must be recorded first
    node_event(run, "n1", Node.RUNNING, 1)
    run.create_execution(request)
    child = run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("child")))
    assert child.spec.metadata.nesting == 1 and child.spec.metadata.parent_node_execution.node_id == "n1"
    node_event(run, "n1", Node.SUCCEEDED, 2, workflow_node_metadata=event_pb2.WorkflowNodeMetadata(execution_id=exec_id("child")))
    node = run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n1")))
    assert node.closure.workflow_node_metadata.executionId.name == "child"  # flyteidl's spelling
    row = run.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="child"))
    assert (row.parent_node_execution_name, row.parent_node_execution_node_id) == (RUN, "n1")


# --- concurrency -----------------------------------------------------------------------------------


@pytest.fixture
def second_admin(run: AdminService, engine: Engine, tmp_path: Path) -> Iterator[AdminService]:
    """Another admin on its own engine (own connection pool) over the same database and storage."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    service = AdminService(
        Repository(make_session_factory(other)), MetadataStore(str(tmp_path / "store")), AdminConfig(db_url="unused")
    )
    service.launcher = RecordingLauncher()
    yield service
    other.dispose()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same instant; each one's result or exception."""
    barrier = threading.Barrier(len(calls))

    def call(fn: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return fn()
        except Exception as exc:  # the test counts who won
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(call, calls))


def test_racing_duplicate_events_exactly_one_wins(run: AdminService, second_admin: AdminService) -> None:
    admins = (run, second_admin)
    steps: list[Callable[[AdminService, int], None]] = []
    for i in range(6):
        steps.append(lambda a, t, n=f"n{i}": node_event(a, n, Node.QUEUED, t))  # the first event creates it
        steps.append(lambda a, t, n=f"n{i}": node_event(a, n, Node.RUNNING, t))
        steps.append(lambda a, t, n=f"n{i}": task_event(a, n, Task.RUNNING, t))  # the first event creates it
        steps.append(lambda a, t, n=f"n{i}": task_event(a, n, Task.SUCCEEDED, t, output_data=outputs(o0=1)))
    steps.append(lambda a, t: wf_event(a, Wf.RUNNING, t))
    steps.append(lambda a, t: wf_event(a, Wf.SUCCEEDED, t, output_data=outputs(o0=1)))
    for t, step in enumerate(steps):
        results = race(*(lambda a=a, step=step, t=t: step(a, t) for a in admins))
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, AlreadyExistsError) for r in results if r is not None), results
    nodes = run.list_node_executions(node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(RUN)))
    assert len(nodes.node_executions) == 6
    assert run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN))).closure.phase == Wf.SUCCEEDED


def test_an_event_that_loses_a_race_is_judged_again(run: AdminService, second_admin: AdminService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministically: another admin records SUCCEEDED between this admin's read and write."""
    wf_event(run, Wf.RUNNING, 1)
    real_update = run.repo.update_execution
    interfered = []

    def update_after_a_rival(*args: Any, **kw: Any) -> Any:
        if not interfered:
            interfered.append(True)
            wf_event(second_admin, Wf.SUCCEEDED, 3)
        return real_update(*args, **kw)

    monkeypatch.setattr(run.repo, "update_execution", update_after_a_rival)
    with pytest.raises(FailedPreconditionError, match=r"already ended \(SUCCEEDED\)"):
        wf_event(run, Wf.FAILED, 2)
    assert run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN))).closure.phase == Wf.SUCCEEDED


def test_an_event_that_keeps_losing_is_aborted(run: AdminService, monkeypatch: pytest.MonkeyPatch) -> None:
    def always_conflicts(*args: Any, **kw: Any) -> Any:
        raise ConcurrentUpdate("execution", RUN, {"phase": 1})

    monkeypatch.setattr(run.repo, "update_execution", always_conflicts)
    with pytest.raises(AbortedError, match="kept changing"):
        wf_event(run, Wf.RUNNING, 1)
