"""The sandbox: the admin and the propeller wired together in one process.

DESIGN.md keeps the two planes apart (neither imports the other); this is the one place that
joins them, as Flyte's sandbox does with its cluster: the propeller is the admin's launch hook
(accepted executions go into its workflow store), and the admin is the propeller's event sink
and child-execution launcher (in-process calls). While the sandbox runs, the events go to the
admin from a process of its own, over the same database
(:mod:`~flytecore.cli.sandbox_events`: the admin's ingestion then runs beside the propeller
rather than under its interpreter lock). Tasks run in the local backend's pool of warm worker
processes; everything is persisted under one folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import attrs

from flytecore.admin.config import AdminConfig, flytecore_home
from flytecore.admin.grpc.server import RunningAdmin, start_in_thread
from flytecore.admin.metrics import AdminMetrics
from flytecore.admin.service import AdminService
from flytecore.cli.data_plane import build_data_plane
from flytecore.cli.sandbox_events import EventProcess
from flytecore.propeller.metrics import PropellerMetrics

__all__ = ["Sandbox", "SandboxConfig"]

log = logging.getLogger(__name__)


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
    :ivar event_process: deliver the propeller's events to the admin from a process of its own
        while the sandbox runs (False: from the propeller's loop, in the sandbox's process).
    """

    home: Path = attrs.field(factory=flytecore_home, converter=Path)
    workers: int = attrs.field(factory=_default_workers)
    admin: AdminConfig | None = None
    store_url: str | None = None
    host: str = "127.0.0.1"
    grpc_port: int = 30080
    http_port: int | None = 30081
    auth_tokens: Any = None
    event_process: bool = True

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
        # One registry for both planes: the admin's /metrics shows the propeller's metrics too.
        self.metrics = AdminMetrics()
        self.plane = build_data_plane(
            home=home,
            workers=self.config.workers,
            store_url=self.config.store_url,
            host=host,
            metrics=PropellerMetrics(self.metrics.registry),
            producer_id="flytecore-sandbox",
        )
        self.data, self.pool, self.store = self.plane.data, self.plane.pool, self.plane.store
        self.engine, self.propeller = self.plane.engine, self.plane.propeller
        # The two planes meet here: the propeller launches for the admin, the admin takes its
        # events (and launches child executions, answers gate signals), all in-process calls.
        try:
            self.admin = AdminService.create(self.config.admin_config(), host, launcher=self.propeller)
        except BaseException:
            self.plane.close()
            raise
        self.plane.connect(self.admin)
        self._sink = self.propeller.sink  # the in-process delivery, when there is no event process
        self.admin.on_signal_set = self.propeller.wake  # a set signal opens its gate at once
        self.events: EventProcess | None = None
        self._started = False
        self.servers: RunningAdmin | None = None

    def start(self) -> Sandbox:
        """Start the propeller's loop (the admin serves in-process calls as soon as it exists)."""
        if not self._started:
            if self.config.event_process:
                self._start_events()
            self.propeller.start()
            self._started = True
        return self

    def wait_until_delivering(self, timeout: float = 60.0) -> bool:
        """Wait until the event process delivers the events (a moment after :meth:`start`: its
        imports), as a benchmark does before its clock starts; True at once without one."""
        events = self.events
        return events is None or events.delivering.wait(timeout)

    def _start_events(self) -> None:
        engine = self.store.engine
        self.events = EventProcess(
            self.admin.config,
            engine.url.render_as_string(hide_password=False),
            metrics=self.propeller.metrics,
            log_path=self.config.home / "logs" / "events.log",
            on_ready=self._events_ready,
            on_exit=self._events_ended,
        )

    def _events_ready(self) -> None:
        """The event process can deliver: the propeller's loop stops delivering, then it goes."""
        events = self.events
        if events is not None:
            self.propeller.deliver_elsewhere(events.kick, events.go)

    def _events_ended(self, why: str) -> None:
        """The event process died: the propeller's loop delivers from now on."""
        log.error("%s; the sandbox's own process delivers events from now on", why)
        self.propeller.deliver_here(self._sink)

    def _stop_events(self) -> None:
        events, self.events = self.events, None
        if events is None:
            return
        left = events.stop()
        self.propeller.deliver_here(self._sink)
        if left:
            log.warning("at least %d events are left to deliver; the sandbox delivers them when it starts again", left)

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
        self._stop_events()  # after the propeller: a last pass over everything it saved
        self.pool.close()
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
