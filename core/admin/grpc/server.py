"""The admin's servers: gRPC (``grpc.aio``: flyteidl's AdminService, DataProxyService and
SignalService) and, beside it on the same event loop, HTTP (:mod:`flytecore.admin.http`:
health, metrics, signed data URLs), both on top of one :class:`~flytecore.admin.service.AdminService`.

Both servers share one :class:`~flytecore.admin.metrics.AdminMetrics` (the gRPC
:class:`~flytecore.admin.grpc.interceptors.MetricsInterceptor` and the HTTP middleware record
into it) and, when given, one set of bearer tokens (:mod:`flytecore.admin.auth`).

Three ways to run them:

- :func:`serve` (async) / :func:`run_server` (blocking): build the admin from an
  :class:`~flytecore.admin.config.AdminConfig` (migrating the database and creating the
  configured projects) and serve until SIGINT or SIGTERM; what ``flytecore admin serve`` runs.
- :func:`serve_service` (async): serve an existing service until a stop event is set.
- :func:`start_in_thread`: serve an existing service from a background thread with its own
  event loop; returns a :class:`RunningAdmin` with the bound ports and ``stop()`` (tests, the
  sandbox). It still unpacks as ``port, stop = start_in_thread(service)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from flytecore.admin.auth import BearerTokens
from flytecore.admin.config import AdminConfig
from flytecore.admin.grpc.interceptors import AuthInterceptor, MetricsInterceptor
from flytecore.admin.grpc.servicers import SERVED, add_servicers
from flytecore.admin.http import DEFAULT_HTTP_PORT, RunningHttp, create_app, start_http
from flytecore.admin.metrics import AdminMetrics
from flytecore.admin.service.limits import MAX_GRPC_MESSAGE_BYTES
from flytecore.errors import FlyteCoreError

if TYPE_CHECKING:  # the service package pulls in SQLAlchemy and the compiler (see serve())
    from flytecore.admin.service.launcher import Launcher

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "SHUTDOWN_GRACE_SECONDS",
    "RunningAdmin",
    "ServedAddresses",
    "ServerStartError",
    "run_server",
    "serve",
    "serve_service",
    "start_in_thread",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
"""Only this machine by default: the admin authenticates nobody unless given tokens."""
DEFAULT_GRPC_PORT = 30080
"""Flyte sandbox's admin port, so flytekit's and flytectl's sandbox configuration work unchanged."""
SHUTDOWN_GRACE_SECONDS = 5.0
"""How long calls in flight may finish when the server stops."""

ReadyCallback = Callable[[str], None]
"""Called once the servers listen, with the address the gRPC server is bound to (``host:port``)."""


@attrs.frozen
class ServedAddresses:
    """Where a running admin listens.

    :ivar grpc_address: ``host:port`` of the gRPC server.
    :ivar grpc_port: its port.
    :ivar http_url: ``http://host:port`` of the HTTP server; None when it was not started.
    :ivar http_port: its port, or None.
    """

    grpc_address: str
    grpc_port: int
    http_url: str | None = None
    http_port: int | None = None


StartedCallback = Callable[[ServedAddresses], None]
"""Called once the servers listen, with both of their addresses."""


class ServerStartError(FlyteCoreError):
    """The gRPC or HTTP server could not start (typically: the port is taken)."""


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


async def _add_health(server: grpc.aio.Server) -> health.aio.HealthServicer:
    """Serve ``grpc.health.v1.Health``: SERVING for the empty name and each flyteidl service
    (what Kubernetes' gRPC probes and grpc_health_probe ask)."""
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
    http_port: int | None = DEFAULT_HTTP_PORT,
    auth_tokens: BearerTokens | None = None,
    metrics: AdminMetrics | None = None,
    on_started: StartedCallback | None = None,
) -> None:
    """Serve ``service`` over gRPC and HTTP until ``stop`` is set (forever if None), then stop
    both gracefully.

    :param service: the admin service (any object with the snake_case methods of the RPCs).
    :param host: address to listen on; ``0.0.0.0`` for every interface.
    :param port: gRPC port; 0 picks a free one (see ``on_ready``/``on_started``).
    :param stop: set it to stop the servers.
    :param on_ready: called with the bound gRPC ``host:port`` once both servers accept calls.
    :param grace: seconds that calls in flight get to finish when stopping.
    :param http_port: HTTP port; 0 picks a free one; None serves no HTTP.
    :param auth_tokens: bearer tokens every gRPC call and HTTP request must carry (the signed
        data URLs excepted); None: no authentication.
    :param metrics: where both servers record calls; a new registry if None.
    :param on_started: called with both servers' addresses once both accept calls.
    :raises ServerStartError: an address cannot be bound.
    """
    metrics = metrics if metrics is not None else AdminMetrics()
    # Metrics first: it then also counts the calls authentication refuses.
    interceptors: list[grpc.aio.ServerInterceptor] = [MetricsInterceptor(metrics)]
    if auth_tokens is not None:
        interceptors.append(AuthInterceptor(auth_tokens))
    # gRPC sets SO_REUSEPORT by default: a second admin on a taken port would then start and
    # share the port with the first, each getting some of the calls. Refuse to start instead.
    options = [
        ("grpc.so_reuseport", 0),
        # Above every size limit of the service, so that an oversize request reaches the service
        # and is refused there naming what was too big (not by gRPC with a bare RESOURCE_EXHAUSTED).
        ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_BYTES),
    ]
    server = grpc.aio.server(interceptors=interceptors, options=options)
    add_servicers(server, service)
    health_servicer = await _add_health(server)
    # HTTP first: an aiohttp server stops cleanly at once, while a gRPC server that bound a port
    # but never started keeps it until it is garbage collected. So if either port is taken,
    # nothing is left listening.
    http = await _start_http(service, host, http_port, auth_tokens, metrics, grace)
    try:
        bound = _bind(server, host, port)
        await server.start()
    except BaseException:
        if http is not None:
            await http.stop()
        raise
    addresses = ServedAddresses(
        _address(host, bound), bound, http.url if http else None, http.port if http else None
    )
    log.info("admin gRPC server listening on %s, HTTP on %s", addresses.grpc_address, addresses.http_url)
    try:
        if on_started is not None:
            on_started(addresses)
        if on_ready is not None:
            on_ready(addresses.grpc_address)
        if stop is None:
            await server.wait_for_termination()
        else:
            await stop.wait()
    finally:
        await health_servicer.enter_graceful_shutdown()  # NOT_SERVING while calls in flight finish
        # Both stop together: each gets the grace period for its calls in flight.
        await asyncio.gather(server.stop(grace), http.stop() if http else asyncio.sleep(0))
        log.info("admin servers stopped")


