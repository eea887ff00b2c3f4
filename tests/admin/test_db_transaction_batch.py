"""WriteTransaction.write_back: within the block each record is read once and written once at its
end; the rows it hands out and the errors it raises are the database's, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flytecore.admin.db import (
    AlreadyExists,
    ConcurrentUpdate,
    NotFound,
    Repository,
    WriteTransaction,
    node_execution_key,
    task_execution_key,
)
from flytecore.admin.db import models as m
from flytecore.admin.db._store import update_row
from tests.admin.conftest import execution
from tests.admin.test_db_executions import nid, teid

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
KEY = node_execution_key(nid())
TASK_KEY = task_execution_key(teid())


class _CountingCursor:
    """A driver cursor that notes the verb of every statement it runs."""

    def __init__(self, cursor: Any, seen: list[str]) -> None:
        self._cursor, self._seen = cursor, seen

    def execute(self, sql: str, *args: Any) -> Any:
        self._seen.append(sql.split(None, 1)[0].upper())
        return self._cursor.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The verbs (SELECT, INSERT, UPDATE, ...) of the statements every WriteTransaction opened from
    now on runs: its own driver cursor, which SQLAlchemy's cursor events never see."""
    seen: list[str] = []
    real = WriteTransaction.__init__

    def init(self: WriteTransaction, cursor: Any, statements: Any) -> None:
        real(self, _CountingCursor(cursor, seen), statements)

    monkeypatch.setattr(WriteTransaction, "__init__", init)
    return seen


def writes(seen: list[str]) -> list[str]:
    return [verb for verb in seen if verb in ("SELECT", "INSERT", "UPDATE")]


