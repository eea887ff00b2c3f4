"""Database engines and sessions for the admin: SQLite (embedded default) or PostgreSQL, with
the settings of :mod:`flytecore._db`."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from flytecore._db import SQLITE_BUSY_TIMEOUT_MS, WRITE, normalize_url
from flytecore._db import make_engine as _make_engine

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITE",
    "default_db_url",
    "flytecore_home",
    "make_engine",
    "make_session_factory",
    "normalize_url",
]

def flytecore_home() -> Path:
    """``$FLYTECORE_HOME``, by default ``~/.flytecore``: where the embedded admin keeps its data."""
    return Path(os.environ.get("FLYTECORE_HOME") or Path.home() / ".flytecore").expanduser()


def default_db_url() -> str:
    """The embedded default database: ``sqlite:///$FLYTECORE_HOME/admin.db``."""
    return f"sqlite:///{flytecore_home() / 'admin.db'}"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (default :func:`default_db_url`), configured for the admin
    (see :mod:`flytecore._db`).

    :param url: ``sqlite:///path/admin.db``, ``sqlite://`` (in memory, tests only) or
        ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` works too).
    :param echo: log every statement (debugging).
    """
    return _make_engine(url or default_db_url(), echo=echo)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit: the repository hands rows out detached."""
    return sessionmaker(bind=engine, expire_on_commit=False)
