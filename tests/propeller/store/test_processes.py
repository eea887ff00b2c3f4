"""Several propeller processes on one store, and one killed with SIGKILL between (or in) saves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from flytecore.propeller.store import SqlWorkflowStore
from tests.propeller.store.test_leases import check_all_rounds_committed_once

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = 12
ROUNDS = 10
PROCESSES = 3

pytestmark = pytest.mark.slow


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.propeller.store._worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_racing_processes_never_share_a_workflow_and_lose_no_save(store_url: str) -> None:
    with SqlWorkflowStore.from_url(store_url) as setup:
        for i in range(WORKFLOWS):
            setup.add(f"wf{i}", b"obj", b"0", "QUEUED")
    workers = [_worker("race", store_url, f"proc{n}", str(ROUNDS)) for n in range(PROCESSES)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:  # all at once
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        reports = [json.loads(worker.communicate(timeout=240)[0]) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0] * PROCESSES
    assert [report["lost"] for report in reports] == [[]] * PROCESSES
    rounds = Counter({report["owner"]: report["rounds"] for report in reports})
    assert sum(rounds.values()) == WORKFLOWS * ROUNDS
    assert len(+rounds) >= 2, rounds  # the race really was one
    # CLOCK_MONOTONIC is one clock for all processes: no two holds of a workflow overlap.
    holds: dict[str, list[tuple[float, float, str]]] = {}
    for report in reports:
        for execution_id, start, end in report["holds"]:
            holds.setdefault(execution_id, []).append((start, end, report["owner"]))
    for execution_id, spans in holds.items():
        spans.sort()
        overlapping = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
        assert overlapping == [], execution_id
    with SqlWorkflowStore.from_url(store_url) as store:
        check_all_rounds_committed_once(store, WORKFLOWS, ROUNDS)


def _expected_nodes(last: int) -> dict[str, bytes]:
    nodes = {f"n{i % 7}": str(i).encode() for i in range(1, last + 1)}
    return {**nodes, "last": str(last).encode()}


@pytest.mark.parametrize("kill_after", [3, 40])
def test_a_killed_propeller_leaves_exactly_its_committed_saves(store_url: str, kill_after: int) -> None:
    worker = _worker("crash", store_url)
    assert worker.stdout is not None
    printed = 0
    try:
        while printed < kill_after:
            line = worker.stdout.readline()
            assert line, "the worker died before it was killed"
            printed = int(line)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    with SqlWorkflowStore.from_url(store_url) as store:
        snapshot = store.get("wf")
        assert snapshot is not None
        last = int(snapshot.state)
        # Each number is printed after its commit: the last printed save is in, and at most
        # the one that was being printed or begun when the kill came is in without a number.
        printed = max([printed, *map(int, worker.stdout.read().split())])
        assert printed <= last <= printed + 1
        assert snapshot.version == 2 + last  # add, acquire, then one per save
        assert snapshot.nodes == _expected_nodes(last)
        events = store.pending_events(limit=10_000)
        assert [e.payload for e in events] == [f"e{i}".encode() for i in range(1, last + 1)]
        assert snapshot.lease_owner == "doomed"
        # Another propeller takes over once the dead one's lease runs out, and carries on.
        assert snapshot.lease_expires_at is not None
        leased = []
        deadline = time.monotonic() + 30
        while not leased and time.monotonic() < deadline:
            # PostgreSQL may still be rolling the dead connection back: its row is skipped.
            leased = store.acquire("heir", limit=1, lease_seconds=60, now=snapshot.lease_expires_at)
        (heir,) = leased
        assert (heir.state, heir.nodes, heir.version) == (
            snapshot.state,
            snapshot.nodes,
            snapshot.version + 1,
        )
        store.save(
            heir,
            state=b"next",
            phase="SUCCEEDED",
            nodes={},
            events=[b"end"],
            next_round_at=None,
            release=True,
        )
        assert store.pending_events(limit=10_000)[-1].payload == b"end"
