"""The propeller's metrics, like FlytePropeller's: round latency, acceptance latency, node
execution latency, queue depth, free workers, events waiting for delivery.

They live in a registry of their own (never prometheus_client's global one, so two propellers
in one process — tests, the sandbox — do not collide); the admin's HTTP server serves it on
``/metrics`` beside its own in the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PropellerMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_NODE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class PropellerMetrics:
    """The propeller's instruments, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.round_latency = Histogram(
            "flytecore_propeller_round_seconds", "Time of one round over one execution.", registry=r, buckets=_LATENCY_BUCKETS
        )
        self.rounds = Counter("flytecore_propeller_rounds", "Rounds run.", ["outcome"], registry=r)
        self.acceptance_latency = Histogram(
            "flytecore_propeller_acceptance_seconds",
            "From the admin accepting an execution (CreateExecution) to its first round.",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.node_latency = Histogram(
            "flytecore_propeller_node_execution_seconds",
            "From a node being queued to its end, by kind of node and end phase.",
            ["kind", "phase"],
            registry=r,
            buckets=_NODE_BUCKETS,
        )
        self.queue_depth = Gauge(
            "flytecore_propeller_queue_depth", "Executions whose round was due in the last pass.", registry=r
        )
        self.free_workers = Gauge("flytecore_propeller_free_workers", "Idle worker processes of the local backend.", registry=r)
        self.outbox = Gauge("flytecore_propeller_events_pending", "Events waiting for delivery to the admin.", registry=r)
        self.events_delivered = Counter("flytecore_propeller_events_delivered", "Events delivered to the admin.", registry=r)

        # Labelled children by their labels: prometheus_client checks and looks labels up under
        # a lock on every labels() call, twice per round of a chain.
        self._children: dict[tuple[str, ...], Any] = {}

    def round_finished(self, seconds: float, *, done: bool) -> None:
        """Count a round over one execution (``done``: the execution ended) and its time."""
        self.round_latency.observe(seconds)
        outcome = "finished" if done else "running"
        child = self._children.get(("rounds", outcome))
        if child is None:
            child = self._children["rounds", outcome] = self.rounds.labels(outcome)
        child.inc()

    def node_finished(self, kind: str, phase: str, seconds: float) -> None:
        """A node of kind ``kind`` ended in ``phase``, ``seconds`` after it was queued."""
        child = self._children.get(("node", kind, phase))
        if child is None:
            child = self._children["node", kind, phase] = self.node_latency.labels(kind, phase)
        child.observe(seconds)

    def watch_free_workers(self, read: Callable[[], int]) -> None:
        """Report ``read()`` as the free worker count at each scrape."""
        self.free_workers.set_function(read)
