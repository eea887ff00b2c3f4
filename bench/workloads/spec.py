"""The workloads every tool runs, by name, and their right results (stdlib only: the harness
and every tool's script import it)."""

from __future__ import annotations

WORKLOADS = ("chain", "map", "dynamic", "data")
"""chain: N sequential trivial tasks; map: one map task over N elements, then a reduce;
dynamic: a task that calls N tasks decided at run time, then a reduce; data: a dataclass with a
list and a dict of N elements through three tasks."""


def expected(workload: str, n: int) -> int:
    """The right result of ``workload`` at size ``n``: every run is checked against it."""
    results = {"chain": n, "map": n * (n + 1) // 2, "dynamic": n * (n + 1) // 2, "data": 2 * n * (n - 1)}
    return results[workload]


def tasks_of(workload: str, n: int) -> int:
    """How many task runs ``workload`` makes at size ``n`` (what ms/task divides by)."""
    return {"chain": n, "map": n + 1, "dynamic": n + 2, "data": 3}[workload]
