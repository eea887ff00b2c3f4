"""The engine: one round over one execution (FlytePropeller's workflow executor).

A round walks the workflow's DAG from what changed since the last round, starts the nodes whose
upstream nodes finished, asks the node handlers of running nodes how they are doing, applies
retries (user and system failures counted apart), per-attempt timeouts, the failure policy and
max parallelism, and records every phase change as an event. It does no I/O of its own: storage,
task execution and child executions come through :class:`~flytecore.propeller.context.Services`.

A round is cheap when little changed: each scope (the workflow, and every subworkflow, branch
case, dynamic workflow or map element nested in it) keeps a :class:`Cursor` of its running nodes
and of nodes to look at, so a round touches the nodes that can move, not the whole DAG. Cursors
live in memory only; after a restart the first round rebuilds them from the saved statuses.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

from flytecore.propeller.bindings import BindingError, resolve_bindings
from flytecore.propeller.context import (
    INLINE_INPUTS,
    TASK_CONTEXTS,
    EngineConfig,
    NodeContext,
    Services,
    Transition,
    system_error,
    user_error,
)
from flytecore.propeller.events import literal_map_message, node_event, workflow_event
from flytecore.propeller.executable import END_NODE_ID, START_NODE_ID
from flytecore.propeller.failure_node import error_input_type, with_error_input
from flytecore.propeller.handlers.task import WAKES
from flytecore.propeller.scope import Cursor, Run, Scope, ScopeResult, node_kind, timeout_of, user_retries
from flytecore.propeller.state import NodeStatus
from flytecore.sdk import _handoff
from flytecore.spec.execution import ErrorKind, ExecutionError
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase, WorkflowExecutionPhase
from flytecore.spec.workflow import Node, OnFailurePolicy

__all__ = ["Cursor", "Engine", "Run", "Scope", "ScopeResult", "node_kind"]

log = logging.getLogger(__name__)

_FAILED = (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED)
_FINALIZED = (NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.TIMED_OUT)
_END_PHASE = "_end_phase"
_OUTPUT_URI = "_output_uri"  # where a finalizing node's outputs are stored, for its end event


def _in_order(node_id: str) -> tuple[int, str]:
    return len(node_id), node_id


class Engine:
    """Runs rounds. Node handlers by kind come from :mod:`flytecore.propeller.handlers`
    (plugins may replace them through the execution hook)."""

    def __init__(self, services: Services, config: EngineConfig | None = None, handlers: dict[str, object] | None = None) -> None:
        from flytecore.propeller.handlers import default_handlers

        self.services = services
        self.config = config or EngineConfig()
        self.handlers: dict[str, object] = {**default_handlers(), **(handlers or {})}
        # Called with (kind, end phase, seconds since queued) when a node ends (metrics).
        self.on_node_finished: Callable[[str, NodePhase, float], None] | None = None
        # Task nodes woken by their executors (any thread) since their execution's last round,
        # kept for the executions this engine runs (a late wake of a finished one is not kept).
        self._woken: dict[object, set[str]] = {}
        self._running: set[object] = set()
        self._woken_lock = threading.Lock()

    def wake_node(self, execution_id: object, key: str) -> None:
        """A task node's attempt changed (called from any thread): its next round asks about it,
        and the execution gets a round soon."""
        with self._woken_lock:
            if execution_id in self._running:
                self._woken.setdefault(execution_id, set()).add(key)
        self.services.wake(execution_id)  # type: ignore[arg-type]

    # --- the round ---------------------------------------------------------------------------

    def round(self, run: Run, now: float) -> bool:
        """Advance ``run`` as far as it can go now. Returns True once the execution finished.
        Events land in ``run.events``; changed statuses are marked dirty in ``run.state``."""
        with self._woken_lock:
            self._running.add(run.execution_id)
            run.woken = self._woken.pop(run.execution_id, set())
        done = self._round(run, now)
        if done:
            with self._woken_lock:
                self._running.discard(run.execution_id)
                self._woken.pop(run.execution_id, None)
        return done

    def _round(self, run: Run, now: float) -> bool:
        wf = run.state.workflow
        run.wake_at = None
        if wf.phase.is_terminal:
            return True
        if wf.phase == WorkflowExecutionPhase.QUEUED:
            self._set_workflow(run, WorkflowExecutionPhase.RUNNING, now)
            wf.started_at = now
        assert run.obj.inputs is not None, "the propeller reads stored inputs before a round"
        top = Scope(run.closure.primary, "", None, run.obj.inputs)
        if wf.abort_cause is not None:
            self.abort_scope(run, top, wf.abort_cause, now)
            self.abort_failure_node(run, top, wf.abort_cause, now)
            wf.error = ExecutionError(code="Aborted", message=wf.abort_cause, kind=ErrorKind.USER)
            self._set_workflow(run, WorkflowExecutionPhase.ABORTED, now)
            return True
        result = self.walk(run, top, now)
        if result.phase == NodePhase.SUCCEEDED:
            wf.outputs = result.outputs
            # Flyte's workflow goes Succeeding (its outputs are final) before Succeeded.
            self._set_workflow(run, WorkflowExecutionPhase.SUCCEEDING, now)
            self._set_workflow(run, WorkflowExecutionPhase.SUCCEEDED, now, outputs=result.outputs)
            return True
        if result.phase in _FAILED:
            if wf.phase != WorkflowExecutionPhase.FAILING:
                wf.error, wf.failed_node = result.error, result.failed_node
                self._set_workflow(run, WorkflowExecutionPhase.FAILING, now)
            if not self._failure_node_done(run, top, now):
                return False
            self._set_workflow(run, WorkflowExecutionPhase.FAILED, now, error=wf.error)
            return True
        return False

    def _set_workflow(self, run: Run, phase: WorkflowExecutionPhase, now: float, **result: object) -> None:
        wf = run.state.workflow
        wf.phase, wf.updated_at = phase, now
        run.state.workflow_dirty = True
        workflow_event(run, phase, now, **result)  # type: ignore[arg-type]

    def _failure_node_done(self, run: Run, top: Scope, now: float) -> bool:
        """Run the workflow's on-failure node to the end, if it has one (see
        :meth:`failure_node_done`); the workflow status records that it started."""
        wf = run.state.workflow
        if top.executable.template.failure_node is not None and not wf.failure_node_started:
            wf.failure_node_started = True
            run.state.workflow_dirty = True
        return self.failure_node_done(run, top, now, wf.error, wf.failed_node)

    def failure_node_done(
        self, run: Run, scope: Scope, now: float, error: ExecutionError | None, failed_node: str | None
    ) -> bool:
        """Step the failed ``scope``'s on-failure node (its ``failure_node``, flytekit's ``fn0``);
        True once it ended, or if there is none. Its inputs are its bindings (to the scope's
        inputs) plus ``err``: ``failed_node`` (a unique id) and the ``error`` message (see
        :mod:`flytecore.propeller.failure_node`). Its own failure shows in its node events and
        the log; the scope keeps its original error. The subworkflow handler calls it too."""
        failure_node = scope.executable.template.failure_node
        if failure_node is None:
            return True
        key = scope.key(failure_node.id)
        status = run.state.node(key)
        if status.phase.is_terminal:
            return True
        message = error.message if error is not None else ""
        declared = error_input_type(run.closure, failure_node)
        node = with_error_input(failure_node, declared, failed_node or "", message)
        self._step_node(run, scope, node, key, status, now, collections.deque())
        if status.phase in _FAILED:
            reason = status.error.message if status.error is not None else status.phase.name
            log.warning("failure node %s of %s ended %s: %s", key, run.execution_id, status.phase.name, reason)
        return status.phase.is_terminal

    def abort_failure_node(self, run: Run, scope: Scope, cause: str, now: float) -> None:
        """Abort ``scope``'s on-failure node if it runs (an abort never starts one)."""
        failure_node = scope.executable.template.failure_node
        if failure_node is None:
            return
        key = scope.key(failure_node.id)
        status = run.state.peek(key)
        if status is None or status.phase.is_terminal or status.phase == NodePhase.NOT_YET_STARTED:
            return
        try:
            ctx = self.node_context(run, scope, failure_node, key, status, now)
            self.handlers[node_kind(failure_node)].abort(ctx, cause)  # type: ignore[attr-defined]
        except Exception:  # as in abort_scope: the abort goes on, the handler's failure is logged
            log.exception("aborting failure node %s of %s failed", key, run.execution_id)
        status.error = ExecutionError(code="Aborted", message=cause, kind=ErrorKind.SYSTEM)
        self._finish(run, scope, key, failure_node, status, NodePhase.ABORTED, now)

    # --- scopes ------------------------------------------------------------------------------

    def cursor(self, run: Run, scope: Scope) -> Cursor:
        """The scope's cursor, rebuilt from the saved statuses after a restart."""
        cur = run.cursors.get(scope.prefix)
        if cur is None:
            cur = run.cursors[scope.prefix] = Cursor()
            started = False
            for node_id in scope.executable.nodes:
                status = run.state.peek(scope.key(node_id))
                if status is None:
                    continue
                started = True
                if status.phase in _FAILED and cur.failed is None:
                    cur.failed = node_id
                elif not status.phase.is_terminal:
                    cur.candidates.add(node_id)
            if started:
                # Nodes whose upstream all finished may not have been looked at before the restart.
                cur.candidates.update(n for n in scope.executable.nodes if run.state.peek(scope.key(n)) is None)
            else:
                cur.candidates.update(scope.executable.start_successors)
        return cur

    def walk(self, run: Run, scope: Scope, now: float) -> ScopeResult:
        """One pass over the nodes of ``scope`` that can move."""
        ex = scope.executable
        cur = self.cursor(run, scope)
        if cur.polled:  # active nodes that are not waiting, and the waiting ones woken
            queue = collections.deque(cur.polling)
            if cur.waiting and run.woken:
                woken = {k[len(scope.prefix) :] for k in run.woken if k.startswith(scope.prefix)} & cur.waiting
                cur.waiting -= woken
                queue.extend(woken)
        else:  # the first walk since the cursor was built asks every active node
            queue = collections.deque(cur.active)
            cur.waiting.clear()
            cur.polling = set(cur.active)
            cur.polled = True
        # Ready nodes in a stable order: a map's elements start by index (n2 before n10).
        queue.extend(sorted(cur.candidates, key=_in_order) if len(cur.candidates) > 1 else cur.candidates)
        cur.candidates = set()
        seen: set[str] = set()
        stop_on_failure = scope.failure_policy == OnFailurePolicy.FAIL_IMMEDIATELY
        while queue or (cur.held and not self._held_back(run, scope, cur, cur.held[0])):
            # Nodes held back by max parallelism start, in order, as slots free up; the others
            # stay in the queue of held nodes untouched (a wide map must not look at all of them
            # every time one element ends).
            node_id = queue.popleft() if queue else cur.held.popleft()
            # A node is handled at most once per round; one that waits may become ready later in it.
            if node_id in seen or node_id in (END_NODE_ID, START_NODE_ID):
                continue
            if cur.failed is not None and stop_on_failure:
                break
            key = scope.key(node_id)
            known = run.state.peek(key)  # a node that never started has no status until it does
            if known is not None and known.phase.is_terminal:
                continue
            if known is None or known.phase == NodePhase.NOT_YET_STARTED:
                verdict = self._upstream_verdict(run, scope, node_id)
                if verdict == "wait":
                    continue
                if verdict == "blocked":
                    continue  # an upstream node failed: this one never runs
                if verdict == "skip":
                    self._finish(run, scope, key, ex.nodes[node_id], run.state.node(key), NodePhase.SKIPPED, now)
                    queue.extend(ex.downstream.get(node_id, ()))
                    continue
                if self._held_back(run, scope, cur, node_id):
                    cur.held.append(node_id)
                    continue
            status = known if known is not None else run.state.node(key)
            seen.add(node_id)
            if status.phase in (NodePhase.SUCCEEDING, NodePhase.FAILING):  # finalizing failed before
                self._finalize(run, scope, ex.nodes[node_id], key, status, now, node_kind(ex.nodes[node_id]))
            else:
                self._step_node(run, scope, ex.nodes[node_id], key, status, now, queue)
            if status.phase.is_terminal:
                cur.active.discard(node_id)
                cur.waiting.discard(node_id)
                cur.polling.discard(node_id)
                if status.phase in _FAILED:
                    cur.failed = cur.failed or node_id
                queue.extend(ex.downstream.get(node_id, ()))
            else:
                cur.active.add(node_id)
                if self._waits(run, scope, node_id, status):
                    cur.waiting.add(node_id)
                    cur.polling.discard(node_id)
                else:
                    cur.polling.add(node_id)
        return self._scope_result(run, scope, cur, now)

    def _held_back(self, run: Run, scope: Scope, cur: Cursor, node_id: str) -> bool:
        """Starting ``node_id`` now would go over the execution's max parallelism (running
        tasks) or the scope's (running nodes, a map's ``parallelism``)."""
        if scope.parallelism and len(cur.active) >= scope.parallelism:
            return True
        limit = run.obj.max_parallelism
        return bool(limit and len(run.running_tasks) >= limit and node_kind(scope.executable.nodes[node_id]) == "task")

    def _waits(self, run: Run, scope: Scope, node_id: str, status: NodeStatus) -> bool:
        """An active task node that need not be asked until it is woken: its executor wakes it
        when its attempt changes (:attr:`TaskTransition.wakes`), it asked for no poll or retry
        and no timeout is watched. Asking it anyway would cost every round of a wide fan-out one
        handler call per running node."""
        if not status.plugin_state.get(WAKES) or status.wake_at is not None or status.dynamic:
            return False
        if status.phase not in (NodePhase.QUEUED, NodePhase.RUNNING):
            return False
        return timeout_of(run, scope.executable.nodes[node_id]) is None

    def _scope_result(self, run: Run, scope: Scope, cur: Cursor, now: float) -> ScopeResult:
        ex = scope.executable
        if cur.failed is not None:
            if scope.failure_policy == OnFailurePolicy.FAIL_IMMEDIATELY:
                self.abort_scope(run, scope, f"node {cur.failed} failed", now)
            elif cur.active or cur.candidates or cur.held:
                return ScopeResult(NodePhase.RUNNING)
            failed_key = scope.key(cur.failed)
            error = run.state.node(failed_key).error or system_error("NodeFailed", f"node {cur.failed} failed")
            return ScopeResult(NodePhase.FAILED, error=error, failed_node=failed_key)
        if cur.active or cur.candidates or cur.held:
            return ScopeResult(NodePhase.RUNNING)
        ups = ex.upstream.get(END_NODE_ID, ())
        if not all(u == START_NODE_ID or run.state.node(scope.key(u)).phase.is_terminal for u in ups):
            return ScopeResult(NodePhase.RUNNING)
        try:
            outputs = resolve_bindings(ex.template.outputs, self.outputs_lookup(run, scope))
        except BindingError as exc:
            return ScopeResult(NodePhase.FAILED, error=user_error("OutputsNotFound", f"workflow outputs: {exc}"))
        return ScopeResult(NodePhase.SUCCEEDED, outputs=outputs)

    def _upstream_verdict(self, run: Run, scope: Scope, node_id: str) -> str:
        """"run", "wait" (an upstream node runs), "skip" (one was skipped) or "blocked" (failed)."""
        verdict = "run"
        for up in scope.executable.upstream.get(node_id, ()):
            if up == START_NODE_ID:
                continue
            phase = run.state.node(scope.key(up)).phase
            if not phase.is_terminal:
                return "wait"
            if phase in _FAILED:
                verdict = "blocked"
            elif phase == NodePhase.SKIPPED and verdict == "run":
                verdict = "skip"
        return verdict

    def outputs_lookup(self, run: Run, scope: Scope) -> Callable[[str], LiteralMap | None]:
        """Node outputs by node id within ``scope`` (the start node's are the scope's inputs)."""

        nodes, outer = scope.executable.nodes, scope.outer

        def lookup(node_id: str) -> LiteralMap | None:
            if node_id == START_NODE_ID:
                return scope.inputs
            if outer is not None and node_id not in nodes:
                return outer(node_id)
            status = run.state.peek(scope.key(node_id))
            return status.outputs if status is not None else None

        return lookup

    # --- one node ----------------------------------------------------------------------------

    def node_context(self, run: Run, scope: Scope, node: Node, key: str, status: NodeStatus, now: float) -> NodeContext:
        """The handler's view of a node, with its inputs resolved.

        A node's inputs never change once it may start (its upstream nodes have ended), so they
        are resolved once and kept while the node is active: a running node is looked at every
        round (a map's elements, a task being polled) without resolving its bindings again.
        """
        resolved: dict[str, LiteralMap] = run.memo["inputs"]
        inputs = resolved.get(key)
        if inputs is None:
            inputs = resolved[key] = resolve_bindings(node.inputs, self.outputs_lookup(run, scope))
        return NodeContext(self, run, key, node, status, inputs, scope.parent_key, now, scope)

    def _step_node(
        self, run: Run, scope: Scope, node: Node, key: str, status: NodeStatus, now: float, queue: collections.deque[str]
    ) -> None:
        """Start the node if needed and ask its handler once (again after a retryable failure)."""
        kind = node_kind(node)
        handler = self.handlers[kind]
        try:
            ctx = self.node_context(run, scope, node, key, status, now)
        except BindingError as exc:
            status.error = user_error("BindingResolutionFailure", f"node {node.id}: {exc}")
            self._finish(run, scope, key, node, status, NodePhase.FAILED, now)
            return
        if status.phase == NodePhase.NOT_YET_STARTED:
            status.phase, status.queued_at, status.attempts = NodePhase.QUEUED, now, 1
            status.attempt_started_at = now
            run.state.touch(key)
            input_uri = None
            if kind in ("task", "array") and scope.map_inputs_uri is None:
                input_uri = self._store_inputs(run, node, ctx, kind)
            node_event(
                run, key, node, status, now, parent_key=scope.parent_key, kind=kind,
                inputs=None if input_uri else ctx.inputs, input_uri=input_uri,
            )
        for _ in range(2 + self.config.max_system_retries + user_retries(run, node)):
            transition = self._timed_out(handler, ctx) or handler.handle(ctx)  # type: ignore[attr-defined]
            if transition.phase != NodePhase.RETRYABLE_FAILURE or not self._retry(run, node, status, transition, now):
                break
        self._apply(run, scope, node, key, status, transition, now, kind)

    def _store_inputs(self, run: Run, node: Node, ctx: NodeContext, kind: str) -> str | None:
        """Store a starting task's inputs where its process reads them (every attempt; a map
        over a task typed with the lists reads the array node's) and return where, for the
        admin; or, when the task's executor hands them to the task itself and they are small,
        store nothing (the events carry them) and return None."""
        if kind == "task" and node.task_node is not None:
            try:
                template = run.closure.task(node.task_node.reference_id)
            except KeyError:  # the handler fails the node, saying so
                return None
            hands = getattr(self.services.tasks.executor_for(template), "hands_inputs", None)
            if hands is not None and hands(template):
                data = literal_map_message(run, ctx.inputs).SerializeToString(deterministic=True)
                if len(data) <= _handoff.LIMIT:
                    ctx.status.inputs_inline = True
                    run.memo[INLINE_INPUTS][ctx.key] = data  # handed over as they are (task_context)
                    return None
                # Nothing reads them before the task is submitted, after this: written in place.
                self.services.data.write_bytes(ctx.inputs_uri, data, unread=True)
                return ctx.inputs_uri
        self.services.data.write_literal_map(ctx.inputs_uri, ctx.inputs, unread=True)
        return ctx.inputs_uri

    def _timed_out(self, handler: object, ctx: NodeContext) -> Transition | None:
        timeout = timeout_of(ctx.run, ctx.node)
        started = ctx.status.attempt_started_at
        if timeout is None or started is None or ctx.status.phase not in (NodePhase.QUEUED, NodePhase.RUNNING):
            return None
        if ctx.now - started < timeout:
            ctx.run.want_wake(started + timeout)
            return None
        handler.abort(ctx, "timed out")  # type: ignore[attr-defined]
        error = user_error("Timeout", f"attempt {ctx.status.retry_attempt} ran longer than its timeout of {timeout:g} s")
        return Transition(NodePhase.RETRYABLE_FAILURE, error=error, message="timed out")

    def _retry(self, run: Run, node: Node, status: NodeStatus, transition: Transition, now: float) -> bool:
        """Count a failed attempt; True if another one starts."""
        error = transition.error or system_error("Unknown", "the attempt failed")
        status.error = error
        if error.kind == ErrorKind.SYSTEM:
            status.system_failures += 1
            allowed = status.system_failures <= self.config.max_system_retries
        else:
            status.user_failures += 1
            allowed = status.user_failures <= user_retries(run, node)
        if not allowed:
            return False
        status.attempts += 1
        status.attempt_started_at = now
        status.plugin_state = {}
        status.message = f"retrying after: {error.message.splitlines()[0] if error.message else error.code}"
        return True

    def _apply(
        self, run: Run, scope: Scope, node: Node, key: str, status: NodeStatus, transition: Transition, now: float, kind: str
    ) -> None:
        phase = transition.phase
        run.state.touch(key)
        status.updated_at = now
        if transition.message:
            status.message = transition.message
        if phase == NodePhase.RETRYABLE_FAILURE:  # the budget is spent
            status.error = transition.error or status.error
            phase = NodePhase.TIMED_OUT if (status.error and status.error.code == "Timeout") else NodePhase.FAILED
        if phase in (NodePhase.RUNNING, NodePhase.DYNAMIC_RUNNING):
            if status.phase not in (NodePhase.RUNNING, NodePhase.DYNAMIC_RUNNING):
                status.phase, status.started_at = phase, status.started_at or now
                node_event(run, key, node, status, now, parent_key=scope.parent_key, kind=kind)
            elif status.phase != phase:
                status.phase = phase
            status.wake_at = transition.wake_at
            run.want_wake(transition.wake_at)
            return
        if phase == NodePhase.SUCCEEDED:
            status.outputs = transition.outputs or LiteralMap()
        elif transition.error is not None:
            status.error = transition.error
        if phase in _FINALIZED:
            # Succeeding / Failing: the handler cleans up (a plugin deletes its resource) before
            # the node ends; the end phase waits in the status in case finalizing must be retried.
            status.phase = NodePhase.SUCCEEDING if phase == NodePhase.SUCCEEDED else NodePhase.FAILING
            status.plugin_state[_END_PHASE] = phase.value
            if transition.output_uri:
                status.plugin_state[_OUTPUT_URI] = transition.output_uri
            self._finalize(run, scope, node, key, status, now, kind)
            return
        self._finish(run, scope, key, node, status, phase, now, kind=kind, output_uri=transition.output_uri)

    def _finalize(self, run: Run, scope: Scope, node: Node, key: str, status: NodeStatus, now: float, kind: str) -> None:
        """Run the handler's finalize step (if it has one), then end the node; a finalize that
        fails is logged and retried at the next round."""
        finalize = getattr(self.handlers[kind], "finalize", None)
        if finalize is not None:
            try:
                finalize(self.node_context(run, scope, node, key, status, now))
            except Exception:
                log.exception("finalizing node %s of %s failed; retrying", key, run.execution_id)
                status.wake_at = now + 1.0
                run.want_wake(status.wake_at)
                run.state.touch(key)
                return
        end = NodePhase(status.plugin_state.pop(_END_PHASE, NodePhase.SUCCEEDED.value if status.phase == NodePhase.SUCCEEDING else NodePhase.FAILED.value))
        output_uri = status.plugin_state.pop(_OUTPUT_URI, None)
        self._finish(run, scope, key, node, status, end, now, kind=kind, output_uri=output_uri)

    def _finish(
        self,
        run: Run,
        scope: Scope,
        key: str,
        node: Node,
        status: NodeStatus,
        phase: NodePhase,
        now: float,
        kind: str | None = None,
        output_uri: str | None = None,
    ) -> None:
        status.phase, status.updated_at, status.wake_at = phase, now, None
        run.state.touch(key)
        run.running_tasks.discard(key)
        for memo in ("inputs", INLINE_INPUTS, TASK_CONTEXTS):
            run.memo[memo].pop(key, None)
        kind = kind or node_kind(node)
        node_event(run, key, node, status, now, parent_key=scope.parent_key, kind=kind, output_uri=output_uri)
        if self.on_node_finished is not None and status.queued_at is not None:
            self.on_node_finished(kind, phase, now - status.queued_at)

    # --- aborting ----------------------------------------------------------------------------

    def abort_scope(self, run: Run, scope: Scope, cause: str, now: float) -> None:
        """Abort every running node of ``scope`` (and, through their handlers, what they run)."""
        cur = self.cursor(run, scope)
        for node_id in sorted(cur.active | cur.candidates):
            key = scope.key(node_id)
            status = run.state.node(key)
            if status.phase.is_terminal or status.phase == NodePhase.NOT_YET_STARTED:
                continue
            node = scope.executable.nodes[node_id]
            handler = self.handlers[node_kind(node)]
            try:
                ctx = self.node_context(run, scope, node, key, status, now)
                handler.abort(ctx, cause)  # type: ignore[attr-defined]
            except Exception:  # an abort must reach every node; a handler's failure is logged
                log.exception("aborting node %s of %s failed", key, run.execution_id)
            status.error = ExecutionError(code="Aborted", message=cause, kind=ErrorKind.SYSTEM)
            self._finish(run, scope, key, node, status, NodePhase.ABORTED, now)
        cur.active.clear()
        cur.candidates.clear()
        cur.held.clear()
        cur.waiting.clear()
        cur.polling.clear()