async def _start_http(
    service: object,
    host: str,
    port: int | None,
    tokens: BearerTokens | None,
    metrics: AdminMetrics,
    grace: float,
) -> RunningHttp | None:
    """Start the HTTP server (None: none wanted) and tell the service its URL."""
    if port is None:
        return None
    try:
        http = await start_http(create_app(service, metrics=metrics, tokens=tokens), host, port, grace=grace)
    except OSError as exc:
        raise ServerStartError(
            f"cannot listen on {_address(host, port)} for HTTP: {exc.strerror or exc}; is another admin "
            "running? choose another port (--http-port)"
        ) from None
    # Signed data URLs point here unless the configuration names a public address.
    bind_http = getattr(service, "bind_http", None)
    if callable(bind_http):
        bind_http(http.url)
    return http


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
    http_port: int | None = DEFAULT_HTTP_PORT,
    auth_tokens: BearerTokens | None = None,
    on_started: StartedCallback | None = None,
    launcher: Launcher | None = None,
) -> None:
    """Build the admin for ``config`` and serve it over gRPC and HTTP until SIGINT or SIGTERM.

    The database is migrated and the configured projects created before the servers bind.
    ``launcher`` runs the accepted executions (None: they wait as QUEUED). The other parameters
    are :func:`serve_service`'s.

    :raises ServerStartError: an address cannot be bound.
    """
    # Imported here: the service pulls in SQLAlchemy, Alembic and the compiler, which code
    # that only needs serve_service() with its own service object should not pay for.
    from flytecore.admin.service import AdminService

    # Migrations and bootstrap block; run them in a thread so the loop stays responsive to signals.
    service = await asyncio.to_thread(AdminService.create, config, None, launcher)
    stop = asyncio.Event()
    with _stop_on_signals(asyncio.get_running_loop(), stop):
        await serve_service(
            service,
            host=host,
            port=port,
            stop=stop,
            on_ready=on_ready,
            http_port=http_port,
            auth_tokens=auth_tokens,
            on_started=on_started,
        )


def run_server(config: AdminConfig, **options: Any) -> None:
    """:func:`serve` from synchronous code (same keyword options): blocks until SIGINT or
    SIGTERM stopped the servers."""
    asyncio.run(serve(config, **options))


@attrs.frozen
class RunningAdmin:
    """An admin served from a background thread (:func:`start_in_thread`).

    It unpacks like the ``(port, stop)`` pair ``start_in_thread`` used to return.

    :ivar grpc_port: the gRPC server's port.
    :ivar http_port: the HTTP server's port (None if HTTP was not started).
    :ivar http_url: ``http://host:port`` of the HTTP server (None if not started).
    :ivar metrics: what both servers record into.
    """

    grpc_port: int
    http_port: int | None
    http_url: str | None
    metrics: AdminMetrics
    _stop: Callable[[], None] = attrs.field(repr=False)

    def stop(self) -> None:
        """Stop both servers and wait for their thread; calling it again does nothing."""
        self._stop()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.grpc_port, self.stop))


def start_in_thread(
    service: object,
    port: int = 0,
    *,
    host: str = DEFAULT_HOST,
    http_port: int | None = 0,
    auth_tokens: BearerTokens | None = None,
    metrics: AdminMetrics | None = None,
) -> RunningAdmin:
    """Serve ``service`` over gRPC and HTTP from a background thread with its own event loop.

    Returns once both servers accept calls (``port=0``/``http_port=0``: free ports;
    ``http_port=None``: no HTTP server).

    :raises ServerStartError: an address cannot be bound.
    """
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    started: list[ServedAddresses] = []
    failure: list[BaseException] = []
    metrics = metrics or AdminMetrics()

    def on_started(addresses: ServedAddresses) -> None:
        started.append(addresses)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(
                serve_service(
                    service,
                    host=host,
                    port=port,
                    stop=stop,
                    http_port=http_port,
                    auth_tokens=auth_tokens,
                    metrics=metrics,
                    on_started=on_started,
                )
            )
        except BaseException as exc:
            failure.append(exc)
            if not ready.is_set():
                log.debug("admin server thread failed to start", exc_info=True)
            else:
                log.exception("admin server thread failed")
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            ready.set()  # a failed start must not leave the caller waiting

    thread = threading.Thread(target=run, name=f"flytecore-admin-{port}", daemon=True)
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

    addresses = started[0]
    return RunningAdmin(addresses.grpc_port, addresses.http_port, addresses.http_url, metrics, stop_server)
