"""Run the admin's HTTP application on a socket of its own, on the caller's event loop.

The gRPC server (:mod:`flytecore.admin.grpc.server`) starts it beside itself, so both share one
event loop and one life cycle; this module only binds, starts and stops.
"""

from __future__ import annotations

import socket

import attrs
from aiohttp import web

__all__ = ["DEFAULT_HTTP_PORT", "RunningHttp", "base_url_for", "bind_socket", "start_http"]

DEFAULT_HTTP_PORT = 30081
"""Beside the gRPC port (30080), as Flyte's sandbox has its HTTP port beside its gRPC one."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port).

    Bound here rather than by aiohttp so that the port bound is known for ``port=0`` and a
    taken port fails before anything starts. SO_REUSEADDR lets a restarted admin bind at once
    while old connections linger in TIME_WAIT; unlike SO_REUSEPORT it never lets two servers
    share a listening port.

    :raises OSError: the address is taken or not available here.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_for(host: str, port: int) -> str:
    """The URL clients reach a server bound to ``host:port`` at. A wildcard address
    (``0.0.0.0``, ``::``) is no address to connect to: the machine's host name stands in."""
    if host in ("", "0.0.0.0", "::"):
        name = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        name = f"[{host}]"
    else:
        name = host
    return f"http://{name}:{port}"


@attrs.frozen
class RunningHttp:
    """A started HTTP server.

    :ivar port: the port it listens on.
    :ivar url: ``http://host:port``, as clients reach it.
    """

    runner: web.AppRunner
    port: int
    url: str

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (for the ``grace`` it was started with), close."""
        await self.runner.cleanup()


async def start_http(app: web.Application, host: str, port: int, *, grace: float = 5.0) -> RunningHttp:
    """Serve ``app`` on ``host:port`` until :meth:`RunningHttp.stop`, which gives requests in
    flight ``grace`` seconds to finish.

    :raises OSError: the address cannot be bound.
    """
    sock = bind_socket(host, port)
    bound = int(sock.getsockname()[1])
    runner = web.AppRunner(app, shutdown_timeout=grace)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()
        sock.close()
        raise
    return RunningHttp(runner, bound, base_url_for(host, bound))
