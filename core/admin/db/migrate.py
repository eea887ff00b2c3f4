"""Schema migrations of the admin database, driven from Python (no alembic.ini at runtime).

The revisions ship inside the package (``flytecore/admin/db/migrations``), so an installed
wheel can migrate a database on its own: ``flytecore admin migrate`` and ``admin serve`` call
:func:`upgrade`.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from flytecore.admin.db.engine import WRITE, make_engine

__all__ = ["upgrade", "current_revision", "head_revision", "alembic_config"]

# Any constant works; it only has to be the same for every flytecore admin migrating one database.
_PG_MIGRATION_LOCK = 0x466C7974


@contextmanager
def _script_location() -> Iterator[Path]:
    # as_file: a real directory even if the package ever ships zipped.
    with importlib.resources.as_file(importlib.resources.files("flytecore.admin.db") / "migrations") as path:
        yield Path(path)


@contextmanager
def alembic_config(connection: Connection | None = None) -> Iterator[Config]:
    """An Alembic config pointing at the packaged migrations, optionally bound to ``connection``."""
    with _script_location() as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        if connection is not None:
            config.attributes["connection"] = connection
        yield config


def head_revision() -> str:
    """The newest revision this flytecore ships."""
    with alembic_config() as config:
        head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def current_revision(url: str | None = None) -> str | None:
    """The revision the database at ``url`` is at; None for a database never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` (default: the embedded SQLite file) to ``revision``.

    Safe to run from two processes at once: the migration holds the database's write lock
    (SQLite) or an advisory lock (PostgreSQL), so the second one finds the work done.
    Returns the revision the database is at afterwards.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**WRITE)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                with alembic_config(connection) as config:
                    command.upgrade(config, revision)
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
