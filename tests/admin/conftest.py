"""Fixtures for the admin tests: a database of each kind, migrated, and row factories.

Every repository test runs against SQLite (a file in tmp_path) and a real PostgreSQL server
that this session starts from the installed server binaries (RECIPES.md): initdb as the
``postgres`` user in a temp dir, ``pg_ctl start`` on a free port on 127.0.0.1 with fsync off,
one database per test, everything stopped and removed at the end of the session.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from flytecore.admin.db import Repository, make_engine, make_session_factory, models, upgrade

PG_MISSING = "PostgreSQL server not installed (apt-get install postgresql); .ci/run installs it"
BACKENDS = ["sqlite", "postgresql"]


def _newest_pg_bin() -> Path | None:
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    return max(candidates, key=version, default=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL server."""

    port: int
    datadir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str) -> None:
        """Run SQL outside a transaction (CREATE/DROP DATABASE need autocommit)."""
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL for this test session, or skip if its binaries are not installed."""
    pg_bin = _newest_pg_bin()
    if pg_bin is None:
        pytest.skip(PG_MISSING)
    datadir = Path(tempfile.mkdtemp(prefix="pgtest."))
    # initdb refuses to run as root: run the server as the postgres user then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    datadir.chmod(0o700)
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (datadir / "log").read_text() if (datadir / "log").exists() else ""
            pytest.fail(f"{args[0]} failed: {done.stdout}{done.stderr}{log}")

    try:
        run(str(pg_bin / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {datadir} -c fsync=off"
        run(
            str(pg_bin / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(datadir / "log"),
            "-w",
            "-o",
            options,
            "start",
        )
        yield PostgresServer(port, datadir)
    finally:
        subprocess.run(
            [*as_user, str(pg_bin / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(datadir, ignore_errors=True)


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
