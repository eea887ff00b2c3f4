"""The workflow store of local mode: four tables in SQLite (default) or PostgreSQL.

How two propellers are kept apart:

- acquire picks due workflows and leases them in one ``UPDATE … WHERE execution_id IN (SELECT …
  LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …``. On PostgreSQL, ``SKIP LOCKED`` lets concurrent
  acquires take disjoint rows without waiting; on SQLite the transaction begins ``IMMEDIATE``, so
  acquires (and every other write) run one at a time across threads and processes.
- Each acquire and save bumps the workflow's ``version``; a save or renewal is a compare-and-set
  on (version, lease owner). A holder whose lease ran out and was taken over can therefore never
  write again, whatever its clock says: it gets :class:`LeaseLost`.
- A save is atomic: the compare-and-set update of the workflow row, one batched upsert of the
  changed node states and one batched insert into the event outbox. SQLite runs them as three
  statements in one write transaction; PostgreSQL as one statement (data-modifying CTEs) in
  autocommit, one round trip to the server.

The statements of a round run on the DBAPI cursor (see :mod:`._statements`); the rest (hand-over,
reads, outbox, housekeeping) through SQLAlchemy.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from flytecore.propeller.store._engine import WRITE, default_store_url, make_engine
from flytecore.propeller.store._statements import Raw, Statements
from flytecore.propeller.store.base import (
    TERMINAL_PHASES,
    Leased,
    OutboxEvent,
    WorkflowInfo,
    WorkflowSnapshot,
)
from flytecore.propeller.store.errors import LeaseLost
from flytecore.propeller.store.migrate import ensure_schema
from flytecore.propeller.store.tables import workflows

__all__ = ["CHECKPOINT_EVERY", "SqlWorkflowStore"]

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 0.1
"""Seconds between a SQLite store's checkpoints of its write-ahead log, in a thread of its own
(see :class:`_Checkpointer`)."""

FALLBACK_AUTOCHECKPOINT = 16_000
"""Pages (64 MiB) of write-ahead log after which a round's commit checkpoints it itself, should
the background checkpoints fall behind (SQLite's default is 1,000)."""

_INFO_COLUMNS = tuple(
    name for name in WorkflowInfo.__dataclass_fields__ if name in workflows.c
)  # every WorkflowInfo field is a column of the same name


class SqlWorkflowStore:
    """A :class:`~flytecore.propeller.store.base.WorkflowStore` in a SQL database.

    Thread-safe; several processes (propellers) may open the same database. Build it with
    :meth:`from_url`, which also creates or migrates the schema.

    :param engine: an engine made by :meth:`from_url` (SQLite needs its write-lock setup).
    :param terminal_phases: phases in which a save marks the workflow finished: it is never
        acquired, woken or aborted again, and :meth:`delete_finished` may remove it.
    """

    def __init__(self, engine: Engine, *, terminal_phases: Collection[str] = TERMINAL_PHASES) -> None:
        self.engine = engine
        self.terminal_phases = frozenset(terminal_phases)
        self._write_engine = engine.execution_options(**WRITE)
        # get() reads two tables: on PostgreSQL, one snapshot for both (SQLite's BEGIN is one).
        self._read_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._sql = Statements(engine.dialect)
        self._sqlite = engine.dialect.name == "sqlite"
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        # SQLite: each thread's rounds run on a driver connection of its own, kept (see _driver).
        self._kept = threading.local()
        self._kept_all: weakref.WeakSet[_KeptConnection] = weakref.WeakSet()
        self._kept_lock = threading.Lock()
        self._checkpointer = _Checkpointer(engine) if self._sqlite else None
        if self._checkpointer is not None:
            # A store dropped without close() (a test's, an embedding's) ends its thread too.
            weakref.finalize(self, self._checkpointer.stopped.set)

    @classmethod
    def from_url(
        cls, url: str | None = None, *, terminal_phases: Collection[str] = TERMINAL_PHASES
    ) -> SqlWorkflowStore:
        """Open the store at ``url`` and bring its schema up to date.

        :param url: ``sqlite:///path/propeller.db`` (default: ``$FLYTECORE_HOME/propeller.db``) or
            ``postgresql://user@host/db``; the admin's database works too (tables are prefixed).
        """
        engine = make_engine(url or default_store_url())
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, terminal_phases=terminal_phases)

    def close(self) -> None:
        """Close the connections kept for rounds and release every pooled one."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._kept_lock:
            kept, self._kept_all = list(self._kept_all), weakref.WeakSet()
        for holder in kept:
            holder.close()
        self._kept = threading.local()
        self.engine.dispose()

    def __enter__(self) -> SqlWorkflowStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _driver(self) -> Iterator[Any]:
        """The DBAPI connection for one round's statements (its transaction ended by then).

        SQLite: the calling thread's own connection, kept between rounds: a chain's loop runs
        one save and one read of the next due round per task, and checking a connection out of
        SQLAlchemy's pool and back in (with its reset) costs a fifth of a save. The connection
        is detached from the pool (threads' connections never count against its size) and
        closed after a failure (the thread's next round opens another), by :meth:`close`, or
        with its thread. PostgreSQL: from the pool each time, whose pre-ping survives a server
        restart.
        """
        if not self._sqlite:
            connection = self.engine.raw_connection()
            try:
                yield connection
            finally:
                connection.close()
            return
        holder: _KeptConnection | None = getattr(self._kept, "holder", None)
        if holder is None or holder.connection is None:
            connection = self.engine.raw_connection()  # set up by the engine's connect hook
            connection.detach()
            if self._checkpointer is not None and self._checkpointer.start():
                # Rounds leave checkpoints to the checkpointer (unless it falls far behind).
                connection.dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_AUTOCHECKPOINT}")
            holder = self._kept.holder = _KeptConnection(connection)
            with self._kept_lock:
                self._kept_all.add(holder)
        try:
            yield holder.connection
        except BaseException:
            holder.close()  # it may be what failed: the thread's next round opens another
            raise

    @contextmanager
    def _round(self, *, single: bool = False) -> Iterator[Any]:
        """A write transaction on a DBAPI cursor, for the statements of :class:`Raw`.

        :param single: the transaction is one statement. On PostgreSQL it then runs in
            autocommit, saving the round trips of BEGIN and COMMIT. (SQLite always begins
            IMMEDIATE: a statement that reads before it writes could otherwise fail with
            "database is locked" without waiting.)

        Driver errors come out as SQLAlchemy's (``OperationalError`` …), like everywhere else.
        """
        with self._driver() as connection:
            driver: Any = connection.driver_connection
            autocommit = single and not self._sqlite
            if autocommit:
                driver.autocommit = True
            cursor = None
            try:
                cursor = connection.cursor()
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                connection.commit()
            except BaseException as exc:
                try:
                    connection.rollback()
                except self._dbapi_error:
                    connection.invalidate()
                if isinstance(exc, self._dbapi_error):
                    raise DBAPIError.instance(None, None, exc, self._dbapi_error) from exc
                raise
            finally:
                if cursor is not None:
                    cursor.close()
                if autocommit and connection.is_valid:
                    driver.autocommit = False

    # -- hand-over from the admin -----------------------------------------------------------

    def add(
        self, execution_id: str, obj: bytes, state: bytes, phase: str, *, now: float | None = None
    ) -> bool:
        """Store a new workflow, due at once; False (and nothing changed) if it exists already."""
        params = {"execution_id": execution_id, "state": state, "phase": phase, "now": _now(now)}
        with self._write() as conn:
            if conn.execute(self._sql.add, params).first() is None:
                return False
            conn.execute(self._sql.add_object, {"execution_id": execution_id, "object": obj})
        return True

    # -- rounds -------------------------------------------------------------------------------

    def acquire(
        self, owner: str, *, limit: int, lease_seconds: float, now: float | None = None
    ) -> builtins.list[Leased]:
        """Lease up to ``limit`` due workflows to ``owner`` (see the protocol)."""
        if limit < 1 or lease_seconds <= 0:
            raise ValueError(f"acquire needs limit >= 1 and lease_seconds > 0, got {limit}, {lease_seconds}")
        now = _now(now)
        # Most passes find nothing new to lease (a chain's loop asks after every task): a read of
        # the earliest due time settles that without a write transaction.
        due = self.next_due_at()
        if due is None or due > now:
            return []
        expires = now + lease_seconds
        sql = self._sql
        with self._round() as cursor:
            cursor.execute(
                sql.acquire.sql,
                sql.acquire.params({"owner": owner, "expires": expires, "now": now, "limit": limit}),
            )
            rows = cursor.fetchall()
            if not rows:
                return []
            nodes: dict[str, dict[str, bytes]] = {row[0]: {} for row in rows}
            cursor.execute(*sql.objects_of(list(nodes)))
            objects = dict(cursor.fetchall())
            cursor.execute(*sql.node_states_for(list(nodes)))
            for execution_id, key, state in cursor.fetchall():
                nodes[execution_id][key] = state
        return [
            Leased(
                execution_id=execution_id,
                obj=objects[execution_id],
                state=state,
                phase=phase,
                nodes=nodes[execution_id],
                version=version,
                owner=owner,
                lease_expires_at=expires,
                abort_cause=abort_cause,
                abort_requested_at=abort_requested_at,
            )
            for execution_id, state, phase, version, abort_requested_at, abort_cause in rows
        ]

    def save(
        self,
        leased: Leased,
        *,
        state: bytes,
        phase: str,
        nodes: Mapping[str, bytes],
        events: Sequence[bytes],
        next_round_at: float | None,
        release: bool,
        now: float | None = None,
    ) -> Leased:
        """Commit a round in one transaction, or raise :class:`LeaseLost` writing nothing."""
        now = _now(now)
        variant = {
            "release": release,
            "scheduled": next_round_at is not None,
            "finished": phase in self.terminal_phases,
        }
        update = self._sql.save(**variant)
        params = {**_held(leased), "new_state": state, "new_phase": phase, "now": now, "next": next_round_at}
        if self._sqlite:
            row = self._save_in_steps(leased.execution_id, update, params, nodes, events, now)
        else:
            params.update(node_keys=list(nodes), node_states=list(nodes.values()), payloads=list(events))
            with self._round(single=True) as cursor:
                cursor.execute(self._sql.save_in_one(**variant), update.params(params))
                row = cursor.fetchone()
        if row is None:
            raise LeaseLost(leased.execution_id, leased.owner, leased.version)
        new_next, expires, abort_requested_at, abort_cause = row
        return Leased(
            execution_id=leased.execution_id,
            obj=leased.obj,
            state=state,
            phase=phase,
            nodes=_merged(leased.nodes, nodes),
            version=leased.version + 1,
            owner=leased.owner,
            lease_expires_at=expires,
            next_round_at=new_next,
            abort_cause=abort_cause,
            abort_requested_at=abort_requested_at,
        )

    def _save_in_steps(
        self,
        execution_id: str,
        update: Raw,
        params: dict[str, Any],
        nodes: Mapping[str, bytes],
        events: Sequence[bytes],
        now: float,
    ) -> Any:
        """SQLite: a save as three statements in one write transaction (no round trips to save)."""
        sql = self._sql
        with self._round() as cursor:
            cursor.execute(update.sql, update.params(params))
            row = cursor.fetchone()
            if row is None:
                return None  # nothing was written; the transaction ends empty
            if nodes:
                upsert = sql.upsert_nodes
                cursor.executemany(
                    upsert.sql,
                    [
                        upsert.params(
                            {"execution_id": execution_id, "node_key": key, "state": value, "updated_at": now}
                        )
                        for key, value in nodes.items()
                    ],
                )
            if events:
                append = sql.append_events
                cursor.executemany(
                    append.sql,
                    [
                        append.params({"execution_id": execution_id, "payload": payload, "created_at": now})
                        for payload in events
                    ],
                )
        return row

    def renew(self, leased: Leased, lease_seconds: float, *, now: float | None = None) -> Leased:
        """Extend the lease; the result reports wakes and abort requests since (see the protocol)."""
        expires = _now(now) + lease_seconds
        renew = self._sql.renew
        with self._round(single=True) as cursor:
            cursor.execute(renew.sql, renew.params({**_held(leased), "expires": expires}))
            row = cursor.fetchone()
        if row is None:
            raise LeaseLost(leased.execution_id, leased.owner, leased.version)
        next_round_at, abort_requested_at, abort_cause = row
        return Leased(
            execution_id=leased.execution_id,
            obj=leased.obj,
            state=leased.state,
            phase=leased.phase,
            nodes=leased.nodes,
            version=leased.version,
            owner=leased.owner,
            lease_expires_at=expires,
            next_round_at=next_round_at,
            abort_cause=abort_cause,
            abort_requested_at=abort_requested_at,
        )

    # -- from outside a round ---------------------------------------------------------------

    def wake(self, execution_id: str, at: float | None = None) -> bool:
        """Make a round due at ``at`` (default now) unless one is due earlier; False if unknown or
        finished. A wake during a round is folded in by that round's save."""
        wake = self._sql.wake
        with self._round(single=True) as cursor:
            cursor.execute(wake.sql, wake.params({"id": execution_id, "at": _now(at)}))
            return bool(cursor.rowcount == 1)

    def request_abort(self, execution_id: str, cause: str, *, now: float | None = None) -> bool:
        """Record an abort request (the first cause is kept) and wake the workflow; False if
        unknown or finished."""
        abort = self._sql.request_abort
        with self._round(single=True) as cursor:
            cursor.execute(abort.sql, abort.params({"id": execution_id, "at": _now(now), "cause": cause}))
            return bool(cursor.rowcount == 1)

    # -- reading ------------------------------------------------------------------------------

    def get(self, execution_id: str) -> WorkflowSnapshot | None:
        """The stored workflow with its bytes and node states, or None."""
        with self._read_engine.connect() as conn:
            row = conn.execute(self._sql.get, {"id": execution_id}).one_or_none()
            if row is None:
                return None
            nodes = {
                key: state
                for _, key, state in conn.execute(self._sql.node_states_of, {"ids": [execution_id]})
            }
        info = {name: getattr(row, name) for name in _INFO_COLUMNS}
        return WorkflowSnapshot(**info, obj=row.object, state=row.state, nodes=nodes)

    def list(self, phase: str | None = None, *, limit: int = 100) -> builtins.list[WorkflowInfo]:
        """Stored workflows (optionally only those in ``phase``), oldest first, without bytes."""
        query = workflows.select().with_only_columns(*(workflows.c[name] for name in _INFO_COLUMNS))
        if phase is not None:
            query = query.where(workflows.c.phase == phase)
        query = query.order_by(workflows.c.created_at, workflows.c.execution_id).limit(limit)
        with self.engine.connect() as conn:
            return [WorkflowInfo(**row._asdict()) for row in conn.execute(query)]

    def next_due_at(self) -> float | None:
        """When the earliest round becomes acquirable (due, or a lease expires); None if nothing
        is due until woken."""
        # Asked before every sleep of the loop: on the driver's connection, without SQLAlchemy's
        # per-statement work (a third of the call).
        next_due = self._sql.next_due
        with self._driver() as connection:  # the read transaction ends with the statement
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(next_due.sql, next_due.params({}))
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self._dbapi_error as exc:
                raise DBAPIError.instance(next_due.sql, None, exc, self._dbapi_error) from exc
        return None if row is None or row[0] is None else float(row[0])

    # -- event outbox -------------------------------------------------------------------------

    @property
    def outbox_in_commit_order(self) -> bool:
        """Whether outbox seqs become visible in seq order, so that a deliverer may read past
        the events it delivered and holds (:meth:`pending_events` ``after``): on SQLite (one
        writer at a time); on PostgreSQL a later seq may commit first."""
        return self._sqlite

    def pending_events(self, limit: int = 100, *, after: int = 0) -> builtins.list[OutboxEvent]:
        """Undelivered events after seq ``after``, in seq order (per workflow: the order of its
        saves)."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._sql.pending_events, {"limit": limit, "after": after})
            return [OutboxEvent(*row) for row in rows]

    def ack_events(self, seqs: Sequence[int]) -> None:
        """Delete delivered events (unknown seqs are ignored: a second deliverer acked them), in
        one transaction however many (a statement per :data:`_ACK_CHUNK`)."""
        if not seqs:
            return
        seqs = list(seqs)
        with self._write() as conn:
            for start in range(0, len(seqs), _ACK_CHUNK):
                conn.execute(self._sql.ack_events, {"seqs": seqs[start : start + _ACK_CHUNK]})

    # -- housekeeping -------------------------------------------------------------------------

    def delete_finished(self, older_than: float, *, now: float | None = None) -> int:
        """Delete unleased workflows finished more than ``older_than`` seconds before ``now``,
        with their node states; their undelivered events stay. Returns how many."""
        now = _now(now)
        params = {"cutoff": now - older_than, "now": now}
        with self._write() as conn:
            for statement in self._sql.delete_finished_parts:
                conn.execute(statement, params)
            return conn.execute(self._sql.delete_finished, params).rowcount


class _Checkpointer:
    """Checkpoints a SQLite store's write-ahead log in a thread of its own, off the rounds.

    SQLite checkpoints in the commit that takes the log past 1,000 pages: that commit copies the
    pages into the database file and syncs both (~10 ms here), once every ~130 rounds of a chain
    -- a tenth of a short task's time, landing on whichever round is unlucky. The rounds'
    connections raise that limit to :data:`FALLBACK_AUTOCHECKPOINT` and this thread checkpoints
    every :data:`CHECKPOINT_EVERY` seconds instead, on its own connection, PASSIVE (it never
    waits for or blocks a reader or writer) and with the interpreter lock released while SQLite
    works. A checkpoint that found nothing to do costs a few microseconds. Started with the first
    round's connection, stopped by the store's close (or once the store is dropped).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Make sure the thread runs, connected; True if it does (a round's connection may then
        leave checkpoints to it), False once the store closed or if it cannot connect. A thread
        that ended (it could not connect, or this is a forked child, which has no threads but
        the one that forked) is started again."""
        with self._lock:
            if self.stopped.is_set():
                return False
            thread = self._thread
            if thread is None or not thread.is_alive():
                connected = threading.Event()
                thread = self._thread = threading.Thread(
                    target=self._run, args=(connected,), name="flytecore-store-checkpoint", daemon=True
                )
                thread.start()
                connected.wait(timeout=10)  # set once connected; never, if it could not
                return connected.is_set() and thread.is_alive()
            return True

    def stop(self) -> None:
        with self._lock:
            self.stopped.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _run(self, connected: threading.Event) -> None:
        try:
            connection = self._engine.raw_connection()
            connection.detach()
        except Exception:
            log.exception("cannot open a connection for background checkpoints; rounds checkpoint themselves")
            return
        connected.set()
        failures = 0
        try:
            while not self.stopped.wait(CHECKPOINT_EVERY):
                try:
                    connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception as exc:  # e.g. the file was removed under a test; tried again
                    failures += 1
                    if failures in (1, 100):
                        log.warning("background checkpoint failed (%d times so far): %s", failures, exc)
        finally:
            connection.close()


_ACK_CHUNK = 1000
"""Seqs per DELETE of an acknowledgement (SQLite allows 32,766 parameters per statement)."""


class _KeptConnection:
    """A thread's driver connection for rounds (see :meth:`SqlWorkflowStore._driver`): closed
    when it failed, when the store closes, or when its thread ends and drops it."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: Any) -> None:
        self.connection: Any = connection

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken connection: nothing more to do
                pass

    __del__ = close


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _held(leased: Leased) -> dict[str, Any]:
    return {"id": leased.execution_id, "held_version": leased.version, "owner": leased.owner}


def _merged(known: Mapping[str, bytes], changed: Mapping[str, bytes]) -> Mapping[str, bytes]:
    """Every node's state after a save. The previous :class:`Leased` is spent once saved, so
    its dict is updated in place: copying it would make every round of a wide map cost as much
    as all its elements."""
    if not changed:
        return known
    if isinstance(known, dict):
        known.update(changed)
        return known
    return {**known, **changed}
