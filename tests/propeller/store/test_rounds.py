"""The store's API on one propeller: hand-over, rounds, scheduling, wakes, aborts, housekeeping."""

from __future__ import annotations

import pytest

from flytecore.propeller.store import Leased, SqlWorkflowStore, WorkflowStore
from tests.propeller.store.conftest import count_rows

LEASE = 30.0


def save(store: SqlWorkflowStore, leased: Leased, **kw: object) -> Leased:
    """A save with defaults for what a test does not care about."""
    fields: dict[str, object] = dict(
        state=leased.state, phase="RUNNING", nodes={}, events=[], next_round_at=None, release=True
    )
    return store.save(leased, **{**fields, **kw})  # type: ignore[arg-type]


def take(store: SqlWorkflowStore, now: float, owner: str = "p1") -> Leased:
    """Acquire exactly one workflow."""
    (leased,) = store.acquire(owner, limit=10, lease_seconds=LEASE, now=now)
    return leased


def test_the_sql_store_is_a_workflow_store(store: SqlWorkflowStore) -> None:
    assert isinstance(store, WorkflowStore)


def test_add_is_idempotent_and_due_at_once(store: SqlWorkflowStore) -> None:
    assert store.add("e1", b"obj", b"s0", "QUEUED", now=100.0) is True
    assert store.add("e1", b"other", b"other", "RUNNING", now=200.0) is False
    snapshot = store.get("e1")
    assert snapshot is not None
    assert (snapshot.obj, snapshot.state, snapshot.phase, snapshot.version) == (b"obj", b"s0", "QUEUED", 1)
    assert (snapshot.created_at, snapshot.updated_at, snapshot.next_round_at) == (100.0, 100.0, 100.0)
    assert snapshot.nodes == {} and not snapshot.finished and snapshot.lease_owner is None
    assert store.next_due_at() == 100.0
    assert store.acquire("p1", limit=5, lease_seconds=LEASE, now=99.0) == []
    assert [w.execution_id for w in store.acquire("p1", limit=5, lease_seconds=LEASE, now=100.0)] == ["e1"]


def test_acquire_hands_out_everything_a_round_needs(store: SqlWorkflowStore) -> None:
    store.add("e1", b"obj", b"s0", "QUEUED", now=100.0)
    first = take(store, 100.0)
    assert (first.obj, first.state, first.phase, first.nodes, first.version) == (
        b"obj",
        b"s0",
        "QUEUED",
        {},
        2,
    )
    assert (first.owner, first.lease_expires_at, first.next_round_at, first.abort_requested) == (
        "p1",
        100.0 + LEASE,
        None,
        False,
    )
    save(store, first, state=b"s1", nodes={"a": b"A1", "b": b"B1"}, next_round_at=101.0)
    second = take(store, 101.0)
    assert (second.state, second.phase, second.nodes, second.version) == (
        b"s1",
        "RUNNING",
        {"a": b"A1", "b": b"B1"},
        4,
    )


def test_acquire_respects_limit_and_takes_the_most_overdue_first(store: SqlWorkflowStore) -> None:
    for i, due in enumerate([105.0, 101.0, 103.0, 102.0]):
        store.add(f"e{i}", b"o", b"s", "QUEUED", now=due)
    got = store.acquire("p1", limit=2, lease_seconds=LEASE, now=110.0)
    assert {w.execution_id for w in got} == {"e1", "e3"}
    rest = store.acquire("p2", limit=10, lease_seconds=LEASE, now=110.0)
    assert {w.execution_id for w in rest} == {"e0", "e2"}
    with pytest.raises(ValueError, match="limit"):
        store.acquire("p1", limit=0, lease_seconds=LEASE)


def test_save_replaces_state_upserts_changed_nodes_and_appends_events(store: SqlWorkflowStore) -> None:
    store.add("e1", b"obj", b"s0", "QUEUED", now=100.0)
    leased = take(store, 100.0)
    leased = save(store, leased, state=b"s1", nodes={"a": b"A1", "b": b"B1"}, events=[b"ev1"], release=False)
    leased = save(
        store, leased, state=b"s2", nodes={"b": b"B2", "c": b"C2"}, events=[b"ev2", b"ev3"], release=False
    )
    assert (leased.state, leased.version, leased.nodes) == (b"s2", 4, {"a": b"A1", "b": b"B2", "c": b"C2"})
    snapshot = store.get("e1")
    assert snapshot is not None
    assert (snapshot.state, snapshot.version, snapshot.phase) == (b"s2", 4, "RUNNING")
    assert snapshot.nodes == {"a": b"A1", "b": b"B2", "c": b"C2"}
    assert snapshot.lease_owner == "p1"
    assert [(e.execution_id, e.payload) for e in store.pending_events()] == [
        ("e1", b"ev1"),
        ("e1", b"ev2"),
        ("e1", b"ev3"),
    ]


