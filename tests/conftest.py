"""Settings and fixtures shared by the whole test suite.

``postgres_server``: one real PostgreSQL server for the session, started from the installed
server binaries (RECIPES.md): initdb as the ``postgres`` user in a temp dir, ``pg_ctl start`` on
a free port on 127.0.0.1 with fsync off, stopped and removed at the end of the session. The
admin's and the propeller store's tests make their databases in it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI machines are shared and slow at times: no per-example deadline there, same examples each run.
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


PG_MISSING = "PostgreSQL server not installed (apt-get install postgresql); .ci/run installs it"


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


@pytest.fixture(autouse=True, scope="session")
def _flytecore_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every test (and the worker processes and subprocesses they start) out of the real
    ``~/.flytecore``: code archives, databases and storage go to a folder of this test run."""
    if not os.environ.get("FLYTECORE_HOME"):
        os.environ["FLYTECORE_HOME"] = str(tmp_path_factory.mktemp("flytecore-home"))
