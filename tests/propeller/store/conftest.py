"""Fixtures for the workflow store tests: a migrated, empty store of each kind.

Every test runs against a SQLite file in tmp_path and a database in the session's PostgreSQL
server (``postgres_server`` from tests/conftest.py). PostgreSQL databases are made once per
module and emptied per test: CREATE DATABASE plus migrations for every test would be slow.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from flytecore.propeller.store import SqlWorkflowStore
from flytecore.propeller.store.tables import metadata
from tests.conftest import PostgresServer

BACKENDS = ["sqlite", "postgresql"]

_database_numbers = itertools.count()


def new_postgres_database(server: PostgresServer) -> str:
    """Create an empty database in ``server``; returns its name."""
    name = f"store_{os.getpid()}_{next(_database_numbers)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    return name


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (nothing created in it yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'propeller.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = new_postgres_database(server)
    try:
        yield server.url(name)
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def migrated_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """One PostgreSQL database with the store schema per test module."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = new_postgres_database(server)
    try:
        SqlWorkflowStore.from_url(server.url(name)).close()
        yield server.url(name)
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated store with no workflows and no events, of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'propeller.db'}"
        SqlWorkflowStore.from_url(url).close()
        return url
    url = request.getfixturevalue("migrated_postgres_url")
    store = SqlWorkflowStore.from_url(url)
    try:
        with store.engine.begin() as conn:
            tables = ", ".join(table.name for table in metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        store.close()
    return str(url)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlWorkflowStore]:
    """A migrated, empty store of each kind."""
    with SqlWorkflowStore.from_url(store_url) as opened:
        yield opened


def count_rows(store: SqlWorkflowStore, table: str, execution_id: str | None = None) -> int:
    """Rows in one of the store's tables (optionally of one workflow), read behind its back."""
    sql = f"SELECT count(*) FROM {table}"
    params: dict[str, str] = {}
    if execution_id is not None:
        sql += " WHERE execution_id = :id"
        params["id"] = execution_id
    with store.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())
