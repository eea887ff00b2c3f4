"""The propeller process: leases due workflows from the store, runs a round on each, saves the
result with its events, and delivers the events to the admin.

FlytePropeller's controller, for local mode: the workflow store plays the Kubernetes API (a
``FlyteWorkflow`` resource per execution, watched and updated), the lease plays the per-object
lock of its work queue, and the outbox plays its event recorder's retries. It is also the
admin's launch hook (:meth:`Propeller.launch` / :meth:`Propeller.abort`), so in the sandbox an
accepted execution goes straight into the store.

Durability: a round's statuses and events are saved in one transaction; events are delivered
after, from the outbox, so a killed propeller loses nothing. A restarted one re-reads the
statuses (nothing that finished runs again) and delivers what is left in the outbox.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
from flyteidl.core import compiler_pb2

from flytecore import _gc
from flytecore._lru import Recent
from flytecore.propeller.engine import Engine, Run
from flytecore.propeller.metrics import PropellerMetrics
from flytecore.propeller.sink import DeliveryFailed, EventSink, decode_event, encode_event
from flytecore.propeller.state import ExecutionState, WorkflowStatus, dump_node, dump_workflow
from flytecore.propeller.store.base import Leased, WorkflowStore
from flytecore.propeller.store.errors import LeaseLost
from flytecore.spec import idl
from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.converter import from_json, to_json
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.phases import WorkflowExecutionPhase
from flytecore.spec.workflow_object import WorkflowObject

__all__ = ["Propeller", "StoreLauncher", "add_to_store", "deliver_outbox", "execution_key"]

log = logging.getLogger(__name__)


def execution_key(eid: WorkflowExecutionIdentifier) -> str:
    """The store's key of an execution: ``project:domain:name`` (unique across projects)."""
    return f"{eid.project}:{eid.domain}:{eid.name}"


def add_to_store(store: WorkflowStore, obj: WorkflowObject) -> None:
    """Put an accepted execution into ``store`` as QUEUED (idempotent per execution); its inputs
    stay at ``obj.inputs_uri`` only, where the admin stored them, or, when there is no file (the
    admin kept small ones in its database), with the object; its compiled closure likewise stays
    at ``obj.closure_uri`` when there is one (FlyteAdmin's offloaded workflow closure: a
    10,000-node workflow's closure is megabytes, written and parsed once per version, not once
    per execution)."""
    offloaded: dict[str, Any] = {}
    if obj.inputs_uri:
        offloaded["inputs"] = None
    if obj.closure_uri:
        offloaded["closure"] = None
    stored = attrs.evolve(obj, **offloaded) if offloaded else obj
    store.add(execution_key(obj.execution_id), to_json(stored).encode(), dump_workflow(WorkflowStatus()), "QUEUED")


class StoreLauncher:
    """The admin's launch hook when the propeller runs as its own process (``flytecore admin
    serve --workflow-store URL`` beside ``flytecore propeller run --store URL``): executions go
    into the shared workflow store, where the propeller's loop finds them on its next poll.

    :param store: the workflow store the propeller reads.
    """

    def __init__(self, store: WorkflowStore) -> None:
        self.store = store

    def launch(self, obj: WorkflowObject) -> None:
        """Store the execution durably (what :meth:`Propeller.launch` does, without a loop to wake)."""
        add_to_store(self.store, obj)

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        """Record an abort request; the propeller's next round aborts the execution."""
        self.store.request_abort(execution_key(execution_id), cause)

    def close(self) -> None:
        """Close the store."""
        self.store.close()


DELIVERY_INTERVAL = 0.05
"""While rounds run or tasks of this process's workers are running, the loop delivers pending
events at most this often (seconds), so that one admin transaction takes the events of many
rounds; when nothing ran and nothing is running here, at once."""


CLOSURES_KEPT = 64
"""How many workflow versions' compiled closures, read from storage, the loop keeps decoded."""


STORE_RECHECK = 0.1
"""How stale (seconds) the loop lets its view of the store's earliest due round get while it is
busy: what this process changes it marks at once; what other processes (a standalone admin,
other propellers) add is seen within this long, or at the loop's next sleep."""


