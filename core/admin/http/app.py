"""The admin's HTTP application (aiohttp): routes and the middlewares every request passes.

Routes:

- ``GET /healthcheck``: 200 ``{"status": "ok", ...}`` once the database answered a query, 503
  ``{"status": "unavailable", "database": "<why>"}`` otherwise (FlyteAdmin's path, what load
  balancers and Kubernetes probes ask);
- ``GET /metrics``: the admin's Prometheus metrics (:mod:`flytecore.admin.metrics`);
- ``PUT`` / ``GET /data/{area}/{key}``: signed upload and download URLs (:mod:`.data`).

Middlewares, outermost first: metrics (every request, refused ones too), authentication (when
the admin has bearer tokens; the signed data URLs are exempt, their signature is the
credential), and the last resort that turns an unexpected exception into a 500 naming it.
Errors are plain text, one line saying what was wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flytecore.admin.auth import SCHEME, BearerTokens
from flytecore.admin.http import data
from flytecore.admin.http.data import SERVICE
from flytecore.admin.metrics import AdminMetrics

__all__ = ["HEALTH_TIMEOUT_SECONDS", "METRICS", "SERVICE", "create_app", "error"]

log = logging.getLogger(__name__)

METRICS = web.AppKey("metrics", AdminMetrics)
TOKENS = web.AppKey("tokens", BearerTokens)

HEALTH_TIMEOUT_SECONDS = 5.0
"""A database slower than this to answer is reported unavailable (probes give up soon too)."""

PUBLIC_ROUTES = frozenset({data.DATA_ROUTE})
"""Routes that need no bearer token: their URL's signature is checked instead."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A plain-text error answer: one line saying what was wrong and, where it helps, what to do."""
    return web.Response(status=status, text=message.rstrip() + "\n", headers=headers)


def _route_of(request: web.Request) -> str:
    # The route's pattern, not the path: a label value per route, not per URL a client makes up.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"


@web.middleware
async def _metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    start, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # aiohttp's own 404/405 for unmatched paths and methods
        status = exc.status
        raise
    finally:
        request.app[METRICS].observe_http(request.method, _route_of(request), status, time.perf_counter() - start)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    tokens = request.app.get(TOKENS)
    if tokens is not None and request.match_info.route.name not in PUBLIC_ROUTES:
        refusal = tokens.refusal(request.headers.get("Authorization"))
        if refusal is not None:
            return error(401, refusal, {"WWW-Authenticate": f'{SCHEME} realm="flytecore-admin"'})
    return await handler(request)


@web.middleware
async def _last_resort(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug or a lost backend: say what, log the traceback
        log.exception("%s %s failed", request.method, request.path)
        return error(500, f"{request.method} {request.path} failed: {type(exc).__name__}: {exc}")


def _database_answers(service: object) -> str:
    """Run one cheap query on the service's database; returns what was checked."""
    repo: Any = getattr(service, "repo", None)
    if repo is None:
        return "not used"  # a service object without a database (tests, embedding)
    repo.list_projects(limit=1)
    return "ok"


async def healthcheck(request: web.Request) -> web.Response:
    """200 when the admin can serve: its database answered a query; 503 saying why otherwise."""
    service = request.app[SERVICE]
    try:
        database = await asyncio.wait_for(asyncio.to_thread(_database_answers, service), HEALTH_TIMEOUT_SECONDS)
    except TimeoutError:
        return web.json_response(
            {"status": "unavailable", "database": f"no answer within {HEALTH_TIMEOUT_SECONDS:g} s"}, status=503
        )
    except Exception as exc:
        # The first line only: SQLAlchemy appends the statement and a link, noise for a probe.
        reason = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        log.warning("health check: the database did not answer: %s", reason)
        return web.json_response({"status": "unavailable", "database": reason}, status=503)
    return web.json_response({"status": "ok", "database": database})


async def metrics_page(request: web.Request) -> web.Response:
    """The admin's metrics in Prometheus' text format (OpenMetrics if the scraper asks for it)."""
    body, content_type = request.app[METRICS].render(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


def create_app(service: object, *, metrics: AdminMetrics | None = None, tokens: BearerTokens | None = None) -> web.Application:
    """The HTTP application of one admin.

    :param service: the admin service (any object: the data routes answer 501 if it has no
        ``store`` and ``url_signer``, the health check skips the database if it has no ``repo``).
    :param metrics: where requests are recorded and what ``/metrics`` shows; a new one if None.
    :param tokens: bearer tokens every non-data route requires; None: no authentication.
    """
    app = web.Application(middlewares=[_metrics, _authenticate, _last_resort])
    app[SERVICE] = service
    app[METRICS] = metrics if metrics is not None else AdminMetrics()
    if tokens is not None:
        app[TOKENS] = tokens
    app.router.add_get("/healthcheck", healthcheck, name="healthcheck")
    app.router.add_get("/metrics", metrics_page, name="metrics")
    data.add_routes(app)
    return app
