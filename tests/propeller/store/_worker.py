"""A propeller stand-in for the multi-process tests, run as ``python -m tests.propeller.store._worker``.

``race URL OWNER ROUNDS``: after "go" on stdin, take rounds of every workflow it can get until
all are finished; prints one JSON line: rounds done, lease losses, hold intervals.

``crash URL``: keeps one workflow leased and saves it in a loop, printing each save's number
after its commit, until killed.
"""

from __future__ import annotations

import json
import sys
import time

from flytecore.propeller.store import LeaseLost, SqlWorkflowStore


def race(url: str, owner: str, rounds: int) -> None:
    """Rounds of any workflow, like a propeller's loop; reports what it did."""
    done = 0
    lost: list[str] = []
    holds: list[tuple[str, float, float]] = []
    with SqlWorkflowStore.from_url(url) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            leased = store.acquire(owner, limit=2, lease_seconds=300)
            if not leased:
                if store.next_due_at() is None:
                    break  # everything finished
                time.sleep(0.001)
                continue
            for workflow in leased:
                held_from = time.monotonic()
                count = int(workflow.state) + 1
                time.sleep(0.001)  # the round's work
                holds.append((workflow.execution_id, held_from, time.monotonic()))
                try:
                    store.save(
                        workflow,
                        state=str(count).encode(),
                        phase="SUCCEEDED" if count == rounds else "RUNNING",
                        nodes={f"n{count % 3}": str(count).encode(), "owner": owner.encode()},
                        events=[f"{workflow.execution_id}:{count}".encode()],
                        next_round_at=0.0,
                        release=True,
                    )
                except LeaseLost as exc:
                    lost.append(str(exc))
                else:
                    done += 1
    print(json.dumps({"owner": owner, "rounds": done, "lost": lost, "holds": holds}), flush=True)


def crash(url: str) -> None:
    """Save one workflow over and over; the test kills this process somewhere in between."""
    with SqlWorkflowStore.from_url(url) as store:
        store.add("wf", b"obj", b"0", "QUEUED")
        (leased,) = store.acquire("doomed", limit=1, lease_seconds=3600)
        i = 0
        while True:
            i += 1
            leased = store.save(
                leased,
                state=str(i).encode(),
                phase="RUNNING",
                nodes={f"n{i % 7}": str(i).encode(), "last": str(i).encode()},
                events=[f"e{i}".encode()],
                next_round_at=None,
                release=False,
            )
            print(i, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        crash(sys.argv[2])
