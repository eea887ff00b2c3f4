"""Database engines and sessions for the admin: SQLite (embedded default) or PostgreSQL.

SQLite gets the settings a small server needs: WAL (readers never block the writer),
``synchronous=NORMAL`` (durable at checkpoints, fast commits), foreign keys on, and a busy timeout
so a second writer waits instead of failing. Transactions are begun explicitly so that a write
transaction can take SQLite's write lock up front (``BEGIN IMMEDIATE``); a deferred transaction
that reads first and writes later can fail with "database is locked" without waiting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITE",
    "default_db_url",
    "flytecore_home",
    "make_engine",
    "make_session_factory",
    "normalize_url",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before giving up."""

WRITE = {"flytecore_write": True}
"""Execution options marking a connection's transaction as a write: SQLite begins it IMMEDIATE."""


def flytecore_home() -> Path:
    """``$FLYTECORE_HOME``, by default ``~/.flytecore``: where the embedded admin keeps its data."""
    return Path(os.environ.get("FLYTECORE_HOME") or Path.home() / ".flytecore").expanduser()


def default_db_url() -> str:
    """The embedded default database: ``sqlite:///$FLYTECORE_HOME/admin.db``."""
    return f"sqlite:///{flytecore_home() / 'admin.db'}"


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs that name no driver.

    ``postgresql://`` and ``postgres://`` (what users copy from their cloud console) would make
    SQLAlchemy look for psycopg2, which flytecore does not install.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (default :func:`default_db_url`), configured for the admin.

    :param url: ``sqlite:///path/admin.db``, ``sqlite://`` (in memory, tests only) or
        ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` works too).
    :param echo: log every statement (debugging).
    """
    sa_url = make_url(normalize_url(url or default_db_url()))
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # A fresh FLYTECORE_HOME does not exist yet; SQLite would fail with "unable to open".
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url, echo=echo)
        _configure_sqlite(engine)
        return engine
    if sa_url.get_backend_name() == "postgresql":
        # pre_ping: a server restart must not hand the next request a dead pooled connection.
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
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("flytecore_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit: the repository hands rows out detached."""
    return sessionmaker(bind=engine, expire_on_commit=False)
