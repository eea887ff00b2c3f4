"""SQLAlchemy engines for the workflow store: SQLite (local default) or PostgreSQL.

The settings of :mod:`flytecore._db`, shared with the admin's database: WAL so readers never block the writer, ``synchronous=NORMAL`` (a commit survives
a crash of the process; only a power cut can lose the last commits), a busy timeout so a second
writer waits instead of failing, and explicitly begun transactions so that writes take SQLite's
write lock up front (``BEGIN IMMEDIATE``). That lock is also how two propellers on one SQLite
file are kept from leasing the same workflow.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from flytecore._db import SQLITE_BUSY_TIMEOUT_MS, WRITE, normalize_url
from flytecore._db import make_engine as _make_engine

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "WRITE", "default_store_url", "make_engine", "normalize_url"]


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``) set up for the store."""
    return _make_engine(url, echo=echo, file_only="the workflow store")


def default_store_url() -> str:
    """The local default: ``sqlite:///$FLYTECORE_HOME/propeller.db`` (``~/.flytecore`` unset)."""
    home = Path(os.environ.get("FLYTECORE_HOME") or Path.home() / ".flytecore").expanduser()
    return f"sqlite:///{home / 'propeller.db'}"
