"""Helpers for the tests that talk to a running admin: its gRPC and HTTP servers on 127.0.0.1.

:func:`running_admin` serves a real :class:`AdminService` (SQLite file, storage folder or URL)
from a background thread; :func:`http` makes one real HTTP request with urllib.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import grpc
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc

from flytecore.admin.auth import BearerTokens
from flytecore.admin.config import AdminConfig
from flytecore.admin.grpc import RunningAdmin, start_in_thread
from flytecore.admin.service import AdminService

PROJECT, DOMAIN = "flytesnacks", "development"


@attrs.define
class Admin:
    """A running admin and ways to call it."""

    service: AdminService
    running: RunningAdmin
    channel: grpc.Channel

    @property
    def base(self) -> str:
        """``http://127.0.0.1:port`` of the HTTP server."""
        assert self.running.http_url is not None
        return self.running.http_url

    @property
    def proxy(self) -> dataproxy_pb2_grpc.DataProxyServiceStub:
        return dataproxy_pb2_grpc.DataProxyServiceStub(self.channel)


@contextlib.contextmanager
def running_admin(
    tmp_path: Path, *, storage: str | None = None, tokens: BearerTokens | None = None, **config: Any
) -> Iterator[Admin]:
    """An admin with a SQLite file and a storage folder (or ``storage``) in ``tmp_path``, served
    on free ports; stopped at the end."""
    service = AdminService.create(
        AdminConfig(
            db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=storage or str(tmp_path / "store"), **config
        )
    )
    running = start_in_thread(service, auth_tokens=tokens)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    try:
        yield Admin(service, running, channel)
    finally:
        channel.close()
        running.stop()


@attrs.frozen
class Answer:
    """An HTTP response: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    """One HTTP request; error statuses are answers too, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, dict(err.headers), err.read())


def md5_of(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(md5_of(data)).decode()


def upload_request(data: bytes, filename: str = "hello.txt", **fields: Any) -> dataproxy_pb2.CreateUploadLocationRequest:
    """CreateUploadLocation as flytekit sends it for ``data``."""
    values: dict[str, Any] = {"project": PROJECT, "domain": DOMAIN, "filename": filename, "content_md5": md5_of(data)}
    return dataproxy_pb2.CreateUploadLocationRequest(**{**values, **fields})


def put(url: str, data: bytes, content_md5: str | None = None) -> Answer:
    """PUT ``data`` to a signed URL as flytekit does (Content-MD5, no other credential)."""
    headers = {"Content-MD5": content_md5 if content_md5 is not None else md5_b64(data)}
    return http("PUT", url, data, headers)
