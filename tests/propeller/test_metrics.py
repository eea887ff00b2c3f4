"""The propeller's metrics: what a round and a node's end record in its registry."""

from __future__ import annotations

from flytecore.propeller.metrics import PropellerMetrics


def _sample(metrics: PropellerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_rounds_and_node_ends_are_counted_under_their_labels() -> None:
    metrics = PropellerMetrics()
    for done in (False, False, True):
        metrics.round_finished(0.002, done=done)
    metrics.node_finished("task", "SUCCEEDED", 0.3)
    metrics.node_finished("task", "SUCCEEDED", 7.0)
    metrics.node_finished("array", "FAILED", 0.02)
    assert _sample(metrics, "flytecore_propeller_rounds_total", outcome="running") == 2
    assert _sample(metrics, "flytecore_propeller_rounds_total", outcome="finished") == 1
    assert _sample(metrics, "flytecore_propeller_round_seconds_count") == 3
    assert _sample(metrics, "flytecore_propeller_round_seconds_sum") == 0.006
    node = "flytecore_propeller_node_execution_seconds"
    assert _sample(metrics, f"{node}_count", kind="task", phase="SUCCEEDED") == 2
    assert _sample(metrics, f"{node}_sum", kind="task", phase="SUCCEEDED") == 7.3
    assert _sample(metrics, f"{node}_bucket", kind="task", phase="SUCCEEDED", le="0.5") == 1
    assert _sample(metrics, f"{node}_count", kind="array", phase="FAILED") == 1
    # Two registries (two propellers in one process) keep their own counts.
    assert _sample(PropellerMetrics(), "flytecore_propeller_rounds_total", outcome="running") is None