def deliver_outbox(
    store: WorkflowStore,
    sink: EventSink,
    metrics: PropellerMetrics,
    limit: int = 500,
    *,
    after: int = 0,
    acknowledge: Callable[[list[int]], None] | None = None,
) -> tuple[int, int]:
    """Deliver up to ``limit`` of ``store``'s pending events (those after seq ``after``) to
    ``sink`` in order, and acknowledge them; stops at the first one the admin cannot take now
    (logged, left pending). Returns how many were delivered (or dropped as refused) and how many
    of those read were not. What :meth:`Propeller.deliver` does, for a deliverer of its own (the
    sandbox's event process), which may ``acknowledge`` the delivered seqs itself, later (by
    default they are deleted from the outbox at once)."""
    pending = store.pending_events(limit, after=after)
    done: list[int] = []
    deliver_payloads = getattr(sink, "deliver_payloads", None)
    deliver_batch = getattr(sink, "deliver_batch", None)
    try:
        if (deliver_payloads or deliver_batch) is not None and pending:  # at once (one admin transaction)
            try:
                if deliver_payloads is not None:
                    deliver_payloads([item.payload for item in pending])
                else:
                    deliver_batch([decode_event(item.payload) for item in pending])  # type: ignore[misc]
                done = [item.seq for item in pending]
            except DeliveryFailed as exc:
                done = [item.seq for item in pending[: exc.handled]]
                raise
        else:
            for item in pending:
                sink.deliver(decode_event(item.payload))
                done.append(item.seq)
    except DeliveryFailed as exc:
        log.warning("event delivery paused, will retry: %s", exc)
    finally:
        if done:
            (acknowledge or store.ack_events)(done)
            metrics.events_delivered.inc(len(done))
        metrics.outbox.set(len(pending) - len(done))
    return len(done), len(pending) - len(done)


