"""Engine settings, URLs, and the shape of the hot path: how many statements a save costs."""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from flytecore.propeller.store import SqlWorkflowStore
from flytecore.propeller.store._engine import default_store_url, make_engine, normalize_url


def test_sqlite_is_configured_for_several_writers(tmp_path: Path) -> None:
    with SqlWorkflowStore.from_url(f"sqlite:///{tmp_path / 'deep' / 'propeller.db'}") as store:
        with store.engine.connect() as conn:
            pragma = {name: conn.execute(text(f"PRAGMA {name}")).scalar() for name in
                      ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}  # fmt: skip
    # synchronous: 1 is NORMAL
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
    assert (tmp_path / "deep" / "propeller.db").exists()


def test_default_url_lives_in_flytecore_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYTECORE_HOME", str(tmp_path))
    assert default_store_url() == f"sqlite:///{tmp_path / 'propeller.db'}"
    with SqlWorkflowStore.from_url() as store:
        assert store.add("e1", b"o", b"s", "QUEUED")
    assert (tmp_path / "propeller.db").exists()


def test_urls() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert make_engine("postgresql://u@localhost/db").dialect.driver == "psycopg"
    with pytest.raises(ValueError, match="unsupported database URL"):
        make_engine("mysql://u@h/db")
    with pytest.raises(ValueError, match="needs a SQLite file"):
        make_engine("sqlite://")


class _Recording:
    """A pooled DBAPI connection that records what the store runs on it."""

    def __init__(self, connection: Any, log: list[str]) -> None:
        self._connection = connection
        self._log = log

    def cursor(self) -> Any:
        cursor = self._connection.cursor()
        log = self._log

        class Cursor:
            def __getattr__(self, name: str) -> Any:
                return getattr(cursor, name)

            def execute(self, sql: str, *args: Any) -> Any:
                log.append(sql.split("(")[0].split(" SET ")[0].strip())
                return cursor.execute(sql, *args)

            def executemany(self, sql: str, rows: Any) -> Any:
                log.append(f"{sql.split('(')[0].strip()} x{len(rows)}")
                return cursor.executemany(sql, rows)

        return Cursor()

    def commit(self) -> None:
        self._log.append("COMMIT")
        self._connection.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@pytest.fixture
