"""The admin's HTTP server (aiohttp), beside its gRPC server on the same event loop.

``GET /healthcheck``, ``GET /metrics`` (Prometheus) and the data proxy's signed upload and
download URLs (``PUT``/``GET /data/{area}/{key}``); optional bearer-token authentication.
:mod:`.app` builds the application, :mod:`.data` serves the signed URLs, :mod:`.server` binds
and runs it. :func:`flytecore.admin.grpc.serve_service` starts it with the gRPC server.
"""

from __future__ import annotations

from flytecore.admin.http.app import create_app
from flytecore.admin.http.server import DEFAULT_HTTP_PORT, RunningHttp, base_url_for, start_http

__all__ = ["DEFAULT_HTTP_PORT", "RunningHttp", "base_url_for", "create_app", "start_http"]
