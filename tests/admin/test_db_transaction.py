"""Repository.transaction: the event path's reads and writes on the driver's connection give
what the ORM calls give (types, defaults, errors, rollback), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from flytecore.admin.db import (
    AlreadyExists,
    ConcurrentUpdate,
    NotFound,
    Repository,
    node_execution_key,
    task_execution_key,
)
from flytecore.admin.db import models as m
from tests.admin.conftest import columns, execution
from tests.admin.test_db_executions import nid, teid

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
KEY = node_execution_key(nid())


def test_a_row_written_in_a_transaction_reads_as_the_orm_reads_it(repo: Repository) -> None:
    repo.create_execution(execution())
    with repo.transaction() as tx:
        assert tx.row(m.NodeExecution, KEY) is None
        tx.insert(m.NodeExecution, {**KEY, "phase": 1, "closure": b"\x01", "error": {"code": "x"}})
        row = tx.row(m.NodeExecution, KEY)
        assert (row.phase, row.closure, row.error, row.spec_node_id, row.is_parent) == (
            1,
            b"\x01",
            {"code": "x"},
            "",
            False,
        )
        assert row.created_at.tzinfo == dt.UTC and row.started_at is None
    stored = repo.get_node_execution(nid())
    with repo.transaction() as tx:
        assert tuple(tx.row(m.NodeExecution, KEY)) == tuple(columns(stored).values())


def test_updates_are_conditional_and_set_updated_at(repo: Repository) -> None:
    repo.create_execution(execution())
    with repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    before = repo.get_node_execution(nid())
    with repo.transaction() as tx:
        tx.update(m.NodeExecution, KEY, {"phase": 2, "started_at": T0}, {"phase": 1, "started_at": None})
        with pytest.raises(ConcurrentUpdate, match="expected phase=1"):
            tx.update(m.NodeExecution, KEY, {"phase": 3}, {"phase": 1})
        with pytest.raises(ConcurrentUpdate):  # started_at is set now: IS NULL no longer holds
            tx.update(m.NodeExecution, KEY, {"phase": 3}, {"started_at": None})
        with pytest.raises(NotFound, match="node n9 not found"):
            tx.update(m.NodeExecution, node_execution_key(nid("n9")), {"phase": 3}, {"phase": 1})
    after = repo.get_node_execution(nid())
    assert (after.phase, after.started_at) == (2, T0)
    assert after.updated_at >= before.updated_at and after.created_at == before.created_at


def test_a_transaction_that_raises_leaves_nothing_behind(repo: Repository) -> None:
    repo.create_execution(execution())
    with pytest.raises(RuntimeError), repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
        raise RuntimeError("then something failed")
    with pytest.raises(NotFound):
        repo.get_node_execution(nid())


def test_inserts_report_a_taken_key_and_a_missing_parent_as_the_repository_does(repo: Repository) -> None:
    with (
        pytest.raises(NotFound, match="execution flytesnacks/development/exec1 not found"),
        repo.transaction() as tx,
    ):
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    repo.create_execution(execution())
    with repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
        tx.insert(
            m.TaskExecution, {**task_execution_key(teid()), "phase": 1, "logs": [{"name": "a", "uri": "b"}]}
        )
    with pytest.raises(AlreadyExists, match="node execution .* already exists"), repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 2})
    assert repo.get_node_execution(nid()).phase == 1
    assert repo.get_task_execution(teid()).logs == [{"name": "a", "uri": "b"}]


def test_an_update_can_expect_a_column_to_be_null(repo: Repository) -> None:
    repo.create_execution(execution())
    repo.update_execution(nid().execution_id, expect={"started_at": None}, started_at=T0)  # type: ignore[arg-type]
    with pytest.raises(ConcurrentUpdate):
        repo.update_execution(nid().execution_id, expect={"started_at": None}, started_at=T0)  # type: ignore[arg-type]
    assert repo.get_execution(nid().execution_id).started_at == T0  # type: ignore[arg-type]


def test_a_row_read_on_the_driver_is_the_orm_row_and_a_missing_one_is_not_found(repo: Repository) -> None:
    from tests.admin.test_db_executions import xid

    repo.create_execution(execution(inputs_data=b"\x0a\x00"))
    repo.update_execution(xid(), phase=3, started_at=T0, closure=b"\x08\x03")
    row = repo.execution_row(xid())
    assert tuple(row) == tuple(columns(repo.get_execution(xid())).values())
    assert (row.phase, row.closure, row.started_at, row.inputs_data) == (3, b"\x08\x03", T0, b"\x0a\x00")
    assert row.created_at.tzinfo == dt.UTC
    with pytest.raises(NotFound, match="execution flytesnacks/development/exec9 not found"):
        repo.execution_row(xid("exec9"))
    # The read left no transaction open: a writer gets in at once.
    repo.update_execution(xid(), phase=4)
    assert repo.execution_row(xid()).phase == 4
