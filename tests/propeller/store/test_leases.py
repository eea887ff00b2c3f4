"""Leases: one holder at a time, take-over after expiry, stale holders fenced off; threads racing."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from flytecore.propeller.store import LeaseLost, SqlWorkflowStore
from tests.propeller.store.conftest import count_rows

LEASE = 10.0


def test_an_expired_lease_is_taken_over_and_the_old_holder_can_write_nothing(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s0", "QUEUED", now=100.0)
    (old,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=100.0)
    old = store.save(
        old,
        state=b"s1",
        phase="RUNNING",
        nodes={"a": b"1"},
        events=[b"ev1"],
        next_round_at=None,
        release=False,
    )
    assert store.acquire("p2", limit=1, lease_seconds=LEASE, now=109.9) == []
    (new,) = store.acquire("p2", limit=1, lease_seconds=LEASE, now=110.0)
    # The new holder carries on from the last committed save.
    assert (new.state, new.nodes, new.version, new.owner) == (b"s1", {"a": b"1"}, old.version + 1, "p2")

    def stale_save() -> None:
        store.save(
            old, state=b"stale", phase="FAILED", nodes={"a": b"x", "b": b"y"}, events=[b"stale"],
            next_round_at=None, release=True,
        )  # fmt: skip

    with pytest.raises(LeaseLost, match="p1"):
        stale_save()
    with pytest.raises(LeaseLost):
        store.renew(old, LEASE, now=111.0)
    snapshot = store.get("e1")
    assert snapshot is not None
    assert (snapshot.state, snapshot.phase, snapshot.version, snapshot.lease_owner) == (
        b"s1",
        "RUNNING",
        new.version,
        "p2",
    )
    assert snapshot.nodes == {"a": b"1"} and snapshot.finished_at is None
    assert [e.payload for e in store.pending_events()] == [b"ev1"]
    # Once the new holder has saved, the old token is still no good.
    store.save(new, state=b"s2", phase="RUNNING", nodes={}, events=[], next_round_at=None, release=True)
    with pytest.raises(LeaseLost):
        stale_save()


def test_a_holder_whose_lease_expired_but_was_not_taken_over_may_still_save(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s0", "QUEUED", now=100.0)
    (leased,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=100.0)
    # The version token proves nobody acquired it since: the save is safe.
    saved = store.save(
        leased, state=b"s1", phase="RUNNING", nodes={}, events=[], next_round_at=None, release=True, now=500.0
    )
    assert saved.version == leased.version + 1


def test_re_acquiring_fences_off_the_owners_own_older_lease(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s0", "QUEUED", now=100.0)
    (first,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=100.0)
    (second,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=200.0)
    with pytest.raises(LeaseLost):
        store.save(first, state=b"x", phase="RUNNING", nodes={}, events=[], next_round_at=None, release=True)
    store.save(second, state=b"y", phase="RUNNING", nodes={}, events=[], next_round_at=None, release=True)


def test_renewal_extends_the_lease(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s0", "QUEUED", now=100.0)
    (leased,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=100.0)
    renewed = store.renew(leased, LEASE, now=108.0)
    assert renewed.lease_expires_at == 118.0 and renewed.version == leased.version
    assert store.acquire("p2", limit=1, lease_seconds=LEASE, now=115.0) == []
    assert store.next_due_at() == 118.0
    assert [w.owner for w in store.acquire("p2", limit=1, lease_seconds=LEASE, now=118.0)] == ["p2"]


def test_deleted_workflow_cannot_be_saved(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s0", "QUEUED", now=100.0)
    (leased,) = store.acquire("p1", limit=1, lease_seconds=LEASE, now=100.0)
    done = store.save(
        leased,
        state=b"s",
        phase="SUCCEEDED",
        nodes={},
        events=[],
        next_round_at=None,
        release=False,
        now=100.0,
    )
    assert store.delete_finished(older_than=0.0, now=200.0) == 1  # its lease ran out at 110
    with pytest.raises(LeaseLost):
        store.save(
            done,
            state=b"s",
            phase="SUCCEEDED",
            nodes={"n": b"x"},
            events=[],
            next_round_at=None,
            release=True,
        )
    assert count_rows(store, "propeller_node_states") == 0


WORKFLOWS = 12
ROUNDS = 10
THREADS = 4


def test_racing_threads_never_share_a_workflow_and_lose_no_save(store_url: str) -> None:
    """Four propellers (own store object, own connection pool) in threads, racing for rounds."""
    with SqlWorkflowStore.from_url(store_url) as setup:
        for i in range(WORKFLOWS):
            setup.add(f"wf{i}", b"obj", b"0", "QUEUED")
    holders: dict[str, str] = {}
    lock = threading.Lock()
    problems: list[str] = []
    rounds_by_owner: Counter[str] = Counter()
    start = threading.Barrier(THREADS)

    def propeller(owner: str) -> None:
        with SqlWorkflowStore.from_url(store_url) as store:
            start.wait()
            idle = 0
            while idle < 50 and not problems:
                leased = store.acquire(owner, limit=3, lease_seconds=300)
                if not leased:
                    idle = 0 if store.next_due_at() is not None else idle + 1
                    continue
                for workflow in leased:
                    with lock:
                        if workflow.execution_id in holders:
                            problems.append(
                                f"{workflow.execution_id}: {owner} and {holders[workflow.execution_id]}"
                            )
                        holders[workflow.execution_id] = owner
                    count = int(workflow.state) + 1
                    time.sleep(0.001)  # the round's work; lets the others at the database
                    with lock:
                        del holders[workflow.execution_id]
                    try:
                        store.save(
                            workflow,
                            state=str(count).encode(),
                            phase="SUCCEEDED" if count == ROUNDS else "RUNNING",
                            nodes={f"n{count % 3}": str(count).encode(), "owner": owner.encode()},
                            events=[f"{workflow.execution_id}:{count}".encode()],
                            next_round_at=0.0,  # due at once
                            release=True,
                        )
                    except LeaseLost as exc:
                        problems.append(str(exc))
                    else:
                        with lock:
                            rounds_by_owner[owner] += 1

    threads = [threading.Thread(target=propeller, args=(f"p{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert problems == []
    assert sum(rounds_by_owner.values()) == WORKFLOWS * ROUNDS
    assert len(rounds_by_owner) >= 2, rounds_by_owner  # the race really was one
    with SqlWorkflowStore.from_url(store_url) as store:
        check_all_rounds_committed_once(store, WORKFLOWS, ROUNDS)


def check_all_rounds_committed_once(store: SqlWorkflowStore, workflows: int, rounds: int) -> None:
    """Every workflow went through exactly ``rounds`` saves, each with its event, in order."""
    events: dict[str, list[str]] = {}
    for event in store.pending_events(limit=workflows * rounds + 10):
        events.setdefault(event.execution_id, []).append(event.payload.decode())
    for i in range(workflows):
        name = f"wf{i}"
        snapshot = store.get(name)
        assert snapshot is not None
        assert (snapshot.state, snapshot.phase) == (str(rounds).encode(), "SUCCEEDED")
        # add: 1, then every round one acquire and one save
        assert snapshot.version == 1 + 2 * rounds
        assert snapshot.nodes[f"n{rounds % 3}"] == str(rounds).encode()
        assert events[name] == [f"{name}:{n}" for n in range(1, rounds + 1)]
