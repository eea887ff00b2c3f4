"""The admin's Prometheus metrics: every gRPC call and HTTP request, counted and timed.

One :class:`AdminMetrics` per running admin, with its own ``CollectorRegistry`` (never
prometheus_client's global one), so two admins in one process (tests, the sandbox) do not mix
their numbers and a restarted admin starts from zero. The gRPC interceptor
(:mod:`flytecore.admin.grpc.interceptors`) and the HTTP middleware (:mod:`flytecore.admin.http`)
record into it; ``GET /metrics`` renders it.

Series (Prometheus text format):

- ``flytecore_admin_grpc_requests_total{method, code}``: finished RPCs by full method name
  (``/flyteidl.service.AdminService/CreateTask``) and status code name (``OK``, ``NOT_FOUND``...);
- ``flytecore_admin_grpc_request_duration_seconds{method, code}``: their latency histogram;
- ``flytecore_admin_http_requests_total{method, route, status}`` and
  ``flytecore_admin_http_request_duration_seconds{method, route, status}``: the same for HTTP,
  by route pattern (``/data/{area}/{key}``, never the raw path: one series per route, not per file);
- ``flytecore_admin_start_time_seconds``: when the admin started (unix time), for uptime.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

__all__ = ["LATENCY_BUCKETS", "AdminMetrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds. Most admin calls take milliseconds; uploads and CreateExecution can take seconds."""


class AdminMetrics:
    """Counters and latency histograms of one admin, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A registry of its own by default; the sandbox passes one it shares with the propeller,
        # so one /metrics shows both planes.
        self.registry = registry if registry is not None else CollectorRegistry()
        self.grpc_requests = Counter(
            "flytecore_admin_grpc_requests",
            "gRPC calls answered, by full method name and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.grpc_latency = Histogram(
            "flytecore_admin_grpc_request_duration_seconds",
            "Time from a gRPC call's arrival to its answer, by full method name and status code.",
            ["method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "flytecore_admin_http_requests",
            "HTTP requests answered, by method, route pattern and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "flytecore_admin_http_request_duration_seconds",
            "Time from an HTTP request's arrival to its answer, by method, route pattern and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        start = Gauge("flytecore_admin_start_time_seconds", "When this admin started, in unix time.", registry=self.registry)
        start.set(time.time())

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        """Record one finished RPC."""
        self.grpc_requests.labels(method, code).inc()
        self.grpc_latency.labels(method, code).observe(seconds)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered HTTP request."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route, str(status)).observe(seconds)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics and their content type, in the format the ``Accept`` header prefers
        (Prometheus text unless OpenMetrics is asked for)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