class Propeller:
    """Runs the workflows of one store (see the module docstring).

    :param store: the workflow store.
    :param engine: the engine (with its services: storage, the task backend, ...).
    :param sink: where events go; None keeps them in the outbox (for another deliverer:
        :attr:`events_saved` tells it when there are new ones).
    :param owner: this propeller's name in leases (unique per process by default).
    :param lease_seconds: how long a round may take before another propeller may take over.
    :param batch: workflows leased per pass.
    :param idle_poll: longest sleep when nothing is due and nothing woke the loop.
    :param resync_interval: how often every unfinished workflow gets a round anyway (see
        :meth:`resync`).
    """

    def __init__(
        self,
        store: WorkflowStore,
        engine: Engine,
        sink: EventSink | None = None,
        *,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        batch: int = 32,
        idle_poll: float = 1.0,
        resync_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        metrics: PropellerMetrics | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.sink = sink
        # Without a sink: called after each round that saved events, for whoever delivers them.
        self.events_saved: Callable[[], None] | None = None
        self._handover: tuple[Callable[[], None], Callable[[], None]] | None = None
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.idle_poll = idle_poll
        self.resync_interval = resync_interval
        self._last_resync = 0.0
        self._last_delivery = 0.0
        self.clock = clock
        self._runs: dict[str, tuple[int, Run]] = {}
        # Leases kept between rounds (see _round) and the wake-ups that arrived for them.
        self._held: dict[str, Leased] = {}
        self._woken: set[str] = set()
        self._abort_causes: dict[str, str] = {}
        self._last_renewal = 0.0
        self._renew_every = min(lease_seconds / 3, 2.0)
        self._objects: dict[str, WorkflowObject] = {}
        # Compiled closures read from storage, by URI (see _closure_at).
        self._closures: Recent[str, CompiledWorkflowClosure] = Recent(CLOSURES_KEPT)
        # The store's earliest due round as last read (see _store_due_at), and whether this
        # process changed the store since.
        self._store_due: float | None = None
        self._store_read = -math.inf
        self._store_changed = True
        self._cond = threading.Condition()
        self._kicked = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.metrics = metrics or PropellerMetrics()
        engine.services.wake = self.wake
        engine.on_node_finished = lambda kind, phase, seconds: self.metrics.node_finished(kind, phase.value, seconds)

    # --- the admin's launch hook ---------------------------------------------------------------

    def launch(self, obj: WorkflowObject) -> None:
        """Take an execution: stored durably before this returns; idempotent per execution."""
        add_to_store(self.store, obj)
        if obj.inputs is not None:  # its first round needs neither to parse it nor read its inputs
            self._objects.setdefault(execution_key(obj.execution_id), obj)
        self._store_changed = True
        self.kick()

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        """Ask for an execution to be aborted; the next round aborts it and reports ABORTED."""
        key = execution_key(execution_id)
        self.store.request_abort(key, cause)
        self._store_changed = True
        if key in self._held:  # held here: the next pass aborts it without waiting for a renewal
            self._abort_causes[key] = cause
            self._woken.add(key)
        self.kick()

    def wake(self, execution_id: WorkflowExecutionIdentifier) -> None:
        """Get a round for ``execution_id`` soon (a task finished, a signal was set)."""
        key = execution_key(execution_id)
        self._woken.add(key)  # a workflow this propeller holds: its next pass runs the round
        if key not in self._held:
            # Others' (or no one's): the store says so, for whichever propeller leases it. A
            # held one needs no write (every task end of a wide map would cost one, and contend
            # with the round's save for the database).
            self.store.wake(key)
            self._store_changed = True
        self.kick()

    def kick(self) -> None:
        """Wake the loop if it sleeps."""
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    # --- rounds --------------------------------------------------------------------------------

    def step(self) -> int:
        """One pass: a round for every due workflow (up to ``batch`` newly leased ones, plus the
        due ones this propeller holds). Returns how many ran."""
        self._renew_held()
        due = [leased for eid, leased in list(self._held.items()) if self._held_due(eid, leased)]
        store_due = self._store_due_at()
        leased = []
        if store_due is not None and store_due <= self.clock():
            leased = self.store.acquire(self.owner, limit=self.batch, lease_seconds=self.lease_seconds)
            self._store_changed = True  # leased (the store's due time moved), or lost to another
        self.metrics.queue_depth.set(len(leased) + len(due))
        for item in [*due, *leased]:
            self._woken.discard(item.execution_id)
            try:
                self._round(item)
            except LeaseLost:
                log.warning("lost the lease of %s during a round; another propeller has it", item.execution_id)
                self._forget(item.execution_id)
            except Exception:
                # A bug in a round must not stop the others; the lease expires and it is retried.
                log.exception("round of %s failed", item.execution_id)
                self._forget(item.execution_id)
        return len(leased) + len(due)

    def _store_due_at(self) -> float | None:
        """The store's earliest due round (:meth:`WorkflowStore.next_due_at`), read again only
        when this process changed the store since the last read, or :data:`STORE_RECHECK`
        seconds after it: a chain's loop passes twice per task, and would otherwise ask the
        store every time for what it already knows."""
        now = time.monotonic()
        if self._store_changed or now - self._store_read >= STORE_RECHECK:
            self._store_changed = False  # before the read: a change during it is read next time
            self._store_read = now
            self._store_due = self.store.next_due_at()
        return self._store_due

    def _forget(self, execution_id: str) -> None:
        self._store_changed = True  # its lease is given up or lost: the store tells what is due
        self._runs.pop(execution_id, None)
        self._held.pop(execution_id, None)

    def _held_due(self, execution_id: str, leased: Leased) -> bool:
        """A held workflow's round is due: woken here, or its scheduled time (which folds in
        wake-ups from other processes at each renewal) has come."""
        if execution_id in self._woken or leased.abort_requested:
            return True
        return leased.next_round_at is not None and leased.next_round_at <= self.clock()

    def _renew_held(self) -> None:
        """Keep the leases of workflows whose tasks run in this process's workers: another
        propeller taking one over would find attempts it cannot see and run them again."""
        now = time.monotonic()
        # Often enough to keep the lease, and to see within seconds the wake-ups and abort
        # requests that other processes (a standalone admin) record in the store.
        if now - self._last_renewal < self._renew_every:
            return
        self._last_renewal = now
        for eid, leased in list(self._held.items()):
            try:
                self._held[eid] = self.store.renew(leased, self.lease_seconds)
            except LeaseLost:
                log.warning("lost the lease of %s; another propeller has it", eid)
                self._forget(eid)

    def release_all(self) -> None:
        """Give up every held lease (on shutdown): the workflows' running attempts end with this
        process's workers, and the next propeller retries them."""
        for eid, leased in list(self._held.items()):
            run = self._runs.get(eid)
            try:
                self.store.save(
                    leased, state=dump_workflow(run[1].state.workflow) if run else leased.state,
                    phase=run[1].state.workflow.phase.name if run else leased.phase,
                    nodes={}, events=[], next_round_at=self.clock(), release=True,
                )
            except LeaseLost:
                pass
            self._forget(eid)

    def _run_for(self, leased: Leased) -> Run:
        cached = self._runs.get(leased.execution_id)
        if cached is not None and cached[0] == leased.version:
            return cached[1]
        obj = self._objects.get(leased.execution_id)
        if obj is None:
            obj = from_json(leased.obj.decode(), WorkflowObject)
            obj = self._load_offloaded(leased.execution_id, obj)
            self._objects[leased.execution_id] = obj
        state = ExecutionState.load(leased.state, leased.nodes.items())
        return Run(obj, state, producer_id=self.engine.config.producer_id)

    def _load_offloaded(self, execution_id: str, obj: WorkflowObject) -> WorkflowObject:
        """``obj`` with what the store keeps elsewhere (see :func:`add_to_store`) read back."""
        data = self.engine.services.data
        loaded: dict[str, Any] = {}
        if obj.inputs is None:
            inputs = data.read_literal_map(obj.inputs_uri)
            if inputs is None:
                raise FileNotFoundError(f"the inputs of execution {execution_id} are missing from {obj.inputs_uri}")
            loaded["inputs"] = inputs
        if obj.closure is None:
            loaded["closure"] = self._closure_at(execution_id, obj.closure_uri)
        return attrs.evolve(obj, **loaded) if loaded else obj

    def _closure_at(self, execution_id: str, uri: str) -> CompiledWorkflowClosure:
        """The compiled closure stored at ``uri``, read and decoded once for the executions of a
        version (a workflow version's closure never changes; the last :data:`CLOSURES_KEPT`
        are kept)."""
        closure = self._closures.recall(uri)
        if closure is None:
            data = self.engine.services.data.read_bytes(uri)
            if data is None:
                raise FileNotFoundError(f"the compiled workflow of execution {execution_id} is missing from {uri}")
            closure = self._closures.keep(
                uri, idl.from_idl(compiler_pb2.CompiledWorkflowClosure.FromString(data), CompiledWorkflowClosure)
            )
        return closure

    def _round(self, leased: Leased) -> None:
        run = self._run_for(leased)
        cause = leased.abort_cause or self._abort_causes.pop(leased.execution_id, None)
        if cause and run.state.workflow.abort_cause is None:
            run.state.workflow.abort_cause = cause
        first = run.state.workflow.phase == WorkflowExecutionPhase.QUEUED
        started = time.perf_counter()
        now = self.clock()
        if first:
            self.metrics.acceptance_latency.observe(max(now - run.obj.accepted_at.timestamp(), 0.0))
        done = self.engine.round(run, now)
        self.rounds += 1
        wf = run.state.workflow
        changed = run.state.take_dirty()
        events = run.take_events()
        # Attempts running in this process's workers: keep the lease (renewed) until they end.
        hold = not done and bool(run.running_tasks)
        saved = self.store.save(
            leased,
            state=dump_workflow(wf),
            phase=wf.phase.name,
            nodes={key: dump_node(status) for key, status in changed.items()},
            events=[encode_event(e) for e in events],
            next_round_at=None if done else run.wake_at,
            release=not hold,
        )
        if events and self.events_saved is not None:  # set only while there is no sink
            self.events_saved()
        if hold:
            self._held[leased.execution_id] = saved
        else:
            self._held.pop(leased.execution_id, None)
            self._store_changed = True  # released: its next round is the store's to tell
        self.metrics.round_finished(time.perf_counter() - started, done=done)
        if done:
            self._runs.pop(leased.execution_id, None)
            self._objects.pop(leased.execution_id, None)
            parent = run.obj.parent_node_execution
            if parent is not None and parent.execution_id is not None:
                self.wake(parent.execution_id)  # the parent's launch plan node can finish now
        else:
            self._runs[leased.execution_id] = (saved.version, run)

    # --- events --------------------------------------------------------------------------------

    def deliver(self, limit: int = 500) -> int:
        """Deliver pending events in order; stops at the first one the admin cannot take now.
        Returns how many were delivered (or dropped as refused)."""
        if self.sink is None:
            return 0
        return deliver_outbox(self.store, self.sink, self.metrics, limit)[0]

    def deliver_elsewhere(self, events_saved: Callable[[], None], then: Callable[[], None]) -> None:
        """Leave events in the outbox for another deliverer from now on: the loop stops
        delivering at its next pass (at once if it is not running), calls ``then()`` once it
        has, and ``events_saved()`` after every round that saved events."""
        if self._thread is None:
            self.sink, self.events_saved = None, events_saved
            then()
            return
        self._handover = (events_saved, then)
        self.kick()

    def deliver_here(self, sink: EventSink) -> None:
        """Deliver to ``sink`` from this loop again (the other deliverer is gone)."""
        self._handover = None
        self.events_saved, self.sink = None, sink
        self.kick()

    def _take_handover(self) -> None:
        handover, self._handover = self._handover, None
        if handover is not None:
            self.sink, self.events_saved = None, handover[0]
            handover[1]()

    # --- the loop ------------------------------------------------------------------------------

    def resync(self) -> int:
        """Make a round due for every unfinished workflow; returns how many.

        A running task wakes its workflow when it ends, but that wake-up lives in the process
        whose worker ran the task: after a crash of that propeller, or a lost wake, a workflow
        waiting for one would wait forever. A propeller resyncs when it starts and every
        ``resync_interval`` seconds (FlytePropeller's informer resync does the same); a round
        that finds nothing changed costs little.
        """
        woken = 0
        for info in self.store.list(limit=1_000_000):
            if not info.finished and self.store.wake(info.execution_id):
                woken += 1
        self._last_resync = time.monotonic()
        self._store_changed = True
        return woken

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Pass after pass until every workflow in the store finished and no event is pending
        (tests, one-shot runs)."""
        deadline = time.monotonic() + timeout
        self.resync()
        while time.monotonic() < deadline:
            ran = self.step()
            delivered = self.deliver()
            if ran or delivered:
                continue
            unfinished = any(not info.finished for info in self.store.list(limit=100_000))
            if not unfinished and (self.sink is None or not self.store.pending_events(1)):
                return
            wait = self._wait_time(0.05)
            with self._cond:
                if not self._kicked:
                    self._cond.wait(wait)
                self._kicked = False
        raise TimeoutError(f"the propeller was still busy after {timeout} s")

    def _wait_time(self, longest: float) -> float:
        """How long the loop may sleep: until the store's next due round, a held workflow's
        scheduled round or the next lease renewal, at most ``longest``."""
        times = [self._store_due_at(), *(leased.next_round_at for leased in self._held.values())]
        wait = longest
        for at in times:
            if at is not None:
                wait = min(wait, max(at - self.clock(), 0.0))
        if self._held:
            wait = min(wait, self._renew_every)
        return wait

    def serve(self) -> None:
        """Run until :meth:`stop` (in this thread)."""
        self.resync()
        while not self._stop.is_set():
            if time.monotonic() - self._last_resync >= self.resync_interval:
                self.resync()
            try:
                if self._handover is not None:
                    self._take_handover()
                ran = self.step()
                # Events go to the admin in batches while rounds keep coming or tasks run (one
                # admin transaction, one outbox query and one acknowledgement for the events of
                # many rounds), at once when nothing is left to wait for.
                now = time.monotonic()
                due = now - self._last_delivery >= DELIVERY_INTERVAL
                delivered = 0
                if due or (not ran and not self._held):
                    delivered = self.deliver()
                    self._last_delivery = now
            except Exception:
                log.exception("propeller pass failed; retrying")
                ran = delivered = 0
                self._stop.wait(1.0)
            if ran or delivered:
                continue
            wait = self._wait_time(self.idle_poll)
            if self._held:  # events held back while tasks run: no later than the next delivery
                wait = min(wait, max(self._last_delivery + DELIVERY_INTERVAL - time.monotonic(), 0.0))
            with self._cond:
                if not self._kicked:
                    self._cond.wait(wait)
                self._kicked = False

    def start(self) -> None:
        """Run the loop in a background thread (the process's collector tuned for a control
        plane meanwhile: :mod:`flytecore._gc`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        _gc.hold()
        self._thread = threading.Thread(target=self.serve, name="flytecore-propeller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (idempotent); the store keeps everything for the next start."""
        self._stop.set()
        self.kick()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            _gc.release()
        self.release_all()
