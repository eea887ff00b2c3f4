"""The data plane as the CLI assembles it: workflow store, worker pool, local backend, engine,
task cache and the propeller loop, connected to an admin *client*.

Used twice, so the two stay alike: by the sandbox (the client is the admin service itself,
called in-process) and by ``flytecore propeller run`` (the client is
:class:`~flytecore.propeller.sink.GrpcAdminClient`). This module imports only the propeller;
the admin is whatever client :meth:`DataPlane.connect` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from flytecore.propeller.backends.local import WorkerPool
from flytecore.propeller.backends.local.executor import ContainerExecutor, LocalBackend
from flytecore.propeller.catalog import SqlCatalog
from flytecore.propeller.children import AdminChildExecutions
from flytecore.propeller.context import EngineConfig, Services
from flytecore.propeller.data import FsspecDataStore
from flytecore.propeller.engine import Engine
from flytecore.propeller.metrics import PropellerMetrics
from flytecore.propeller.runner import Propeller
from flytecore.propeller.signals import AdminSignals
from flytecore.propeller.sink import AdminEventSink
from flytecore.propeller.store import SqlWorkflowStore

__all__ = ["DataPlane", "build_data_plane"]


@attrs.define
class DataPlane:
    """The propeller and what it runs on."""

    data: FsspecDataStore
    pool: WorkerPool
    store: SqlWorkflowStore
    engine: Engine
    propeller: Propeller

    def connect(self, client: Any) -> None:
        """Send events to, launch child executions through and read gate signals from ``client``
        (the admin service in-process, or a :class:`~flytecore.propeller.sink.GrpcAdminClient`)."""
        self.propeller.sink = AdminEventSink(client)
        self.engine.services.children = AdminChildExecutions(client)
        self.engine.services.signals = AdminSignals(client)

    def close(self) -> None:
        """Stop the loop, the workers and the store (idempotent)."""
        self.propeller.stop()
        self.pool.close()
        self.store.close()


def build_data_plane(
    *,
    home: Path,
    workers: int,
    store_url: str | None = None,
    host: Any = None,
    metrics: PropellerMetrics | None = None,
    producer_id: str = "flytecore-propeller",
) -> DataPlane:
    """A data plane keeping its files under ``home`` (worker and task logs; the workflow store
    too unless ``store_url`` names one), with ``workers`` worker processes for tasks.

    :param host: the plugin host (the installed task types); the default one if None.
    :param metrics: where the propeller records its metrics (a registry of its own if None).
    """
    from flytecore.plugin import get_host

    host = host or get_host()
    home.mkdir(parents=True, exist_ok=True)
    data = FsspecDataStore()
    pool = WorkerPool(workers, log_dir=home / "logs" / "workers")
    try:
        executor = ContainerExecutor(pool, data, home / "logs" / "tasks", work_dir=home / "work")
        backend = LocalBackend(executor, [name for name in host.task_types])
        store = SqlWorkflowStore.from_url(store_url or f"sqlite:///{home / 'propeller.db'}")
    except BaseException:
        pool.close()
        raise
    engine = Engine(Services(data=data, tasks=backend), EngineConfig(producer_id=producer_id))
    engine.services.catalog = SqlCatalog(store.engine)  # the task cache, in the store's database
    propeller = Propeller(store, engine, metrics=metrics)
    propeller.metrics.watch_free_workers(lambda: pool.free_workers)
    return DataPlane(data=data, pool=pool, store=store, engine=engine, propeller=propeller)
