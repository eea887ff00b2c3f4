"""Schema migrations of the workflow store, driven from Python (no alembic.ini at runtime).

Alembic, not ``create_all``: a local store outlives flytecore upgrades (workflows in flight are
the point of a durable store), so later schema changes must migrate it in place. The store has
its own version table (:data:`~.tables.VERSION_TABLE`) and migration lock, so it can share a
database with the admin and the two migrate independently.

Opening a store checks the version table with one query and loads Alembic only if the schema
is missing or older than :data:`HEAD` (a test checks that constant against the revisions).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from flytecore.propeller.store._engine import WRITE
from flytecore.propeller.store.errors import SchemaMismatch
from flytecore.propeller.store.tables import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "upgrade", "current_revision", "alembic_config", "ensure_schema"]

HEAD = "0002"
"""The newest revision this flytecore ships."""

# Any constant works; different from the admin's lock so the two never wait for each other.
_PG_MIGRATION_LOCK = 0x50726F70


@contextmanager
def alembic_config(connection: Connection | None = None) -> Iterator[Config]:
    """An Alembic config pointing at the packaged migrations, optionally bound to ``connection``."""
    from alembic.config import Config

    package = importlib.resources.files("flytecore.propeller.store") / "migrations"
    with importlib.resources.as_file(package) as location:
        config = Config()
        config.set_main_option("script_location", str(Path(location)))
        if connection is not None:
            config.attributes["connection"] = connection
        yield config


def current_revision(engine: Engine) -> str | None:
    """The store schema's revision in the database; None if the store was never created there."""
    with engine.connect() as connection:
        try:
            return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        except DBAPIError:
            # No version table yet. PostgreSQL aborted the transaction: start afresh.
            connection.rollback()
            return None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the store schema to ``revision``; returns the revision afterwards.

    Safe to run from two processes at once: the migration holds the database's write lock
    (SQLite) or an advisory lock (PostgreSQL), so the second one finds the work done.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        connection = connection.execution_options(**WRITE)
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            with alembic_config(connection) as config:
                command.upgrade(config, revision)
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Create or migrate the store schema unless it is at :data:`HEAD` already.

    Raises :class:`SchemaMismatch` if the database was migrated by a newer flytecore.
    """
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if revision is not None and revision not in _known_revisions():
        raise SchemaMismatch(engine.url.render_as_string(hide_password=True), revision, HEAD)
    upgrade(engine)


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    with alembic_config() as config:
        return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
