"""SQLAlchemy engines for flytecore's two databases: the admin's and the propeller's workflow
store. Both planes need the same SQLite and PostgreSQL settings and may not import each other,
so the settings live here, below both.

SQLite gets what a small server needs: WAL (readers never block the writer),
``synchronous=NORMAL`` (a commit survives a crash of the process; only a power cut can lose the
last commits), foreign keys on, a busy timeout so a second writer waits instead of failing, and
explicitly begun transactions so that a write takes SQLite's write lock up front
(``BEGIN IMMEDIATE``): a deferred transaction that reads first and writes later can fail with
"database is locked" without waiting.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "WRITE", "make_engine", "normalize_url"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before giving up."""

WRITE = {"flytecore_write": True}
"""Execution options marking a connection's transaction as a write: SQLite begins it IMMEDIATE."""


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs that name no driver.

    ``postgresql://`` and ``postgres://`` (what users copy from their cloud console) would make
    SQLAlchemy look for psycopg2, which flytecore does not install.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False, file_only: str | None = None) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``).

    :param echo: log every statement (debugging).
    :param file_only: refuse an in-memory SQLite database, saying this is what needs a file
        (each pooled connection would get its own empty in-memory database).
    """
    sa_url = make_url(normalize_url(url))
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        database = sa_url.database
        in_memory = not database or database == ":memory:" or database.startswith("file:")
        if in_memory and file_only:
            raise ValueError(f"{file_only} needs a SQLite file, not {url!r}")
        if not in_memory:
            # A fresh FLYTECORE_HOME does not exist yet; SQLite would fail with "unable to open".
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        engine = create_engine(sa_url, echo=echo)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        # pre_ping: a server restart must not hand the next call a dead pooled connection.
        return create_engine(sa_url, echo=echo, pool_pre_ping=True)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://...")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to the "begin" hook below instead of the sqlite3 module,
        # which would begin lazily and always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("flytecore_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _enable_wal(cursor: Any) -> None:
    # Switching a new database file to WAL takes an exclusive lock and does not wait for one:
    # processes opening a fresh file at the same moment would fail with "database is locked".
    # Once the file is in WAL mode (it stays so), the pragma needs no lock.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def run_alembic_env(
    metadata: Any,
    *,
    make: Any,
    version_table: str = "alembic_version",
    include_object: Any = None,
) -> None:
    """The body of an Alembic ``env.py``: migrate over the connection the caller handed over in
    ``config.attributes["connection"]``, or over a new one for ``-x db=URL`` (developers
    autogenerating a revision against ``metadata``; review it by hand).

    :param make: makes an engine for a URL (the database's own :func:`make_engine` wrapper).
    :param version_table: Alembic's version table (the workflow store has its own, so that it
        can share the admin's database).
    :param include_object: Alembic's filter: which tables autogenerate may touch.
    """
    from alembic import context

    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run them against a database")

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            include_object=include_object,
            compare_type=True,
            # SQLite cannot ALTER most things; batch mode (copy and move) is how revisions do it.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x db=URL ...")
    engine = make(url)
    try:
        with engine.connect() as conn:
            run(conn.execution_options(**WRITE))
    finally:
        engine.dispose()