def test_a_released_workflow_is_due_when_its_save_says(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    save(store, take(store, 100.0), next_round_at=150.0)
    assert store.next_due_at() == 150.0
    assert store.acquire("p1", limit=1, lease_seconds=LEASE, now=149.0) == []
    # not due until woken:
    save(store, take(store, 150.0), next_round_at=None)
    assert store.next_due_at() is None
    assert store.acquire("p1", limit=1, lease_seconds=LEASE, now=1e12) == []
    assert store.wake("e1", at=200.0) is True
    assert store.next_due_at() == 200.0
    assert take(store, 200.0).execution_id == "e1"


def test_a_kept_lease_keeps_other_owners_out(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    leased = save(store, take(store, 100.0), next_round_at=100.0, release=False)
    assert leased.lease_expires_at == 100.0 + LEASE
    assert store.acquire("p2", limit=1, lease_seconds=LEASE, now=101.0) == []
    # The lease end is when the next acquire could take it over.
    assert store.next_due_at() == 100.0 + LEASE


def test_wakes_never_delay_a_round(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    save(store, take(store, 100.0), next_round_at=150.0)
    assert store.wake("e1", at=200.0) is True
    assert store.next_due_at() == 150.0
    assert store.wake("e1", at=120.0) is True
    assert store.next_due_at() == 120.0
    assert store.wake("nope") is False


def test_a_wake_during_a_round_is_not_lost(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    leased = take(store, 100.0)
    assert store.wake("e1", at=101.0) is True  # a task finished while the round ran
    # Leased: the wake does not make it acquirable by someone else.
    assert store.acquire("p2", limit=1, lease_seconds=LEASE, now=102.0) == []
    # The round's save says "not due until woken", but it was woken meanwhile.
    kept = save(store, leased, next_round_at=None, release=False)
    assert kept.next_round_at == 101.0
    # The next save (no wake since) schedules as it says; a later wake shows in a renewal.
    kept = save(store, kept, next_round_at=500.0, release=False)
    assert kept.next_round_at == 500.0
    store.wake("e1", at=103.0)
    assert store.renew(kept, LEASE, now=103.0).next_round_at == 103.0
    # Released with a later schedule, the wake wins.
    save(store, kept, next_round_at=400.0, release=True)
    assert store.next_due_at() == 103.0
    assert take(store, 103.0).execution_id == "e1"


def test_a_finished_workflow_is_never_acquired_woken_or_aborted(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    save(store, take(store, 100.0), phase="SUCCEEDED", next_round_at=100.0, now=110.0)
    snapshot = store.get("e1")
    assert snapshot is not None and snapshot.finished_at == 110.0 and snapshot.next_round_at is None
    assert store.wake("e1") is False
    assert store.request_abort("e1", "too late") is False
    assert store.next_due_at() is None
    assert store.acquire("p1", limit=1, lease_seconds=LEASE, now=1e12) == []


def test_terminal_phases_are_configurable(store_url: str) -> None:
    with SqlWorkflowStore.from_url(store_url, terminal_phases={"Done"}) as store:
        store.add("e1", b"o", b"s", "QUEUED", now=100.0)
        save(store, take(store, 100.0), phase="SUCCEEDED", next_round_at=100.0)
        again = take(store, 100.0)  # SUCCEEDED is not terminal for this store
        assert again.phase == "SUCCEEDED"
        save(store, again, phase="Done")
        snapshot = store.get("e1")
        assert snapshot is not None and snapshot.finished
        assert store.acquire("p1", limit=1, lease_seconds=LEASE, now=1e12) == []


def test_abort_requests_are_recorded_once_and_wake_the_workflow(store: SqlWorkflowStore) -> None:
    assert store.request_abort("nope", "why") is False
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    save(store, take(store, 100.0), next_round_at=None)
    assert store.next_due_at() is None
    assert store.request_abort("e1", "user asked", now=120.0) is True
    assert store.request_abort("e1", "asked again", now=130.0) is True
    assert store.next_due_at() == 120.0
    leased = take(store, 120.0)
    assert (leased.abort_requested, leased.abort_cause, leased.abort_requested_at) == (
        True,
        "user asked",
        120.0,
    )


def test_an_abort_during_a_lease_shows_in_renewal_and_save(store: SqlWorkflowStore) -> None:
    store.add("e1", b"o", b"s", "QUEUED", now=100.0)
    leased = take(store, 100.0)
    assert not leased.abort_requested
    store.request_abort("e1", "stop", now=105.0)
    renewed = store.renew(leased, LEASE, now=106.0)
    assert (renewed.abort_cause, renewed.next_round_at, renewed.lease_expires_at) == (
        "stop",
        105.0,
        106.0 + LEASE,
    )
    saved = save(store, renewed, release=False)
    assert saved.abort_cause == "stop"


def test_outbox_is_delivered_in_save_order_and_acked_events_are_gone(store: SqlWorkflowStore) -> None:
    for name in ("a", "b"):
        store.add(name, b"o", b"s", "QUEUED", now=100.0)
    leased = {w.execution_id: w for w in store.acquire("p1", limit=2, lease_seconds=LEASE, now=100.0)}
    expected = []
    for i in range(3):
        for name in ("b", "a"):
            payload = f"{name}{i}".encode()
            leased[name] = save(store, leased[name], events=[payload], release=False)
            expected.append((name, payload))
    pending = store.pending_events(limit=100)
    assert [(e.execution_id, e.payload) for e in pending] == expected
    assert [e.seq for e in pending] == sorted(e.seq for e in pending)
    assert store.pending_events(limit=2) == pending[:2]
    store.ack_events([pending[0].seq, pending[2].seq])
    store.ack_events([pending[0].seq])  # a second ack of the same event is harmless
    store.ack_events([])
    assert store.pending_events() == [pending[1], *pending[3:]]
    # Acked seqs are never handed out again, even once the outbox is empty.
    store.ack_events([e.seq for e in pending])
    assert store.pending_events() == []
    save(store, leased["a"], events=[b"later"])
    (later,) = store.pending_events()
    assert later.seq > pending[-1].seq


def test_outbox_survives_reopening(store_url: str) -> None:
    with SqlWorkflowStore.from_url(store_url) as store:
        store.add("e1", b"o", b"s", "QUEUED", now=100.0)
        save(store, take(store, 100.0), events=[b"one", b"two"])
    with SqlWorkflowStore.from_url(store_url) as reopened:
        assert [e.payload for e in reopened.pending_events()] == [b"one", b"two"]


def test_delete_finished_removes_old_finished_workflows_but_keeps_their_events(
    store: SqlWorkflowStore,
) -> None:
    for name in ("done", "running", "held"):
        store.add(name, b"o", b"s", "QUEUED", now=100.0)
    leased = {w.execution_id: w for w in store.acquire("p1", limit=3, lease_seconds=LEASE, now=100.0)}
    save(store, leased["done"], phase="FAILED", nodes={"n": b"x"}, events=[b"bye"], now=100.0)
    save(store, leased["running"], nodes={"n": b"x"}, now=100.0)
    # Finished, but its holder kept the lease (until 130): not deleted while it is held.
    save(store, leased["held"], phase="SUCCEEDED", release=False, now=100.0)
    assert store.delete_finished(older_than=50.0, now=140.0) == 0
    assert store.delete_finished(older_than=50.0, now=150.0) == 2
    assert store.get("done") is None and store.get("held") is None and store.get("running") is not None
    assert count_rows(store, "propeller_node_states", "done") == 0
    assert count_rows(store, "propeller_workflow_objects", "done") == 0
    assert count_rows(store, "propeller_node_states", "running") == 1
    assert [e.payload for e in store.pending_events()] == [b"bye"]
    assert store.add("done", b"o2", b"s", "QUEUED") is True  # the id is free again


def test_list_and_get(store: SqlWorkflowStore) -> None:
    for i, phase in enumerate(["QUEUED", "RUNNING", "QUEUED"]):
        store.add(f"e{i}", b"o", b"s", phase, now=100.0 + i)
    assert [w.execution_id for w in store.list()] == ["e0", "e1", "e2"]
    assert [w.execution_id for w in store.list("QUEUED")] == ["e0", "e2"]
    assert [w.execution_id for w in store.list(limit=1)] == ["e0"]
    assert store.list("SUCCEEDED") == []
    assert store.get("nope") is None