def recorded(store: SqlWorkflowStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the store's round statements (acquire, save, renew, wake) run from now on."""
    log: list[str] = []
    raw_connection = store.engine.raw_connection
    monkeypatch.setattr(store.engine, "raw_connection", lambda: _Recording(raw_connection(), log))
    yield log


def test_a_round_costs_few_statements(store: SqlWorkflowStore, recorded: list[str]) -> None:
    sqlite = store.engine.dialect.name == "sqlite"
    begin = ["BEGIN IMMEDIATE"] if sqlite else []
    any_of = "IN" if sqlite else "= ANY"
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    recorded.clear()
    assert store.acquire("p1", limit=5, lease_seconds=30, now=99.0) == []
    assert recorded == ["SELECT min"]  # nothing due yet: one read, no write transaction
    recorded.clear()
    (leased,) = store.acquire("p1", limit=5, lease_seconds=30, now=100.0)
    assert recorded == [
        "SELECT min",
        *begin,
        "UPDATE propeller_workflows",
        f"SELECT execution_id, object FROM propeller_workflow_objects WHERE execution_id {any_of}",
        f"SELECT execution_id, node_key, state FROM propeller_node_states WHERE execution_id {any_of}",
        "COMMIT",
    ]

    def save_recorded(nodes: int, events: int) -> list[str]:
        nonlocal leased
        recorded.clear()
        leased = store.save(
            leased,
            state=b"s",
            phase="RUNNING",
            nodes={f"n{i}": b"x" for i in range(nodes)},
            events=[b"e"] * events,
            next_round_at=None,
            release=False,
        )
        return list(recorded)

    # A wide round is no more statements than a narrow one: rows are batched per table.
    for nodes, events in [(1, 1), (100, 2)]:
        if sqlite:  # one write transaction; statements cost no round trips
            assert save_recorded(nodes, events) == [
                "BEGIN IMMEDIATE",
                "UPDATE propeller_workflows",
                f"INSERT INTO propeller_node_states x{nodes}",
                f"INSERT INTO propeller_event_outbox x{events}",
                "COMMIT",
            ]
        else:  # one statement in autocommit: one round trip
            assert save_recorded(nodes, events) == ["WITH saved AS", "COMMIT"]
    recorded.clear()
    store.wake("e1")
    assert recorded == [*begin, "UPDATE propeller_workflows", "COMMIT"]


def test_a_failing_round_writes_nothing_and_raises_sqlalchemys_error(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE propeller_node_states"))
    # acquire's update ran, then its read of the node states failed: the update is undone.
    with pytest.raises(DBAPIError):
        store.acquire("p1", limit=1, lease_seconds=30, now=100.0)
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT version, lease_owner FROM propeller_workflows")).one()
    assert tuple(row) == (1, None)
    # The pooled connection is fine afterwards.
    assert store.wake("e1", at=50.0) is True
    assert store.next_due_at() == 50.0


def test_sqlite_rounds_run_on_one_kept_connection_per_thread(tmp_path: Path) -> None:
    store = SqlWorkflowStore.from_url(f"sqlite:///{tmp_path / 'propeller.db'}")
    checkouts: list[object] = []
    # Not the background checkpoints' connection (see test_sqlite_checkpoints_run_in_the_background).
    event.listen(store.engine, "checkout", lambda dbapi, record, proxy: threading.current_thread().name
                 != "flytecore-store-checkpoint" and checkouts.append(dbapi))
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    checkouts.clear()
    (leased,) = store.acquire("p1", limit=1, lease_seconds=30, now=100.0)
    for i in range(5):
        leased = store.save(
            leased, state=b"s", phase="RUNNING", nodes={f"n{i}": b"x"}, events=[b"e"],
            next_round_at=None, release=i == 4,
        )
        assert store.next_due_at() == (None if i == 4 else 130.0)  # released last: due when woken
    assert len(checkouts) == 1  # acquire, five saves and five reads: one connection
    assert store.engine.pool.checkedout() == 0  # kept outside the pool's count

    # Another thread's rounds get a connection of their own.
    woken: list[bool] = []
    thread = threading.Thread(target=lambda: woken.append(store.wake("e1", at=50.0)))
    thread.start()
    thread.join()
    assert woken == [True] and len(checkouts) == 2 and checkouts[1] is not checkouts[0]
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):  # closed with its thread
        checkouts[1].execute("SELECT 1")

    # A connection that failed is replaced: the round after the failure works.
    checkouts[0].close()  # broken behind the store's back
    with pytest.raises(DBAPIError):
        store.wake("e1", at=40.0)
    assert store.wake("e1", at=40.0) is True
    assert store.next_due_at() == 40.0 and len(checkouts) == 3

    # close() closes the kept connections.
    checkouts[2].execute("SELECT 1")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        checkouts[2].execute("SELECT 1")


def test_sqlite_checkpoints_run_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.propeller.store import sql

    monkeypatch.setattr(sql, "CHECKPOINT_EVERY", 0.01)
    db = tmp_path / "propeller.db"
    store = SqlWorkflowStore.from_url(f"sqlite:///{db}")
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    (leased,) = store.acquire("p1", limit=1, lease_seconds=30, now=100.0)
    size_before = db.stat().st_size
    for i in range(50):  # ~150 pages of write-ahead log, far below the rounds' own limit
        leased = store.save(leased, state=b"s" * 5000, phase="RUNNING", nodes={f"n{i}": b"x" * 5000},
                            events=[b"e" * 5000], next_round_at=None, release=False)
    kept = store._kept.holder.connection.dbapi_connection
    # Rounds checkpoint themselves only far beyond SQLite's 1,000 pages; the thread does it.
    assert kept.execute("PRAGMA wal_autocheckpoint").fetchone() == (sql.FALLBACK_AUTOCHECKPOINT,)
    for _ in range(500):  # the pages reach the database file only through a checkpoint
        if db.stat().st_size >= size_before + 100 * 4096:
            break
        threading.Event().wait(0.01)
    assert db.stat().st_size >= size_before + 100 * 4096
    checkpointer = store._checkpointer
    assert checkpointer is not None
    thread = checkpointer._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()
    # A store that closed starts no thread again (a round after close opens a connection anew).
    assert checkpointer.start() is False


def test_rounds_checkpoint_themselves_when_the_thread_cannot_connect(tmp_path: Path) -> None:
    class Unreachable:
        def raw_connection(self) -> Any:
            raise sqlite3.OperationalError("unable to open database file")

    store = SqlWorkflowStore.from_url(f"sqlite:///{tmp_path / 'propeller.db'}")
    assert store._checkpointer is not None
    store._checkpointer._engine = Unreachable()  # type: ignore[assignment]
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    store.acquire("p1", limit=1, lease_seconds=30, now=100.0)
    kept = store._kept.holder.connection.dbapi_connection
    assert kept.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)  # SQLite's own
    store.close()


def test_a_store_dropped_without_close_ends_its_checkpoint_thread(tmp_path: Path) -> None:
    store = SqlWorkflowStore.from_url(f"sqlite:///{tmp_path / 'propeller.db'}")
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    store.acquire("p1", limit=1, lease_seconds=30, now=100.0)
    checkpointer = store._checkpointer
    assert checkpointer is not None and checkpointer._thread is not None
    thread = checkpointer._thread
    del store
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()
