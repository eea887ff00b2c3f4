"""Throughput of the propeller's workflow store: saves per second, on SQLite and PostgreSQL.

Run from the repository root: ``python bench/store_bench.py`` (a SQLite file in a temp dir);
add ``--postgres postgresql://user@host/db`` to measure a PostgreSQL database too (the bench
adds its own workflows and deletes them afterwards). Scenarios:

- ``save 1 node``: a round that changed one node and emits one event, lease kept (a holder
  running a chain of tasks saves like this once per task);
- ``save 100 nodes``: a round that changed 100 nodes (a wide fan-out) and emits one event;
- ``acquire+save N``: a whole round cycle on a workflow of N node states: acquire (which loads
  the object and every node state), save one node and release, due again at once;
- ``wake``: what a finished task costs its waker.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flytecore.propeller.store import SqlWorkflowStore

STATE = b"s" * 200
NODE = b"n" * 300
EVENT = b"e" * 400


def _rate(count: int, step: Callable[[int], None]) -> float:
    step(0)  # warm the statement cache and the pool
    start = time.perf_counter()
    for i in range(1, count + 1):
        step(i)
    return count / (time.perf_counter() - start)


class _Workflow:
    """One benchmark workflow with ``nodes`` node states, leased to the bench."""

    def __init__(self, store: SqlWorkflowStore, execution_id: str, nodes: int) -> None:
        self.store = store
        self.execution_id = execution_id
        store.add(execution_id, b"o" * 2000, STATE, "RUNNING")
        (self.leased,) = store.acquire("bench", limit=1, lease_seconds=3600)
        self.save(nodes={f"n{k}": NODE for k in range(nodes)})

    def save(self, *, nodes: dict[str, bytes], phase: str = "RUNNING", release: bool = False) -> None:
        self.leased = self.store.save(
            self.leased,
            state=STATE,
            phase=phase,
            nodes=nodes,
            events=[EVENT],
            next_round_at=0.0,
            release=release,
        )

    def save_nodes(self, width: int) -> Callable[[int], None]:
        def step(i: int) -> None:
            self.save(nodes={f"n{(i * width + k) % 1000}": NODE for k in range(width)})

        return step

    def cycle(self, i: int) -> None:
        # Only this workflow is due (the others hold their leases): acquire takes it.
        (self.leased,) = self.store.acquire("bench", limit=1, lease_seconds=60)
        assert self.leased.execution_id == self.execution_id, "another workflow was due"
        self.save(nodes={f"n{i % 10}": NODE}, release=True)


def bench(store: SqlWorkflowStore, count: int) -> dict[str, float]:
    """Operations per second of each scenario on ``store``."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    chain = _Workflow(store, f"{prefix}-chain", 10)
    wide = _Workflow(store, f"{prefix}-wide", 100)
    results = {
        "save 1 node": _rate(count, chain.save_nodes(1)),
        "save 100 nodes": _rate(max(count // 20, 10), wide.save_nodes(100)),
    }
    for nodes in (10, 1000):
        cycling = _Workflow(store, f"{prefix}-cycle{nodes}", nodes)
        cycling.save(nodes={}, release=True)
        results[f"acquire+save {nodes}"] = _rate(max(count // (2 if nodes < 100 else 10), 10), cycling.cycle)
        (cycling.leased,) = store.acquire("bench", limit=1, lease_seconds=60)
        cycling.save(nodes={}, phase="SUCCEEDED", release=True)
    results["wake"] = _rate(count, lambda _i: store.wake(chain.execution_id) and None)

    for workflow in (chain, wide):
        workflow.save(nodes={}, phase="SUCCEEDED", release=True)
    store.delete_finished(older_than=0)
    while mine := [e.seq for e in store.pending_events(10_000) if e.execution_id.startswith(prefix)]:
        store.ack_events(mine)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="operations per scenario")
    parser.add_argument("--postgres", metavar="URL", help="also measure this PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite:///{Path(tmp) / 'propeller.db'}"}
        if args.postgres:
            urls["postgresql"] = args.postgres
        print(f"{'database':<11} {'scenario':<19} {'ops/s':>9} {'us/op':>8}")
        for name, url in urls.items():
            store = SqlWorkflowStore.from_url(url)
            try:
                for scenario, rate in bench(store, args.count).items():
                    print(f"{name:<11} {scenario:<19} {rate:>9.0f} {1e6 / rate:>8.0f}")
            finally:
                store.close()


if __name__ == "__main__":
    main()