def test_a_record_is_read_once_and_written_once_at_the_end(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.create_execution(execution())
    seen = count_statements(monkeypatch)
    with repo.transaction() as tx, tx.write_back():
        assert tx.row(m.NodeExecution, KEY) is None
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
        tx.update(m.NodeExecution, KEY, {"phase": 2, "started_at": T0}, {"phase": 1, "started_at": None})
        tx.update(m.NodeExecution, KEY, {"phase": 3}, {"phase": 2})
        assert tx.row(m.NodeExecution, KEY).phase == 3
        assert tx.row(m.TaskExecution, TASK_KEY) is None
        tx.insert(m.TaskExecution, {**TASK_KEY, "phase": 1})
        assert writes(seen) == ["SELECT", "SELECT"]  # nothing written yet
    assert writes(seen) == ["SELECT", "SELECT", "INSERT", "INSERT"]  # in the order first touched
    stored = repo.get_node_execution(nid())
    assert (stored.phase, stored.started_at) == (3, T0)

    seen.clear()
    with repo.transaction() as tx, tx.write_back():
        row = tx.row(m.NodeExecution, KEY)
        tx.update(m.NodeExecution, KEY, {"phase": 4}, {"phase": row.phase})
        tx.update(m.NodeExecution, KEY, {"phase": 5, "duration": 2}, {"phase": 4})
        assert tx.row(m.TaskExecution, TASK_KEY).phase == 1  # read, not changed: not written
    assert writes(seen) == ["SELECT", "SELECT", "UPDATE"]
    after = repo.get_node_execution(nid())
    assert (after.phase, after.duration, after.started_at) == (5, 2.0, T0)
    assert after.updated_at > stored.updated_at and after.created_at == stored.created_at


def test_buffered_rows_read_as_the_database_gives_them(repo: Repository) -> None:
    repo.create_execution(execution())
    naive = T0.replace(tzinfo=None)  # taken as UTC, as the column does
    with repo.transaction() as tx, tx.write_back():
        tx.row(m.NodeExecution, KEY)
        tx.insert(m.NodeExecution, {**KEY, "phase": 1, "closure": b"\x01", "error": {"code": "x"}})
        inserted = tx.row(m.NodeExecution, KEY)
        tx.update(m.NodeExecution, KEY, {"started_at": naive, "duration": 3, "is_parent": 1}, {"phase": 1})
        updated = tx.row(m.NodeExecution, KEY)
    assert (inserted.spec_node_id, inserted.is_parent, inserted.parent_node_id) == ("", False, None)
    assert inserted.created_at.tzinfo == dt.UTC and inserted.started_at is None
    with repo.transaction() as tx:
        selected = tx.row(m.NodeExecution, KEY)
    assert updated == selected and updated._fields == selected._fields
    assert [type(v) for v in updated] == [type(v) for v in selected]
    assert (selected.started_at, selected.duration, selected.is_parent) == (T0, 3.0, True)


def test_updates_check_expect_against_the_buffered_row_as_the_database_would(repo: Repository) -> None:
    repo.create_execution(execution())
    with repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    with repo.transaction() as tx, tx.write_back():
        tx.update(m.NodeExecution, KEY, {"phase": 2, "started_at": T0}, {"phase": 1, "started_at": None})
        with pytest.raises(ConcurrentUpdate, match="expected phase=1"):
            tx.update(m.NodeExecution, KEY, {"phase": 3}, {"phase": 1})
        with pytest.raises(ConcurrentUpdate):  # started_at is set now: IS NULL no longer holds
            tx.update(m.NodeExecution, KEY, {"phase": 3}, {"started_at": None})
        with pytest.raises(NotFound, match="node n9 not found"):
            tx.update(m.NodeExecution, node_execution_key(nid("n9")), {"phase": 3}, {"phase": 1})
        with pytest.raises(AlreadyExists, match="node execution .* already exists"):
            tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    assert (repo.get_node_execution(nid()).phase, repo.get_node_execution(nid()).started_at) == (2, T0)


def test_a_block_that_raises_writes_nothing(repo: Repository) -> None:
    repo.create_execution(execution())
    with pytest.raises(RuntimeError), repo.transaction() as tx, tx.write_back():
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
        raise RuntimeError("then something failed")
    with pytest.raises(NotFound):
        repo.get_node_execution(nid())


def test_a_row_changed_underneath_fails_the_write_and_the_transaction_leaves_nothing(
    repo: Repository,
) -> None:
    repo.create_execution(execution())
    with repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    with pytest.raises(ConcurrentUpdate, match="expected phase=1"), repo.transaction() as tx, tx.write_back():
        tx.insert(m.NodeExecution, {**node_execution_key(nid("n1")), "phase": 1})  # written first
        tx.update(m.NodeExecution, KEY, {"phase": 2}, {"phase": 1})
        tx.update(m.NodeExecution, KEY, {"phase": 3}, {"phase": 2})
        # Another writer's change the buffer does not know of (unbuffered, in this transaction).
        update_row(tx, m.NodeExecution, KEY, {"phase": 4}, {})
    assert repo.get_node_execution(nid()).phase == 1
    with pytest.raises(NotFound):
        repo.get_node_execution(nid("n1"))


@pytest.mark.parametrize("first_read", [True, False])
def test_inserts_that_the_database_refuses_at_the_end_raise_its_errors(
    repo: Repository, first_read: bool
) -> None:
    with (
        pytest.raises(NotFound, match="execution .*exec1 not found"),
        repo.transaction() as tx,
        tx.write_back(),
    ):
        if first_read:
            assert tx.row(m.NodeExecution, KEY) is None
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    repo.create_execution(execution())
    with repo.transaction() as tx:
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
    # Never read in the block: the key is found taken when the row is written.
    with pytest.raises(AlreadyExists), repo.transaction() as tx, tx.write_back():
        tx.insert(m.NodeExecution, {**KEY, "phase": 2})
    assert repo.get_node_execution(nid()).phase == 1


@pytest.mark.parametrize("inputs", [b"\x0a\x05\x0a\x01a\x12\x00", b""], ids=["a-map", "an-empty-map"])
def test_inline_inputs_in_the_buffer_read_and_write_as_the_database_gives_them(repo: Repository, inputs: bytes) -> None:
    """``input_data``: NULL until inline inputs are recorded; bytes after, an empty map's too
    (b"" is recorded inputs, not NULL), in the buffer as in the database."""
    repo.create_execution(execution())
    with repo.transaction() as tx, tx.write_back():
        tx.insert(m.NodeExecution, {**KEY, "phase": 1})
        tx.insert(m.TaskExecution, {**TASK_KEY, "phase": 1, "input_data": bytearray(inputs)})
        assert tx.row(m.NodeExecution, KEY).input_data is None
        tx.update(m.NodeExecution, KEY, {"phase": 2, "input_data": inputs}, {"phase": 1, "input_data": None})
        buffered = tx.row(m.NodeExecution, KEY), tx.row(m.TaskExecution, TASK_KEY)
        with pytest.raises(ConcurrentUpdate):  # IS NULL no longer holds, even for b""
            tx.update(m.NodeExecution, KEY, {"phase": 3}, {"input_data": None})
    with repo.transaction() as tx:
        selected = tx.row(m.NodeExecution, KEY), tx.row(m.TaskExecution, TASK_KEY)
    assert buffered == selected
    assert [(type(row.input_data), row.input_data) for row in selected] == [(bytes, inputs)] * 2
    assert repo.get_node_execution(nid()).input_data == repo.get_task_execution(teid()).input_data == inputs
