"""The admin in-process on real gRPC, and flytekit's client on it.

tests/flytekit runs only in tox's `flytekit` env, which exists for flytekit: without flytekit
this conftest fails at once. The core envs leave the folder out (``--ignore=tests/flytekit``);
anyone who runs it in an env without flytekit gets one clear error instead of a row of skips.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("flytekit") is None:
    raise pytest.UsageError(
        "tests/flytekit needs flytekit, which only tox's `flytekit` env installs: run "
        "`tox -e flytekit` (the core envs run `pytest tests --ignore=tests/flytekit`)"
    )

from collections.abc import Iterator
from pathlib import Path

from flytekit.clients.friendly import SynchronousFlyteClient
from flytekit.configuration import PlatformConfig
from flytekit.models.project import Project

from flytecore.admin.config import AdminConfig
from flytecore.admin.grpc import start_in_thread
from flytecore.admin.service import AdminService

PROJECT = "flytekit-e2e"
DOMAIN = "development"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """An admin with a SQLite file and a storage folder in tmp_path, serving gRPC on a free port
    of 127.0.0.1; ``host:port``."""
    service = AdminService.create(
        AdminConfig(db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=str(tmp_path / "store"))
    )
    port, stop = start_in_thread(service)
    yield f"127.0.0.1:{port}"
    stop()


@pytest.fixture
def platform(endpoint: str) -> PlatformConfig:
    """flytekit's connection settings for the admin (no TLS, no auth)."""
    return PlatformConfig(endpoint=endpoint, insecure=True)


@pytest.fixture
def client(platform: PlatformConfig) -> SynchronousFlyteClient:
    """flytekit's gRPC client, with the project PROJECT registered through it."""
    client = SynchronousFlyteClient(platform)
    client.register_project(Project(PROJECT, "flytekit end to end", "registered by flytekit's client"))
    return client
