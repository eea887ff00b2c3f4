"""The command line's connection to an admin: flyteidl's gRPC services plus the signed data URLs.

Every remote command (``register``, ``run --remote``, ``get``, ``logs``, ``terminate``) takes
``--admin HOST:PORT`` (default: ``$FLYTECORE_ADMIN``, else ``127.0.0.1:30080``, the sandbox's
port) and ``--token-file PATH`` (default: the token in ``$FLYTECORE_ADMIN_TOKEN``, else none).

A failed call never shows a traceback: :meth:`AdminClient.call` turns a gRPC error into a
:class:`RemoteError` with one line saying which call failed, against which admin, and why (the
admin's own message names the entity or input); the root command prints it and exits with
status 1.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

import grpc
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from flytecore.cli.options import DEFAULT_ADMIN, ENV_ADMIN, ENV_TOKEN
from flytecore.errors import FlyteCoreError

__all__ = [
    "AdminClient",
    "RemoteError",
    "connect",
    "read_token",
]

CALL_TIMEOUT = 60.0
"""Seconds one call may take before it is reported as unanswered."""
_MAX_MESSAGE = 256 * 1024 * 1024


class RemoteError(FlyteCoreError):
    """A call to the admin failed; the message is one line naming the call, the admin and why."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def normalize_target(target: str) -> str:
    """``host:port`` from what a user may paste: ``dns:///host:port``, ``grpc://host:port``."""
    target = target.strip()
    for prefix in ("dns:///", "grpc://", "http://"):
        if target.startswith(prefix):
            target = target[len(prefix) :]
    if not target:
        raise RemoteError(f"--admin is empty; give HOST:PORT, e.g. {DEFAULT_ADMIN}")
    if target.startswith("https://"):
        raise RemoteError(f"--admin {target}: TLS is not supported by this client; give HOST:PORT of a plain gRPC admin")
    return target.rstrip("/")


def read_token(token_file: str | None) -> str | None:
    """The bearer token: the first token line of ``token_file`` (blank lines and ``#`` comments
    skipped, the admin's token file format), else ``$FLYTECORE_ADMIN_TOKEN``, else None."""
    if token_file is None:
        return os.environ.get(ENV_TOKEN) or None
    try:
        with open(token_file, encoding="utf-8") as f:
            lines = [line.strip() for line in f.read().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise RemoteError(f"--token-file {token_file}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    tokens = [line for line in lines if line and not line.startswith("#")]
    if not tokens:
        raise RemoteError(f"--token-file {token_file}: no token in it (one token per line; '#' starts a comment)")
    return tokens[0]


class AdminClient:
    """flyteidl's AdminService, DataProxyService and SignalService of one admin, with errors as one line.

    :param target: the admin's gRPC ``host:port``.
    :param token: a bearer token sent with every call (None: no authentication).
    :param timeout: seconds one call may take.
    """

    def __init__(self, target: str, token: str | None = None, *, timeout: float = CALL_TIMEOUT) -> None:
        self.target = normalize_target(target)
        self.token = token
        self.timeout = timeout
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]
        self.channel = grpc.insecure_channel(self.target, options=options)
        self._stubs = {
            "AdminService": admin_pb2_grpc.AdminServiceStub(self.channel),
            "DataProxyService": dataproxy_pb2_grpc.DataProxyServiceStub(self.channel),
            "SignalService": signal_pb2_grpc.SignalServiceStub(self.channel),
        }
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether a connection to the admin can be made within ``timeout`` seconds."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True

    def call(self, rpc: str, request: Any, *, service: str = "AdminService") -> Any:
        """Call ``service.rpc`` (e.g. ``"GetExecution"``) with ``request``.

        :raises RemoteError: the call failed; the message names the call, the admin and the reason.
        """
        method = getattr(self._stubs[service], rpc)
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(rpc, exc) from None

    def admin(self, rpc: str, request: Any) -> Any:
        """An AdminService call (see :meth:`call`)."""
        return self.call(rpc, request)

    def dataproxy(self, rpc: str, request: Any) -> Any:
        """A DataProxyService call (see :meth:`call`)."""
        return self.call(rpc, request, service="DataProxyService")

    def _error(self, rpc: str, exc: grpc.RpcError) -> RemoteError:
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        name = code.name if code is not None else "UNKNOWN"
        details = (exc.details() if callable(getattr(exc, "details", None)) else None) or str(exc)
        details = " ".join(details.split())  # one line, whatever the admin sent
        if code == grpc.StatusCode.UNAVAILABLE:
            return RemoteError(
                f"cannot reach the admin at {self.target} ({details}); start one with `flytecore sandbox`, "
                f"or point --admin (or ${ENV_ADMIN}) at a running admin",
                name,
            )
        if code == grpc.StatusCode.UNAUTHENTICATED:
            hint = "the token was refused" if self.token else f"give a token with --token-file or ${ENV_TOKEN}"
            return RemoteError(f"the admin at {self.target} requires authentication ({details}); {hint}", name)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return RemoteError(f"the admin at {self.target} did not answer {rpc} within {self.timeout:g} s", name)
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return RemoteError(f"the admin at {self.target} does not implement {rpc}: {details}", name)
        return RemoteError(f"{rpc} failed ({name}): {details}", name)

    # --- the signed data URLs (the admin's HTTP server) ------------------------------------------

    def http_put(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        """PUT ``data`` to a signed upload URL.

        :raises RemoteError: the HTTP server refused the upload or cannot be reached.
        """
        request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
        self._http(request, "upload")

    def http_get(self, url: str) -> bytes:
        """GET a signed download URL's bytes.

        :raises RemoteError: the HTTP server refused or cannot be reached.
        """
        return self._http(urllib.request.Request(url, method="GET"), "download")

    def _http(self, request: urllib.request.Request, what: str) -> bytes:
        shown = request.full_url.split("?", 1)[0]  # the signature stays out of messages
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace").strip()
            raise RemoteError(
                f"{what} {shown} failed: HTTP {exc.code}: {' '.join(body.split()) or exc.reason}", f"HTTP_{exc.code}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"{what} {shown} failed: cannot reach the admin's HTTP server ({reason}); is the admin "
                "serving HTTP, and is its --http-base-url reachable from here?"
            ) from None


def connect(admin: str | None, token_file: str | None) -> AdminClient:
    """An :class:`AdminClient` for the ``--admin`` and ``--token-file`` options."""
    return AdminClient(admin or os.environ.get(ENV_ADMIN) or DEFAULT_ADMIN, read_token(token_file))
