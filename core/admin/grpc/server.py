"""The admin's gRPC server (``grpc.aio``): flyteidl's AdminService, DataProxyService and
SignalService on top of one :class:`~flytecore.admin.service.AdminService`.

Three ways to run it:

- :func:`serve` (async) / :func:`run_server` (blocking): build the admin from an
  :class:`~flytecore.admin.config.AdminConfig` (migrating the database and creating the
  configured projects) and serve until SIGINT or SIGTERM; what ``flytecore admin serve`` runs.
- :func:`serve_service` (async): serve an existing service until a stop event is set.
- :func:`start_in_thread`: serve an existing service from a background thread with its own
  event loop; returns the bound port and a function that stops it (tests, the sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

import grpc

from flytecore.admin.config import AdminConfig
from flytecore.admin.grpc.servicers import SERVED, add_servicers
from flytecore.errors import FlyteCoreError

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "SHUTDOWN_GRACE_SECONDS",
    "ServerStartError",
    "run_server",
    "serve",
    "serve_service",
    "start_in_thread",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
"""Only this machine by default: the embedded admin has no authentication."""
DEFAULT_GRPC_PORT = 30080
"""Flyte sandbox's admin port, so flytekit's and flytectl's sandbox configuration work unchanged."""
SHUTDOWN_GRACE_SECONDS = 5.0
"""How long calls in flight may finish when the server stops."""

ReadyCallback = Callable[[str], None]
"""Called once the server listens, with the address it is bound to (``host:port``)."""


class ServerStartError(FlyteCoreError):
    """The gRPC server could not start (typically: the port is taken)."""


def _address(host: str, port: int) -> str:
    # An IPv6 literal needs brackets in a gRPC target.
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _bind(server: grpc.aio.Server, host: str, port: int) -> int:
    """Bind ``host:port`` (0 picks a free port); returns the port bound."""
    address = _address(host, port)
    problem = (
        f"cannot listen on {address}: the address is taken or not available on this machine; "
        "is another admin running? choose another port (--port)"
    )
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpcio >= 1.60 raises (its message only says "Failed to bind")
        raise ServerStartError(problem) from None
    if bound == 0:  # what older grpcio versions do instead
        raise ServerStartError(problem)
    return bound


async def _add_health(server: grpc.aio.Server) -> object | None:
    """Serve ``grpc.health.v1.Health`` if grpcio-health-checking is installed (it is optional)."""
    try:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    except ImportError:
        return None
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", *(entry.descriptor.full_name for entry in SERVED)):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servicer


async def serve_service(
    service: object,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_GRPC_PORT,
    stop: asyncio.Event | None = None,
    on_ready: ReadyCallback | None = None,
    grace: float = SHUTDOWN_GRACE_SECONDS,
) -> None:
    """Serve ``service`` over gRPC until ``stop`` is set (forever if None), then stop gracefully.

    :param service: the admin service (any object with the snake_case methods of the RPCs).
    :param host: address to listen on; ``0.0.0.0`` for every interface.
    :param port: port to listen on; 0 picks a free one (see ``on_ready``).
    :param stop: set it to stop the server.
    :param on_ready: called with the bound ``host:port`` once the server accepts calls.
    :param grace: seconds that calls in flight get to finish when stopping.
    :raises ServerStartError: the address cannot be bound.
    """
    # gRPC sets SO_REUSEPORT by default: a second admin on a taken port would then start and
    # share the port with the first, each getting some of the calls. Refuse to start instead.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    add_servicers(server, service)
    health = await _add_health(server)
    bound = _bind(server, host, port)
    await server.start()
    log.info("admin gRPC server listening on %s", _address(host, bound))
    try:
        if on_ready is not None:
            on_ready(_address(host, bound))
        if stop is None:
            await server.wait_for_termination()
        else:
            await stop.wait()
    finally:
        if health is not None:
            await health.enter_graceful_shutdown()  # type: ignore[attr-defined]
        await server.stop(grace)
        log.info("admin gRPC server stopped")


@contextlib.contextmanager
def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT and SIGTERM while inside (main thread only, where signals arrive)."""
    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no add_signal_handler on Windows
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def serve(
    config: AdminConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_GRPC_PORT,
    on_ready: ReadyCallback | None = None,
) -> None:
    """Build the admin for ``config`` and serve it over gRPC until SIGINT or SIGTERM.

    The database is migrated and the configured projects created before the server binds.

    :raises ServerStartError: the address cannot be bound.
    """
    # Imported here: the service pulls in SQLAlchemy, Alembic and the compiler, which code
    # that only needs serve_service() with its own service object should not pay for.
    from flytecore.admin.service import AdminService

    # Migrations and bootstrap block; run them in a thread so the loop stays responsive to signals.
    service = await asyncio.to_thread(AdminService.create, config)
    stop = asyncio.Event()
    with _stop_on_signals(asyncio.get_running_loop(), stop):
        await serve_service(service, host=host, port=port, stop=stop, on_ready=on_ready)


def run_server(
    config: AdminConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_GRPC_PORT,
    on_ready: ReadyCallback | None = None,
) -> None:
    """:func:`serve` from synchronous code: blocks until SIGINT or SIGTERM stopped the server."""
    asyncio.run(serve(config, host=host, port=port, on_ready=on_ready))


def start_in_thread(service: object, port: int = 0, *, host: str = DEFAULT_HOST) -> tuple[int, Callable[[], None]]:
    """Serve ``service`` from a background thread with its own event loop.

    Returns once the server accepts calls: the bound port (a free one for ``port=0``) and a
    function that stops the server and waits for the thread (calling it again does nothing).

    :raises ServerStartError: the address cannot be bound.
    """
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    bound: list[int] = []
    failure: list[BaseException] = []

    def on_ready(address: str) -> None:
        bound.append(int(address.rsplit(":", 1)[1]))
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve_service(service, host=host, port=port, stop=stop, on_ready=on_ready))
        except BaseException as exc:
            failure.append(exc)
            if not ready.is_set():
                log.debug("admin gRPC server thread failed to start", exc_info=True)
            else:
                log.exception("admin gRPC server thread failed")
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            ready.set()  # a failed start must not leave the caller waiting

    thread = threading.Thread(target=run, name=f"flytecore-admin-grpc-{port}", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        raise failure[0]

    def stop_server() -> None:
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: already stopped
                loop.call_soon_threadsafe(stop.set)
            thread.join()

    return bound[0], stop_server
