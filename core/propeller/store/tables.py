"""The workflow store's tables (SQLAlchemy Core: the store runs few, hot statements, no ORM).

Table names carry a ``propeller_`` prefix so the store can share a database with the admin,
which has a ``workflows`` table of its own (registered workflow templates). Times are float
seconds since the epoch (``time.time()``): one clock shared by every propeller process, cheap to
compare, the same in SQLite and PostgreSQL. Workflow objects, states and event payloads are
opaque bytes: only the engine knows what is in them.

Shaped for the save of a round, the hot statement:

- the immutable workflow object has its own table: SQLite rewrites a whole row on update, and
  an object of a large workflow would be rewritten by every save;
- one indexed column, ``due_at``, says when a row can next be acquired (its round is due, or
  its lease runs out), so acquire and ``next_due_at`` are index range scans, and a save that
  keeps its lease leaves every index alone.

The task cache of :mod:`flytecore.propeller.catalog` (entries and cache-serialization
reservations) lives in the same database, so a cached result is as durable as the workflows
that use it and every propeller sharing the store shares the cache.

The schema is created by the Alembic migrations in ``migrations/``; a test checks that they
produce exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

__all__ = [
    "metadata",
    "workflows",
    "workflow_objects",
    "node_states",
    "event_outbox",
    "catalog_entries",
    "catalog_reservations",
    "VERSION_TABLE",
    "CATALOG_KEY_COLUMNS",
]

VERSION_TABLE = "flytecore_propeller_alembic_version"
"""Alembic's version table of the store (the admin's is ``alembic_version``)."""

metadata = MetaData()

workflows = Table(
    "propeller_workflows",
    metadata,
    Column("execution_id", String, nullable=False),
    Column("state", LargeBinary, nullable=False, doc="workflow-level state, replaced by each save"),
    Column("phase", String, nullable=False),
    Column("version", Integer, nullable=False, doc="bumped by every acquire and save (fencing token)"),
    Column("lease_owner", String, nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column(
        "next_round_at",
        Double,
        nullable=True,
        doc="when the next round is due (set by a save, moved earlier by wakes); null: when woken",
    ),
    Column(
        "wake_at",
        Double,
        nullable=True,
        doc="earliest wake since the holder last acquired or saved; folded in by the next save",
    ),
    Column(
        "due_at",
        Double,
        nullable=True,
        doc="when acquire may take the row: next_round_at if unleased, the lease expiry if leased; "
        "null when finished or waiting to be woken",
    ),
    Column("abort_requested_at", Double, nullable=True),
    Column("abort_cause", String, nullable=True),
    Column("finished_at", Double, nullable=True, doc="set by the save that reached a terminal phase"),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("execution_id", name="pk_propeller_workflows"),
)
Index("ix_propeller_workflows_due_at", workflows.c.due_at)
Index("ix_propeller_workflows_finished_at", workflows.c.finished_at)

workflow_objects = Table(
    "propeller_workflow_objects",
    metadata,
    Column("execution_id", String, nullable=False),
    Column("object", LargeBinary, nullable=False, doc="the serialized workflow object; immutable"),
    PrimaryKeyConstraint("execution_id", name="pk_propeller_workflow_objects"),
    ForeignKeyConstraint(
        ["execution_id"],
        ["propeller_workflows.execution_id"],
        name="fk_propeller_workflow_objects_workflow",
        ondelete="CASCADE",
    ),
)

node_states = Table(
    "propeller_node_states",
    metadata,
    Column("execution_id", String, nullable=False),
    Column("node_key", String, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("execution_id", "node_key", name="pk_propeller_node_states"),
    ForeignKeyConstraint(
        ["execution_id"],
        ["propeller_workflows.execution_id"],
        name="fk_propeller_node_states_workflow",
        ondelete="CASCADE",
    ),
)

event_outbox = Table(
    "propeller_event_outbox",
    metadata,
    # SQLite: INTEGER PRIMARY KEY AUTOINCREMENT, so a seq is never reused once acked and
    # deleted (a late ack of a second deliverer must not delete a newer event).
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False, autoincrement=True),
    # No foreign key: events outlive the workflow row (delete_finished) until delivered.
    Column("execution_id", String, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
    PrimaryKeyConstraint("seq", name="pk_propeller_event_outbox"),
    sqlite_autoincrement=True,
)

# --- the task cache (flytecore.propeller.catalog), in the same database ---------------------------

CATALOG_KEY_COLUMNS = ("project", "domain", "task_name", "cache_version", "interface_hash", "inputs_hash")
"""The columns of a cache key (:class:`flytecore.propeller.catalog.CatalogKey`), in order."""


def _catalog_key() -> list[Column[str]]:
    return [Column(name, String, nullable=False) for name in CATALOG_KEY_COLUMNS]


catalog_entries = Table(
    "propeller_catalog_entries",
    metadata,
    *_catalog_key(),
    Column("outputs", LargeBinary, nullable=False, doc="flyteidl LiteralMap bytes of the task's outputs"),
    Column("source_execution", String, nullable=False, doc="project:domain:name of the execution that ran it"),
    Column("source_node", String, nullable=False, doc="the node's unique id in that execution"),
    Column("created_at", Double, nullable=False),
    PrimaryKeyConstraint(*CATALOG_KEY_COLUMNS, name="pk_propeller_catalog_entries"),
)

catalog_reservations = Table(
    "propeller_catalog_reservations",
    metadata,
    *_catalog_key(),
    Column("owner", String, nullable=False, doc="who may compute the entry (an execution's node)"),
    Column("expires_at", Double, nullable=False, doc="after this, another owner may take it over"),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint(*CATALOG_KEY_COLUMNS, name="pk_propeller_catalog_reservations"),
)
