"""Executions, node executions and task executions in the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from flytecore.admin.db import (
    AlreadyExists,
    ConcurrentUpdate,
    InvalidFilter,
    NotFound,
    Repository,
    Sort,
    SortDirection,
)
from flytecore.spec import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
    WorkflowExecutionPhase,
)
from tests.admin.conftest import columns, execution, node_execution, task_execution

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def xid(name: str = "exec1") -> WorkflowExecutionIdentifier:
    return WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)


def nid(node_id: str = "n0", name: str = "exec1") -> NodeExecutionIdentifier:
    return NodeExecutionIdentifier(node_id=node_id, execution_id=xid(name))


def teid(node_id: str = "n0", attempt: int = 0) -> TaskExecutionIdentifier:
    task = Identifier(
        resource_type=ResourceType.TASK,
        project="flytesnacks",
        domain="development",
        name="app.tasks.add",
        version="v1",
    )
    return TaskExecutionIdentifier(task_id=task, node_execution_id=nid(node_id), retry_attempt=attempt)


# -- executions ----------------------------------------------------------------------------


def test_execution_create_get_round_trips_every_column(repo: Repository) -> None:
    row = execution(
        error={"code": "USER:Boom", "message": "it broke", "kind": 1},
        tags=["nightly", "ml"],
        started_at=dt.datetime(2024, 3, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        parent_node_execution_project="flytesnacks",
        parent_node_execution_domain="development",
        parent_node_execution_name="parent",
        parent_node_execution_node_id="n3",
        mode=4,
        user="alice",
    )
    stored = repo.create_execution(row)
    got = repo.get_execution(xid())
    assert columns(got) == columns(stored)
    assert got.started_at == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert got.started_at.tzinfo == dt.UTC
    assert (got.error, got.tags, got.launched, got.outputs_uri) == (row.error, ["nightly", "ml"], False, "")


def test_execution_names_are_idempotency_keys(repo: Repository) -> None:
    first = repo.create_execution(execution(inputs_uri="first"))
    with pytest.raises(AlreadyExists, match="execution flytesnacks/development/exec1 already exists"):
        repo.create_execution(execution(inputs_uri="second"))
    assert columns(repo.get_execution(xid())) == columns(first)
    with pytest.raises(NotFound, match="execution flytesnacks/development/nope not found"):
        repo.get_execution(xid("nope"))


def test_update_execution_and_conditional_update(repo: Repository) -> None:
    created = repo.create_execution(execution())
    running = repo.update_execution(
        xid(), expect={"phase": WorkflowExecutionPhase.QUEUED}, phase=WorkflowExecutionPhase.RUNNING, started_at=T0,
        launched=True,
    )  # fmt: skip
    assert (running.phase, running.started_at, running.launched) == (2, T0, True)
    assert running.updated_at >= created.updated_at and running.created_at == created.created_at

    # a second writer that read QUEUED too loses, and writes nothing
    with pytest.raises(ConcurrentUpdate, match="expected phase=") as info:
        repo.update_execution(xid(), expect={"phase": 1}, phase=WorkflowExecutionPhase.ABORTED)
    assert info.value.identifier == "flytesnacks/development/exec1"
    assert columns(repo.get_execution(xid())) == columns(running)

    done = repo.update_execution(xid(), phase=4, outputs_uri="file:///o.pb", duration=12.5, error=None)
    assert (done.phase, done.outputs_uri, done.duration) == (4, "file:///o.pb", 12.5)
    with pytest.raises(NotFound):
        repo.update_execution(xid("nope"), phase=4)
    with pytest.raises(TypeError, match="colour"):
        repo.update_execution(xid(), colour="red")
    with pytest.raises(TypeError, match="name"):
        repo.update_execution(xid(), name="renamed")


def _seed_executions(repo: Repository) -> None:
    specs = [("e0", 4, "lp.a"), ("e1", 6, "lp.a"), ("e2", 2, "lp.b"), ("e3", 1, "lp.b"), ("e4", 4, "lp.b")]
    for i, (name, phase, lp) in enumerate(specs):
        repo.create_execution(
            execution(
                name,
                phase=phase,
                launch_plan_name=lp,
                created_at=T0 + dt.timedelta(minutes=i),
                duration=i * 10.0,
            )
        )
    repo.create_execution(execution("elsewhere", domain="production"))


def test_list_executions_with_flytekit_filters_sort_and_pages(repo: Repository) -> None:
    _seed_executions(repo)
    names = lambda page: [e.name for e in page.rows]  # noqa: E731
    assert names(repo.list_executions("flytesnacks", "development")) == ["e4", "e3", "e2", "e1", "e0"]
    assert names(repo.list_executions("flytesnacks", "development", filters="eq(phase,SUCCEEDED)")) == [
        "e4",
        "e0",
    ]
    assert names(
        repo.list_executions("flytesnacks", "development", filters="value_in(phase,RUNNING;QUEUED)")
    ) == [
        "e3",
        "e2",
    ]
    recent = "gte(created_at,2024-03-01T12:02:00Z)+eq(launch_plan.name,lp.b)+lt(duration,40)"
    assert names(repo.list_executions("flytesnacks", "development", filters=recent)) == ["e3", "e2"]
    by_duration = repo.list_executions(
        "flytesnacks", "development", sort=Sort("duration", SortDirection.ASCENDING), limit=2
    )
    assert names(by_duration) == ["e0", "e1"] and by_duration.next_token == "2"
    rest = repo.list_executions(
        "flytesnacks", "development", sort=Sort("duration", SortDirection.ASCENDING), limit=2, token="2"
    )
    assert names(rest) == ["e2", "e3"]
    assert names(repo.list_executions("flytesnacks", "production")) == ["elsewhere"]


def test_list_executions_rejects_bad_filters_before_querying(repo: Repository, statements: list[str]) -> None:
    with pytest.raises(InvalidFilter, match="'DANCING'"):
        repo.list_executions("flytesnacks", "development", filters="eq(phase,DANCING)")
    assert statements == []


# -- node executions -----------------------------------------------------------------------


def test_node_execution_upsert_inserts_then_replaces(repo: Repository) -> None:
    repo.create_execution(execution())
    first = repo.upsert_node_execution(node_execution(phase=1, input_uri="file:///in.pb", spec_node_id="n0"))
    assert (first.phase, first.input_uri) == (1, "file:///in.pb")
    second = repo.upsert_node_execution(
        node_execution(
            phase=3, input_uri="file:///in.pb", output_uri="file:///out.pb", duration=1.5, started_at=T0
        )
    )
    assert (second.phase, second.output_uri, second.duration, second.started_at) == (
        3,
        "file:///out.pb",
        1.5,
        T0,
    )
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert columns(repo.get_node_execution(nid())) == columns(second)


def test_node_execution_for_unknown_execution_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFound, match="execution flytesnacks/development/ghost not found"):
        repo.upsert_node_execution(node_execution(execution_name="ghost"))
    with pytest.raises(NotFound, match="execution flytesnacks/development/ghost not found"):
        repo.create_node_execution(node_execution(execution_name="ghost"))
    with pytest.raises(NotFound, match="node execution flytesnacks/development/exec1 node n0 not found"):
        repo.get_node_execution(nid())


def test_node_execution_create_and_conditional_update(repo: Repository) -> None:
    repo.create_execution(execution())
    repo.create_node_execution(node_execution())
    with pytest.raises(AlreadyExists, match="node execution flytesnacks/development/exec1 node n0"):
        repo.create_node_execution(node_execution(phase=5))
    assert repo.get_node_execution(nid()).phase == 1
    running = repo.update_node_execution(nid(), expect={"phase": 1}, phase=2, started_at=T0)
    assert running.phase == 2
    with pytest.raises(ConcurrentUpdate):
        repo.update_node_execution(nid(), expect={"phase": 1}, phase=3)
    assert repo.get_node_execution(nid()).phase == 2


def test_nested_nodes_list_by_parent(repo: Repository) -> None:
    repo.create_execution(execution())
    layout = [("n0", None), ("n1", None), ("n1-0-n0", "n1"), ("n1-0-n1", "n1"), ("n1-0-n1-0-n0", "n1-0-n1")]
    for i, (node_id, parent) in enumerate(layout):
        repo.upsert_node_execution(
            node_execution(node_id, parent_node_id=parent, is_parent=parent is None and node_id == "n1",
                           created_at=T0 + dt.timedelta(seconds=i), phase=3 if i % 2 else 2)
        )  # fmt: skip
    ids = lambda page: [n.node_id for n in page.rows]  # noqa: E731
    assert ids(repo.list_node_executions(xid())) == [n for n, _ in layout]
    assert ids(repo.list_node_executions(xid(), top_level=True)) == ["n0", "n1"]
    assert ids(repo.list_node_executions(xid(), parent_node_id="n1")) == ["n1-0-n0", "n1-0-n1"]
    assert ids(repo.list_node_executions(xid(), filters="eq(phase,SUCCEEDED)+eq(is_parent,false)")) == [
        "n1-0-n1"
    ]
    page = repo.list_node_executions(xid(), limit=2, sort=Sort("node_id"))
    assert ids(page) == ["n1-0-n1-0-n0", "n1-0-n1"] and page.next_token == "2"


# -- task executions -----------------------------------------------------------------------


def test_task_execution_upserts_and_attempts(repo: Repository) -> None:
    repo.create_execution(execution())
    repo.upsert_node_execution(node_execution())
    logs = [{"name": "stdout", "uri": "file:///logs/0.txt"}]
    queued = repo.upsert_task_execution(task_execution(phase=1, phase_version=0, created_at=T0))
    running = repo.upsert_task_execution(task_execution(phase=2, phase_version=1, logs=logs, started_at=T0))
    assert (running.phase, running.phase_version, running.logs) == (2, 1, logs)
    assert running.created_at == queued.created_at
    assert columns(repo.get_task_execution(teid())) == columns(running)

    repo.upsert_task_execution(
        task_execution(retry_attempt=1, phase=3, created_at=T0 + dt.timedelta(hours=1))
    )
    attempts = repo.list_task_executions(nid())
    assert [(t.retry_attempt, t.phase) for t in attempts.rows] == [(0, 2), (1, 3)]
    assert [
        t.retry_attempt for t in repo.list_task_executions(nid(), filters="eq(phase,SUCCEEDED)").rows
    ] == [1]
    assert repo.list_task_executions(nid(), filters="eq(task.name,other)").rows == []

    ordered = repo.update_task_execution(
        teid(), expect={"phase_version": 1}, phase_version=2, error={"code": "x"}
    )
    assert (ordered.phase_version, ordered.error) == (2, {"code": "x"})
    with pytest.raises(ConcurrentUpdate):
        repo.update_task_execution(teid(), expect={"phase_version": 1}, phase_version=3)


def test_task_execution_needs_its_node_execution(repo: Repository) -> None:
    repo.create_execution(execution())
    with pytest.raises(NotFound, match="node execution flytesnacks/development/exec1 node n0 not found"):
        repo.upsert_task_execution(task_execution())
    repo.upsert_node_execution(node_execution())
    repo.create_task_execution(task_execution())
    with pytest.raises(
        AlreadyExists,
        match="task execution .* node n0 task flytesnacks/development/app.tasks.add@v1 attempt 0",
    ):
        repo.create_task_execution(task_execution(phase=5))
    with pytest.raises(NotFound, match="attempt 7"):
        repo.get_task_execution(teid(attempt=7))


def test_execution_ids_with_path_characters_are_stored_verbatim(repo: Repository) -> None:
    odd = "../x/..\\y z"
    repo.create_execution(execution(odd))
    repo.upsert_node_execution(node_execution("../n0", execution_name=odd))
    assert repo.get_execution(xid(odd)).name == odd
    assert [n.node_id for n in repo.list_node_executions(xid(odd)).rows] == ["../n0"]
