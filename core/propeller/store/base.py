"""What a workflow store is: the contract between the propeller's engine and where workflows live.

The engine treats workflow objects and states as opaque bytes; a store makes them durable and
hands each workflow to one propeller at a time through a *lease*. Local mode uses a SQL table
(:class:`~flytecore.propeller.store.SqlWorkflowStore`); a Kubernetes store (``FlyteWorkflow``
custom resources) implements the same protocol.

A round, seen from the store::

    for leased in store.acquire(owner, limit=16, lease_seconds=30):
        ...                                    # run a round on leased.obj / state / nodes
        store.save(leased, state=..., phase=..., nodes=changed, events=events,
                   next_round_at=None, release=True)

Wakes (a task finished, a signal was set, an abort was requested) make a round due without a
lease. A wake that arrives while a round runs is not lost: the round's save folds it into the
workflow's ``next_round_at``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from flytecore.spec.phases import WorkflowExecutionPhase

__all__ = [
    "TERMINAL_PHASES",
    "Leased",
    "WorkflowInfo",
    "WorkflowSnapshot",
    "OutboxEvent",
    "WorkflowStore",
]

TERMINAL_PHASES = frozenset(p.name for p in WorkflowExecutionPhase if p.is_terminal)
"""Phases after which a workflow is finished (``SUCCEEDED``, ``FAILED``, ``ABORTED``, ``TIMED_OUT``)."""


@dataclass(frozen=True, slots=True)
class Leased:
    """A workflow leased to one owner: everything a round needs, and the token to save it with.

    Returned by ``acquire``, ``save`` and ``renew``; pass the newest one to the next call.
    """

    execution_id: str
    obj: bytes
    """The serialized workflow object (immutable)."""
    state: bytes
    """Workflow-level state as of the last save."""
    phase: str
    nodes: Mapping[str, bytes]
    """Every node's state as of the last save: node key -> bytes."""
    version: int
    """The fencing token: a save or renewal only succeeds if the stored version still equals it."""
    owner: str
    lease_expires_at: float | None
    """When the lease runs out unless renewed; None after a save that released it."""
    next_round_at: float | None = None
    """When the next round is due: None right after acquire (this round is the due one); after a
    save or renewal, the save's ``next_round_at`` moved earlier by any wake that came meanwhile.
    An owner keeping its lease runs its next round once this has passed."""
    abort_cause: str | None = None
    """Why an abort was requested, if one was; the round should abort the workflow."""
    abort_requested_at: float | None = None

    @property
    def abort_requested(self) -> bool:
        """True once someone asked for this workflow to be aborted."""
        return self.abort_requested_at is not None


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    """A stored workflow's bookkeeping, without its bytes (what ``list`` returns)."""

    execution_id: str
    phase: str
    version: int
    lease_owner: str | None
    lease_expires_at: float | None
    next_round_at: float | None
    abort_requested_at: float | None
    abort_cause: str | None
    finished_at: float | None
    created_at: float
    updated_at: float

    @property
    def finished(self) -> bool:
        """True once a save reached a terminal phase."""
        return self.finished_at is not None


@dataclass(frozen=True, slots=True)
class WorkflowSnapshot(WorkflowInfo):
    """A stored workflow with its object, state and node states (what ``get`` returns)."""

    obj: bytes = b""
    state: bytes = b""
    nodes: Mapping[str, bytes] = field(default_factory=dict)


class OutboxEvent(NamedTuple):
    """An event waiting in the outbox for delivery to the admin."""

    seq: int
    """Position in the outbox: events are delivered in this order."""
    execution_id: str
    payload: bytes


@runtime_checkable
class WorkflowStore(Protocol):
    """Durable workflows, leased to one propeller at a time. Every method is thread-safe.

    Times are float seconds since the epoch; methods taking ``now`` use ``time.time()`` when it
    is None (tests pass it to move the clock).
    """

    def add(
        self, execution_id: str, obj: bytes, state: bytes, phase: str, *, now: float | None = None
    ) -> bool:
        """Store a new workflow, due immediately. Idempotent: if ``execution_id`` exists already,
        return False and change nothing (the admin's hand-over may be retried)."""
        ...

    def acquire(
        self, owner: str, *, limit: int, lease_seconds: float, now: float | None = None
    ) -> builtins.list[Leased]:
        """Lease up to ``limit`` workflows to ``owner``: unfinished ones whose round is due and that
        are unleased, or whose lease has expired (their holder died mid-round: due at once).
        Never hands one workflow to two owners at the same time."""
        ...

    def save(
        self,
        leased: Leased,
        *,
        state: bytes,
        phase: str,
        nodes: Mapping[str, bytes],
        events: Sequence[bytes],
        next_round_at: float | None,
        release: bool,
        now: float | None = None,
    ) -> Leased:
        """Commit a round atomically: replace state and phase, upsert the changed ``nodes``, append
        ``events`` to the outbox, schedule the next round (None: when woken) and, with
        ``release``, give the lease up. A save in a terminal phase finishes the workflow.
        Raises :class:`LeaseLost`, writing nothing, if the workflow is no longer leased to
        ``leased.owner`` at ``leased.version``."""
        ...

    def renew(self, leased: Leased, lease_seconds: float, *, now: float | None = None) -> Leased:
        """Extend the lease to ``now + lease_seconds``; the result also reports wakes and abort
        requests that came since. Raises :class:`LeaseLost` if it is no longer held."""
        ...

    def wake(self, execution_id: str, at: float | None = None) -> bool:
        """Make a round due at ``at`` (default now) unless one is due earlier; no lease needed.
        False if the workflow is unknown or finished."""
        ...

    def request_abort(self, execution_id: str, cause: str, *, now: float | None = None) -> bool:
        """Record an abort request (the first cause is kept) and wake the workflow. False if the
        workflow is unknown or finished."""
        ...

    def get(self, execution_id: str) -> WorkflowSnapshot | None:
        """The stored workflow with its bytes and node states, or None."""
        ...

    def list(self, phase: str | None = None, *, limit: int = 100) -> builtins.list[WorkflowInfo]:
        """Stored workflows (optionally only those in ``phase``), oldest first, without bytes."""
        ...

    def next_due_at(self) -> float | None:
        """When the earliest round of an unfinished workflow becomes acquirable (due, or its
        lease expires); None if nothing is due until woken. The loop sleeps until then."""
        ...

    def pending_events(self, limit: int = 100, *, after: int = 0) -> builtins.list[OutboxEvent]:
        """Undelivered events, oldest first (seq order; per workflow, the order of its saves);
        only those after seq ``after`` (a deliverer's own high-water mark: what it delivered
        and will acknowledge later; sound where seqs commit in order, as on SQLite)."""
        ...

    def ack_events(self, seqs: Sequence[int]) -> None:
        """Delete delivered events from the outbox."""
        ...

    def delete_finished(self, older_than: float, *, now: float | None = None) -> int:
        """Delete unleased workflows (and their node states) that finished more than
        ``older_than`` seconds ago; undelivered events stay. Returns how many were deleted."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
