"""Settings and fixtures shared by the whole test suite.

``postgres_server``: one real PostgreSQL server for the session, started from the installed
server binaries (RECIPES.md): initdb as the ``postgres`` user in a temp dir, ``pg_ctl start`` on
a free port on 127.0.0.1 with fsync off, stopped and removed at the end of the session. The
admin's and the propeller store's tests make their databases in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from flytecore.testing.postgres import (
    PG_MISSING,
    PostgresServer,
    PostgresUnavailable,
    newest_pg_bin,
    temporary_postgres,
)

# CI machines are shared and slow at times: no per-example deadline there, same examples each run.
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL for this test session, or skip if its binaries are not installed."""
    if newest_pg_bin() is None:
        pytest.skip(PG_MISSING)
    try:
        with temporary_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(autouse=True, scope="session")
def _flytecore_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every test (and the worker processes and subprocesses they start) out of the real
    ``~/.flytecore``: code archives, databases and storage go to a folder of this test run."""
    if not os.environ.get("FLYTECORE_HOME"):
        os.environ["FLYTECORE_HOME"] = str(tmp_path_factory.mktemp("flytecore-home"))
