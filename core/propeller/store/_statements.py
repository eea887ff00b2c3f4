"""The store's SQL, built once per store with SQLAlchemy Core.

Every statement here runs on SQLite (>= 3.35: RETURNING, ON CONFLICT) and PostgreSQL; the one
difference, ``FOR UPDATE SKIP LOCKED`` in :attr:`Statements.acquire`, SQLite's compiler leaves
out (there the write lock of ``BEGIN IMMEDIATE`` makes acquire exclusive instead).

The statements of a round (acquire, save, renew, wake) are compiled once to the driver's SQL
(:class:`Raw`) and run on the DBAPI cursor: SQLAlchemy's per-execution bookkeeping (events,
result objects, cache lookups) cost more than SQLite itself on these small statements. On
PostgreSQL a save is a single statement (:meth:`Statements.save_in_one`): there every
statement is a round trip to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Delete,
    Dialect,
    Double,
    Insert,
    Integer,
    Select,
    String,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.compiler import SQLCompiler

from flytecore.propeller.store.tables import event_outbox, node_states, workflow_objects, workflows

__all__ = ["Raw", "Statements"]

wf = workflows.c


class Raw:
    """A statement compiled once to the driver's SQL and paramstyle.

    Parameters go to the driver as they are, without SQLAlchemy's type processing: only values
    the drivers take natively (str, int, float, bytes, None) may be bound.
    """

    __slots__ = ("sql", "_names", "_defaults")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql: str = compiled.string
        # qmark (sqlite3): the parameter names in order; pyformat (psycopg): None, a dict is passed.
        self._names: list[str] | None = compiled.positiontup
        # Binds SQLAlchemy made for literals (``version + 1``, SQLite's ``OFFSET 0``).
        self._defaults = {name: bind.value for bind, name in compiled.bind_names.items() if not bind.required}

    def params(self, values: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``values`` (by name)."""
        if self._defaults:
            values = {**self._defaults, **values}
        if self._names is None:
            return values
        return [values[name] for name in self._names]


def _earlier(column: Any, param: str) -> ColumnElement[Any]:
    """``column`` moved to ``:param`` if that is earlier (a null column counts as "never")."""
    at = bindparam(param, type_=Double)
    return case((or_(column.is_(None), column > at), at), else_=column)


_PG_SAVE_IN_ONE = """WITH saved AS ({update}),
nodes AS (
    INSERT INTO propeller_node_states (execution_id, node_key, state, updated_at)
    SELECT %(id)s, node.key, node.state, %(now)s
    FROM saved, unnest(%(node_keys)s::varchar[], %(node_states)s::bytea[]) AS node(key, state)
    ON CONFLICT (execution_id, node_key)
    DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
),
events AS (
    INSERT INTO propeller_event_outbox (execution_id, payload, created_at)
    SELECT %(id)s, event.payload, %(now)s
    FROM saved, unnest(%(payloads)s::bytea[]) WITH ORDINALITY AS event(payload, n)
    ORDER BY event.n
)
SELECT * FROM saved"""


