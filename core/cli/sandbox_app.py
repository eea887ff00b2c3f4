"""The sandbox: the admin and the propeller wired together in one process.

DESIGN.md keeps the two planes apart (neither imports the other); this is the one place that
joins them, as Flyte's sandbox does with its cluster: the propeller is the admin's launch hook
(accepted executions go into its workflow store), and the admin is the propeller's event sink
and child-execution launcher (in-process calls). Tasks run in the local backend's pool of warm
worker processes; everything is persisted under one folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from flytecore.admin.config import AdminConfig, flytecore_home
from flytecore.admin.grpc.server import RunningAdmin, start_in_thread
from flytecore.admin.metrics import AdminMetrics
from flytecore.admin.service import AdminService
from flytecore.propeller.backends.local import WorkerPool
from flytecore.propeller.backends.local.executor import ContainerExecutor, LocalBackend
from flytecore.propeller.children import AdminChildExecutions
from flytecore.propeller.context import EngineConfig, Services
from flytecore.propeller.data import FsspecDataStore
from flytecore.propeller.engine import Engine
from flytecore.propeller.metrics import PropellerMetrics
from flytecore.propeller.runner import Propeller
from flytecore.propeller.sink import AdminEventSink
from flytecore.propeller.store import SqlWorkflowStore

__all__ = ["Sandbox", "SandboxConfig"]


def _default_workers() -> int:
    return max(2, os.cpu_count() or 2)


@attrs.define(kw_only=True)
class SandboxConfig:
    """Where the sandbox keeps its data and how many workers run tasks.

    :ivar home: the folder for the database, the workflow store, storage and logs.
    :ivar workers: worker processes for tasks.
    :ivar admin: the admin's settings (default: under ``home``).
    :ivar store_url: the propeller's workflow store (default: a SQLite file under ``home``).
    :ivar host: the address the servers listen on.
    :ivar grpc_port: the admin's gRPC port (0: a free one).
    :ivar http_port: the admin's HTTP port (0: a free one; None: no HTTP server).
    :ivar auth_tokens: bearer tokens every call must carry (None: no authentication).
    """

    home: Path = attrs.field(factory=flytecore_home, converter=Path)
    workers: int = attrs.field(factory=_default_workers)
    admin: AdminConfig | None = None
    store_url: str | None = None
    host: str = "127.0.0.1"
    grpc_port: int = 30080
    http_port: int | None = 30081
    auth_tokens: Any = None

    def admin_config(self) -> AdminConfig:
        """The admin's settings: the given ones, else files under ``home``."""
        if self.admin is not None:
            return self.admin
        return AdminConfig(db_url=f"sqlite:///{self.home / 'admin.db'}", storage_prefix=str(self.home / "storage"))


class Sandbox:
    """Admin + propeller + worker pool, started and stopped together."""

    def __init__(self, config: SandboxConfig | None = None, *, host: Any = None) -> None:
        self.config = config or SandboxConfig()
        home = self.config.home
        home.mkdir(parents=True, exist_ok=True)
        from flytecore.plugin import get_host

        host = host or get_host()
        self.data = FsspecDataStore()
        self.pool = WorkerPool(self.config.workers, log_dir=home / "logs" / "workers")
        executor = ContainerExecutor(self.pool, self.data, home / "logs" / "tasks")
        backend = LocalBackend(executor, [name for name in host.task_types])
        self.store = SqlWorkflowStore.from_url(self.config.store_url or f"sqlite:///{home / 'propeller.db'}")
        self.engine = Engine(Services(data=self.data, tasks=backend), EngineConfig(producer_id="flytecore-sandbox"))
        # One registry for both planes: the admin's /metrics shows the propeller's metrics too.
        self.metrics = AdminMetrics()
        self.propeller = Propeller(self.store, self.engine, metrics=PropellerMetrics(self.metrics.registry))
        self.propeller.metrics.watch_free_workers(lambda: self.pool.free_workers)
        # The two planes meet here: the propeller launches for the admin, the admin takes its events.
        self.admin = AdminService.create(self.config.admin_config(), host, launcher=self.propeller)
        self.propeller.sink = AdminEventSink(self.admin)
        self.engine.services.children = AdminChildExecutions(self.admin)
        self._started = False
        self.servers: RunningAdmin | None = None

    def start(self) -> Sandbox:
        """Start the propeller's loop (the admin serves in-process calls as soon as it exists)."""
        if not self._started:
            self.propeller.start()
            self._started = True
        return self

    def serve(self) -> RunningAdmin:
        """Start the admin's gRPC and HTTP servers (in a background thread) and the propeller.

        :raises ServerStartError: a port is taken.
        """
        if self.servers is None:
            c = self.config
            self.servers = start_in_thread(
                self.admin, c.grpc_port, host=c.host, http_port=c.http_port, auth_tokens=c.auth_tokens, metrics=self.metrics
            )
        self.start()
        return self.servers

    def stop(self) -> None:
        """Stop the servers, the propeller, the workers and the store (idempotent)."""
        if self.servers is not None:
            self.servers.stop()
            self.servers = None
        if self._started:
            self.propeller.stop()
            self._started = False
        self.pool.close()
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
