"""Engine settings: SQLite pragmas, URL handling, the default location."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from flytecore.admin.db import default_db_url, make_engine
from flytecore.admin.db.engine import normalize_url


def test_sqlite_is_configured_for_a_small_server(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'admin.db'}")
    try:
        with engine.connect() as conn:
            pragma = {name: conn.execute(text(f"PRAGMA {name}")).scalar() for name in
                      ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}  # fmt: skip
    finally:
        engine.dispose()
    # synchronous: 1 is NORMAL
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
    assert (tmp_path / "deep" / "er" / "admin.db").exists()


def test_default_url_lives_in_flytecore_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYTECORE_HOME", str(tmp_path))
    assert default_db_url() == f"sqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.delenv("FLYTECORE_HOME")
    assert default_db_url() == f"sqlite:///{Path.home() / '.flytecore' / 'admin.db'}"


def test_postgres_urls_get_the_psycopg3_driver() -> None:
    assert normalize_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert make_engine("postgresql://u@localhost/db").dialect.driver == "psycopg"


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        make_engine("mysql://u@h/db")