class Statements:
    """The statements of one store, for the dialect of its engine."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        postgres = dialect.name == "postgresql"
        dialect_insert = postgresql.insert if postgres else sqlite.insert
        now = bindparam("now", type_=Double)

        self.add: Insert = (
            dialect_insert(workflows)
            .values(
                execution_id=bindparam("execution_id", type_=String),
                state=bindparam("state"),
                phase=bindparam("phase", type_=String),
                version=1,
                next_round_at=now,
                due_at=now,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[wf.execution_id])
            # rowcount of an INSERT is not reliable across drivers; a returned row is.
            .returning(wf.execution_id)
        )
        self.add_object: Insert = insert(workflow_objects)

        # due_at is the lease expiry of a leased row: a holder that died mid-round is taken over.
        pick = (
            select(wf.execution_id)
            .where(wf.due_at <= now, wf.finished_at.is_(None))
            .order_by(wf.due_at)
            .limit(bindparam("limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
        expires = bindparam("expires", type_=Double)
        # The round starts now: it sees every wake so far, so both wake columns are cleared.
        # Bumping the version fences off a previous holder whose lease ran out.
        self.acquire = Raw(
            workflows.update()
            .where(wf.execution_id.in_(pick))
            .values(
                lease_owner=bindparam("owner", type_=String),
                lease_expires_at=expires,
                due_at=expires,
                version=wf.version + 1,
                next_round_at=null(),
                wake_at=null(),
            )
            .returning(
                wf.execution_id,
                wf.state,
                wf.phase,
                wf.version,
                wf.abort_requested_at,
                wf.abort_cause,
            ),
            dialect,
        )
        self.node_states_of: Select[Any] = select(
            node_states.c.execution_id, node_states.c.node_key, node_states.c.state
        ).where(node_states.c.execution_id.in_(bindparam("ids", expanding=True)))
        any_of_ids = "= ANY(%(ids)s)" if postgres else "IN ({})"
        self._objects_sql = (
            f"SELECT execution_id, object FROM propeller_workflow_objects WHERE execution_id {any_of_ids}"
        )
        self._node_states_sql = (
            f"SELECT execution_id, node_key, state FROM propeller_node_states WHERE execution_id {any_of_ids}"
        )

        self._save = {
            (release, scheduled, finished): Raw(self._build_save(release, scheduled, finished), dialect)
            for release in (False, True)
            for scheduled in (False, True)
            for finished in (False, True)
        }
        # PostgreSQL: the whole save as one statement, run in autocommit: one round trip.
        self._save_in_one = {key: _PG_SAVE_IN_ONE.format(update=raw.sql) for key, raw in self._save.items()}

        upsert = dialect_insert(node_states).values(
            execution_id=bindparam("execution_id", type_=String),
            node_key=bindparam("node_key", type_=String),
            state=bindparam("state"),
            updated_at=bindparam("updated_at", type_=Double),
        )
        self.upsert_nodes = Raw(
            upsert.on_conflict_do_update(
                index_elements=[node_states.c.execution_id, node_states.c.node_key],
                set_={"state": upsert.excluded.state, "updated_at": upsert.excluded.updated_at},
            ),
            dialect,
        )
        self.append_events = Raw(
            insert(event_outbox).values(
                execution_id=bindparam("execution_id", type_=String),
                payload=bindparam("payload"),
                created_at=bindparam("created_at", type_=Double),
            ),
            dialect,
        )

        self.renew = Raw(
            workflows.update()
            .where(self._held())
            .values(lease_expires_at=expires, due_at=case((wf.finished_at.is_(None), expires), else_=null()))
            .returning(wf.next_round_at, wf.abort_requested_at, wf.abort_cause),
            dialect,
        )
        wake = (
            workflows.update()
            .where(wf.execution_id == bindparam("id", type_=String), wf.finished_at.is_(None))
            .values(
                next_round_at=_earlier(wf.next_round_at, "at"),
                wake_at=_earlier(wf.wake_at, "at"),
                # A leased row stays the holder's: its save folds the wake in.
                due_at=case((wf.lease_owner.is_(None), _earlier(wf.due_at, "at")), else_=wf.due_at),
            )
        )
        self.wake = Raw(wake, dialect)
        self.request_abort = Raw(
            wake.values(
                abort_requested_at=func.coalesce(wf.abort_requested_at, bindparam("at", type_=Double)),
                abort_cause=func.coalesce(wf.abort_cause, bindparam("cause", type_=String)),
            ),
            dialect,
        )

        self.get: Select[Any] = (
            select(workflows, workflow_objects.c.object)
            .join(workflow_objects, workflow_objects.c.execution_id == wf.execution_id)
            .where(wf.execution_id == bindparam("id"))
        )
        self.next_due = Raw(select(func.min(wf.due_at)), dialect)
        self.pending_events: Select[Any] = (
            select(event_outbox.c.seq, event_outbox.c.execution_id, event_outbox.c.payload)
            .where(event_outbox.c.seq > bindparam("after", type_=Integer))
            .order_by(event_outbox.c.seq)
            .limit(bindparam("limit", type_=Integer))
        )
        self.ack_events: Delete = delete(event_outbox).where(
            event_outbox.c.seq.in_(bindparam("seqs", expanding=True))
        )

        deletable = and_(
            wf.finished_at <= bindparam("cutoff", type_=Double),
            or_(wf.lease_owner.is_(None), wf.lease_expires_at <= now),
        )
        self.delete_finished_parts: tuple[Delete, ...] = tuple(
            delete(table).where(table.c.execution_id.in_(select(wf.execution_id).where(deletable)))
            for table in (node_states, workflow_objects)
        )
        self.delete_finished: Delete = delete(workflows).where(deletable)

    @staticmethod
    def _held() -> ColumnElement[bool]:
        return and_(
            wf.execution_id == bindparam("id", type_=String),
            wf.version == bindparam("held_version", type_=Integer),
            wf.lease_owner == bindparam("owner", type_=String),
        )

    def _build_save(self, release: bool, scheduled: bool, finished: bool) -> Update:
        values: dict[str, Any] = {
            "state": bindparam("new_state"),
            "phase": bindparam("new_phase", type_=String),
            "version": wf.version + 1,
            "updated_at": bindparam("now", type_=Double),
            "wake_at": null(),
        }
        if finished:
            values["next_round_at"] = values["due_at"] = null()
            values["finished_at"] = bindparam("now", type_=Double)
        else:
            next_at = bindparam("next", type_=Double)
            # A wake that came during the round moves the requested time earlier.
            values["next_round_at"] = (
                case((and_(wf.wake_at.is_not(None), wf.wake_at < next_at), wf.wake_at), else_=next_at)
                if scheduled
                else wf.wake_at
            )
            if release:
                values["due_at"] = values["next_round_at"]
            # Keeping the lease leaves due_at (the lease expiry) and so every index untouched.
        if release:
            values["lease_owner"] = null()
            values["lease_expires_at"] = null()
        statement: Update = (
            workflows.update()
            .where(self._held())
            .values(**values)
            .returning(wf.next_round_at, wf.lease_expires_at, wf.abort_requested_at, wf.abort_cause)
        )
        return statement

    def save(self, *, release: bool, scheduled: bool, finished: bool) -> Raw:
        """The save statement for this combination of release / next round given / terminal phase."""
        return self._save[release, scheduled, finished]

    def save_in_one(self, *, release: bool, scheduled: bool, finished: bool) -> str:
        """PostgreSQL: :meth:`save`'s update, node upsert and outbox insert in one statement.

        Parameters: those of :meth:`save` plus ``node_keys``, ``node_states`` and ``payloads``
        (lists). The inserts read from the update's result, so if the compare-and-set finds no
        row, nothing at all is written.
        """
        return self._save_in_one[release, scheduled, finished]

    def objects_of(self, ids: Sequence[str]) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        """SQL and parameters reading the workflow objects of ``ids`` (on the cursor)."""
        return self._any_of(self._objects_sql, ids)

    def node_states_for(self, ids: Sequence[str]) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        """SQL and parameters reading the node states of the workflows ``ids`` (on the cursor)."""
        return self._any_of(self._node_states_sql, ids)

    def _any_of(self, sql: str, ids: Sequence[str]) -> tuple[str, Sequence[Any] | dict[str, Any]]:
        if self.dialect.name == "postgresql":
            return sql, {"ids": list(ids)}
        return sql.format(", ".join("?" * len(ids))), list(ids)
