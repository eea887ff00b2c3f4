"""Repository calls for signals: the values gate nodes wait for.

A mixin of :class:`flytecore.admin.db.repository.Repository`. A signal is created once, by the
first GetOrCreateSignal of its gate (an ``INSERT .. ON CONFLICT DO NOTHING``, so engines asking
at the same time never conflict), and its value is set later. The service checks types; the
repository stores bytes.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from flytecore.admin.db import models as m
from flytecore.admin.db._store import Key, Page, Store, key_of, values_of
from flytecore.admin.db.filters import Sort, SortDirection
from flytecore.spec.identifiers import WorkflowExecutionIdentifier

__all__ = ["SignalRecords", "signal_key"]

DEFAULT_LIMIT = 100
_OLDEST_FIRST = Sort("created_at", SortDirection.ASCENDING)


def signal_key(execution_id: WorkflowExecutionIdentifier, signal_id: str) -> Key:
    """The primary key of a signal row."""
    return {
        "execution_project": execution_id.project,
        "execution_domain": execution_id.domain,
        "execution_name": execution_id.name,
        "signal_id": signal_id,
    }


class SignalRecords:
    """Signals of executions."""

    _store: Store

    def get_or_create_signal(self, signal: m.Signal) -> tuple[m.Signal, bool]:
        """The stored signal with ``signal``'s key, created from ``signal`` if there is none;
        and whether this call created it. An existing signal is returned as stored (its type and
        value untouched). Atomic: concurrent calls create one row.

        :raises NotFound: its execution does not exist.
        """
        values, key = values_of(signal), key_of(signal)
        try:
            with self._store.write() as session:
                make_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
                stmt = make_insert(m.table_of(m.Signal)).values(**values).on_conflict_do_nothing()
                # RETURNING tells whether this insert made the row (rowcount is not reliable for
                # ON CONFLICT DO NOTHING with every driver).
                created = session.execute(stmt.returning(m.Signal.signal_id)).first() is not None
                return self._store.one(session, m.Signal, key), created
        except IntegrityError as exc:
            raise self._store.translate(exc, m.Signal, values) from None

    def get_signal(self, execution_id: WorkflowExecutionIdentifier, signal_id: str) -> m.Signal:
        """The signal ``signal_id`` of an execution. :raises NotFound:"""
        return self._store.get(m.Signal, signal_key(execution_id, signal_id))

    def set_signal_value(self, execution_id: WorkflowExecutionIdentifier, signal_id: str, value: bytes) -> m.Signal:
        """Store a signal's value (replacing one set before). :raises NotFound:"""
        return self._store.update(m.Signal, signal_key(execution_id, signal_id), {"value": value})

    def list_signals(
        self, execution_id: WorkflowExecutionIdentifier, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.Signal]:  # fmt: skip
        """Signals of an execution, in the order they were created unless ``sort`` says otherwise."""
        conditions = [
            m.Signal.execution_project == execution_id.project,
            m.Signal.execution_domain == execution_id.domain,
            m.Signal.execution_name == execution_id.name,
        ]
        return self._store.page(m.Signal, conditions, filters, sort, _OLDEST_FIRST, limit, token)
