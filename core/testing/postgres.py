"""A throwaway PostgreSQL server from the installed server binaries, for tests and benchmarks.

``initdb`` in a temp dir (as the ``postgres`` user when running as root: initdb refuses root),
``pg_ctl start`` on a free port on 127.0.0.1 with fsync off, stopped and removed on exit. Needs
the server package (Debian: ``apt-get install postgresql``) and psycopg for :meth:`admin_sql`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PG_MISSING", "PostgresServer", "PostgresUnavailable", "newest_pg_bin", "temporary_postgres"]

PG_MISSING = "PostgreSQL server not installed (apt-get install postgresql); .ci/run installs it"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing, or the server did not start (the message says which)."""


def newest_pg_bin() -> Path | None:
    """The ``bin`` folder of the newest installed PostgreSQL server, None if there is none."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    return max(candidates, key=version, default=None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL server."""

    port: int
    datadir: Path

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str) -> None:
        """Run SQL outside a transaction (CREATE/DROP DATABASE need autocommit)."""
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(sql)


@contextmanager
def temporary_postgres() -> Iterator[PostgresServer]:
    """Start a server, yield it, stop and remove it.

    :raises PostgresUnavailable: no server binaries, or initdb / pg_ctl failed (with its log).
    """
    pg_bin = newest_pg_bin()
    if pg_bin is None:
        raise PostgresUnavailable(PG_MISSING)
    datadir = Path(tempfile.mkdtemp(prefix="pgtest."))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    datadir.chmod(0o700)
    port = free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (datadir / "log").read_text() if (datadir / "log").exists() else ""
            raise PostgresUnavailable(f"{args[0]} failed: {done.stdout}{done.stderr}{log}")

    try:
        run(str(pg_bin / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {datadir} -c fsync=off"
        run(str(pg_bin / "pg_ctl"), "-D", str(datadir), "-l", str(datadir / "log"), "-w", "-o", options, "start")
        yield PostgresServer(port, datadir)
    finally:
        subprocess.run(
            [*as_user, str(pg_bin / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(datadir, ignore_errors=True)
