"""Fixtures for the admin tests: a database of each kind, migrated, and row factories.

Every repository test runs against SQLite (a file in tmp_path) and a real PostgreSQL server
(``postgres_server``, started once per session by tests/conftest.py), one database per test.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.service import admin_pb2_grpc
from sqlalchemy import Engine, MetaData, event, select

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import Repository, make_engine, make_session_factory, models, upgrade
from flytecore.admin.grpc import start_in_thread
from flytecore.admin.service import AdminService

# The server fixture moved to tests/conftest.py (shared with the propeller's store tests);
# the names stay importable from here.
from tests.conftest import PG_MISSING, PostgresServer  # noqa: F401

BACKENDS = ["sqlite", "postgresql"]


_database_numbers = itertools.count()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'admin.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def migrated_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """One migrated PostgreSQL database per test module; :func:`engine` empties it per test."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    try:
        upgrade(server.url(name))
        yield server.url(name)
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'admin.db'}"
        upgrade(url)
    else:
        # Faster than a database per test (CREATE DATABASE + migrations ~0.3 s): empty the tables.
        url = request.getfixturevalue("migrated_postgres_url")
    engine = make_engine(url)
    if request.param == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(models.Base.metadata.tables)} CASCADE")
    yield engine
    engine.dispose()


@pytest.fixture
def repo(engine: Engine) -> Repository:
    """The repository on a migrated, empty database of each kind."""
    return Repository(make_session_factory(engine))


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs from now on."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


# -- row factories: the fields a test does not care about get plausible values --------------


def task(name: str = "app.tasks.add", version: str = "v1", **kw: Any) -> models.Task:
    fields: dict[str, Any] = dict(project="flytesnacks", domain="development", digest="d-" + version)
    return models.Task(name=name, version=version, **{**fields, "spec": b"\x0a\x01t", **kw})


def workflow(name: str = "app.wf", version: str = "v1", **kw: Any) -> models.Workflow:
    fields: dict[str, Any] = dict(project="flytesnacks", domain="development", digest="d-" + version)
    return models.Workflow(name=name, version=version, **{**fields, "spec": b"\x0a\x01w", **kw})


def launch_plan(name: str = "app.wf", version: str = "v1", **kw: Any) -> models.LaunchPlan:
    fields: dict[str, Any] = dict(
        project="flytesnacks",
        domain="development",
        digest="d-" + version,
        spec=b"\x0a\x01l",
        workflow_project="flytesnacks",
        workflow_domain="development",
        workflow_name=name,
        workflow_version=version,
    )
    return models.LaunchPlan(name=name, version=version, **{**fields, **kw})


def execution(name: str = "exec1", **kw: Any) -> models.Execution:
    fields: dict[str, Any] = dict(
        project="flytesnacks",
        domain="development",
        launch_plan_project="flytesnacks",
        launch_plan_domain="development",
        launch_plan_name="app.wf",
        launch_plan_version="v1",
        workflow_project="flytesnacks",
        workflow_domain="development",
        workflow_name="app.wf",
        workflow_version="v1",
        phase=1,
        spec=b"\x0a\x01e",
        inputs_uri="file:///meta/exec1/inputs.pb",
    )
    return models.Execution(name=name, **{**fields, **kw})


def node_execution(node_id: str = "n0", execution_name: str = "exec1", **kw: Any) -> models.NodeExecution:
    fields: dict[str, Any] = dict(execution_project="flytesnacks", execution_domain="development", phase=1)
    return models.NodeExecution(node_id=node_id, execution_name=execution_name, **{**fields, **kw})


def task_execution(
    node_id: str = "n0", retry_attempt: int = 0, execution_name: str = "exec1", **kw: Any
) -> models.TaskExecution:
    fields: dict[str, Any] = dict(
        execution_project="flytesnacks",
        execution_domain="development",
        task_project="flytesnacks",
        task_domain="development",
        task_name="app.tasks.add",
        task_version="v1",
        phase=1,
    )
    return models.TaskExecution(
        node_id=node_id, retry_attempt=retry_attempt, execution_name=execution_name, **{**fields, **kw}
    )


def columns(row: models.Base) -> dict[str, Any]:
    """A row's column values, to compare stored rows before and after."""
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


RowFactory = Callable[..., models.Base]


# -- an admin served by the real gRPC server, for a whole test module --------------------------


@dataclass
class ServedAdmin:
    """An admin service behind the real gRPC server, and where it keeps its data."""

    service: AdminService
    channel: grpc.Channel
    stub: admin_pb2_grpc.AdminServiceStub
    storage: Path


@pytest.fixture(scope="module", params=BACKENDS)
def served_admin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedAdmin]:
    """An AdminService on a migrated database of each kind (a SQLite file; the module's
    PostgreSQL database) with a storage folder, served by ``start_in_thread`` on a free port for
    one test module; a channel and an AdminService stub to call it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('admin') / 'admin.db'}"
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    storage = tmp_path_factory.mktemp("storage")
    service = AdminService.create(AdminConfig(db_url=url, storage_prefix=str(storage)))
    port, stop = start_in_thread(service)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield ServedAdmin(service, channel, admin_pb2_grpc.AdminServiceStub(channel), storage)
    finally:
        channel.close()
        stop()
        service.repo.engine.dispose()


def database_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the migrations' own included), read through ``engine``."""
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for name, table in sorted(tables.tables.items())
        }


def storage_files(folder: Path) -> dict[str, str]:
    """Every file below ``folder``: its relative path and the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def stored_state(admin: ServedAdmin) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, str]]:
    """What an admin has stored: its database rows and its storage files, to compare before and after."""
    return database_rows(admin.service.repo.engine), storage_files(admin.storage)

