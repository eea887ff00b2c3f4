"""Map elements in batches: a worker job runs a chunk of a map's elements one after another.

A map over a task whose executor can run elements in batches (the local backend, for tasks run
by flytecore's entrypoint in its warm workers, storage on local disk) does not make a node of
each element. As FlytePropeller's array node keeps its sub-nodes' state in compact arrays (a
phase, an attempt and a retry count per element), the array node keeps, in its own plugin
state, one character per element (``p`` to run, ``r`` running, ``s`` succeeded, ``f`` failed
for good), the attempt and failure counts of the elements that failed once, and the batches in
flight. Each round it reads the journals of the batches that ended (one file per batch, in the
array node's attempt folder; the batch's manifest goes to the worker with the job: each
element's started mark and its ``outputs.pb`` or ``error.pb`` document, see
:mod:`flytecore.sdk._journal`), applies each
element's retries (user failures against the task's retries, system failures against the
propeller's budget, a non-recoverable user error at once), and submits the elements to run in
new batches: at most two per worker (one running, one waiting), of at most :data:`MAX_BATCH`
elements, within the map's ``parallelism``.

Each element attempt is what it would be alone: its own output prefix
(``{array}-{attempt}-{index}``'s), inputs (item ``index`` of every mapped list, the bound inputs
whole), environment (``FLYTE_INTERNAL_NODE_ID``, ``FLYTE_ATTEMPT_NUMBER``), stdout and stderr
files there (when it wrote anything) and one document. A worker that dies under a batch fails the
element that was running (a system failure, retried; marked started, no document; what it wrote
until then is moved to its logs); the elements after it had not started and run again in another
batch, their attempts unchanged. After a propeller restart the batches in flight
are read the same way from what they left.

Everything else is the array node's: the elements' external resources in its task events (see
:mod:`flytecore.propeller.handlers.array`), the success ratio, the outputs as lists. Maps that
cannot run this way (a cached task, a task with a timeout, flytekit's map tasks, other kinds of
elements, remote storage, a ``@dynamic`` task, which the entrypoint refuses to batch) run each
element as a node.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from flytecore.propeller.context import NodeContext, Transition, system_error, user_error
from flytecore.propeller.data import error_from_document
from flytecore.propeller.handlers.task import task_context
from flytecore.propeller.scope import timeout_of, user_retries
from flytecore.sdk._journal import ERROR, OUTPUTS
from flytecore.spec.events import CatalogCacheStatus, ExternalResourceInfo
from flytecore.spec.execution import ErrorKind, ExecutionError
from flytecore.spec.idl import literal_map_from_bytes
from flytecore.spec.literals import Literal, LiteralMap, Scalar, Void
from flytecore.spec.phases import TaskExecutionPhase
from flytecore.spec.tasks import TaskTemplate

__all__ = ["BATCHES", "MAX_BATCH", "UNBATCHED", "BatchedElements", "batches", "element_resource", "too_few_successes"]

MAX_BATCH = 100
"""Most elements in one batch (smaller batches when there are fewer elements than workers × 2 ×
this): a batch's elements report when it ends, and the workers share the last ones."""

UNBATCHED = "_unbatched"
"""Set in the array node's plugin state once its elements run as nodes (the entrypoint refused
the batch: a ``@dynamic`` task)."""

BATCHES = "_batches"
"""The array node's plugin state key of its batched elements' state."""
_REFUSED = 3  # the entrypoint's exit code for a task it cannot run as a batch (ELEMENTS_UNSUPPORTED)
_PENDING, _RUNNING, _SUCCEEDED, _FAILED = b"p"[0], b"r"[0], b"s"[0], b"f"[0]


def batches(ctx: NodeContext, template: TaskTemplate) -> Any:
    """The executor that runs ``ctx``'s elements in batches, or None when they run as nodes."""
    array = ctx.node.array_node
    assert array is not None
    sub = array.node
    if ctx.status.plugin_state.get(UNBATCHED) or sub.task_node is None or array.is_original_sub_node_interface is False:
        return None
    if template.metadata.discoverable or timeout_of(ctx.run, sub) is not None:
        return None
    executor = ctx.engine.services.tasks.executor_for(template)
    runs = getattr(executor, "runs_elements", None)
    if runs is None or not runs(template, ctx.node_prefix):
        return None
    return executor


def too_few_successes(ctx: NodeContext, succeeded: int, size: int, first_failure: str | None) -> Transition | None:
    """The array node's failure when fewer than ``min_successes`` (or ``min_success_ratio`` of
    the ``size`` elements, else all) succeeded; None when enough did."""
    array = ctx.node.array_node
    assert array is not None
    if array.min_successes is not None:
        needed = array.min_successes
    elif array.min_success_ratio is not None:
        needed = math.ceil(array.min_success_ratio * size)
    else:
        needed = size
    if succeeded >= needed:
        return None
    detail = f"; first failure: {first_failure}" if first_failure else ""
    return Transition.failed(
        user_error(
            "ArrayNodeFailed",
            f"map node {ctx.node.id}: {size - succeeded} of {size} elements failed, at least {needed} had to succeed{detail}",
        )
    )


def element_resource(
    ctx: NodeContext, index: int, attempt: int, phase: TaskExecutionPhase, cache_status: int, logs: tuple[Any, ...]
) -> ExternalResourceInfo:
    """Element ``index``'s attempt as an external resource of the array node ``ctx``'s task."""
    return ExternalResourceInfo(
        external_id=f"{ctx.run.obj.execution_id.name}-{ctx.key}-n{index}-{attempt}",
        index=index,
        retry_attempt=attempt,
        phase=phase,
        cache_status=CatalogCacheStatus(cache_status),
        logs=logs,
    )


class BatchedElements:
    """One array node's elements run in batches (see the module docstring); built per round."""

    def __init__(self, ctx: NodeContext, template: TaskTemplate, executor: Any, size: int, bound: list[str]) -> None:
        self.ctx, self.template, self.executor, self.size, self.bound = ctx, template, executor, size, bound
        state = ctx.status.plugin_state.get(BATCHES)
        if state is None:
            state = ctx.status.plugin_state[BATCHES] = {
                "phases": "p" * size, "attempts": {}, "user": {}, "system": {}, "jobs": {}, "seq": 0, "error": None,
            }
        self.state = state
        memo = ctx.run.memo["array_batch"].setdefault(ctx.key, {})
        if memo.get("attempt") != ctx.status.retry_attempt:
            memo.clear()
            memo.update(attempt=ctx.status.retry_attempt, phases=bytearray(state["phases"].encode()), outputs={}, running=set())
        self.memo = memo
        self.phases: bytearray = memo["phases"]
        self.folder = f"{ctx.node_prefix}/{ctx.status.retry_attempt}"  # the batches' journals
        self.changed: dict[tuple[int, int], ExternalResourceInfo] = {}

    # --- where things are ----------------------------------------------------------------------

    def attempt(self, index: int) -> int:
        return int(self.state["attempts"].get(str(index), 0))

    def key(self, index: int) -> str:
        return f"{self._key_stem()}{index}"

    def _key_stem(self) -> str:
        return f"{self.ctx.key}-{self.ctx.status.retry_attempt}-"

    def prefix(self, index: int, attempt: int) -> str:
        return f"{self.ctx.run.obj.metadata_prefix.rstrip('/')}/nodes/{self.key(index)}/{attempt}"

    def resource(self, index: int, attempt: int, phase: TaskExecutionPhase, logs: tuple[Any, ...] = ()) -> ExternalResourceInfo:
        return element_resource(self.ctx, index, attempt, phase, CatalogCacheStatus.CACHE_DISABLED, logs)

    # --- a round -------------------------------------------------------------------------------

    def step(self) -> Transition | None:
        """Collect ended batches, submit new ones; the node's transition once every element
        ended, RUNNING before, or None when the elements must run as nodes from now on."""
        for job_id in list(self.state["jobs"]):
            where, result = self.executor.element_job(job_id)
            if where in ("queued", "running"):
                if where == "running" and job_id not in self.memo["running"]:
                    self.memo["running"].add(job_id)
                    for index in self.state["jobs"][job_id]:
                        attempt = self.attempt(index)
                        self.changed[(index, attempt)] = self.resource(index, attempt, TaskExecutionPhase.RUNNING, self._logs(index))
                continue
            if result is not None and result.outcome == "exited" and result.exit_code == _REFUSED and not self._any_document(job_id):
                self._unbatch()
                return None
            self._collect(job_id, result)
        self._submit()
        self.state["phases"] = self.phases.decode()
        self.ctx.touch()
        if self.state["jobs"]:
            self.ctx.run.running_tasks.add(self.ctx.key)
            return Transition.running()
        self.ctx.run.running_tasks.discard(self.ctx.key)
        if self.phases.find(_PENDING) >= 0:
            return Transition.running()  # held back by the map's parallelism: nothing in flight yet
        return self._outcome()

    def _any_document(self, job_id: str) -> bool:
        return any(record.document is not None for record in self.executor.element_records(self.folder, job_id)[1].values())

    def _unbatch(self) -> None:
        for job_id in self.state["jobs"]:
            self.executor.cancel_elements(job_id)
        self.ctx.status.plugin_state.pop(BATCHES, None)
        self.ctx.status.plugin_state[UNBATCHED] = True
        self.ctx.run.memo["array_batch"].pop(self.ctx.key, None)
        self.ctx.run.running_tasks.discard(self.ctx.key)
        self.ctx.touch()

    def _collect(self, job_id: str, result: Any) -> None:
        """Read what the batch's elements left in its journal (see the module docstring)."""
        indices = self.state["jobs"].pop(job_id)
        seen_running = job_id in self.memo["running"]
        self.memo["running"].discard(job_id)
        journal, records = self.executor.element_records(self.folder, job_id)
        cancelled = result is not None and result.outcome == "cancelled"
        died = None if result is None else (None if result.outcome == "exited" else result.message)
        for index in indices:
            attempt = self.attempt(index)
            record = records.get(index)
            if record is not None and record.kind == OUTPUTS:
                self.phases[index] = _SUCCEEDED
                self.memo["outputs"][index] = record.document
                self.changed[(index, attempt)] = self.resource(index, attempt, TaskExecutionPhase.SUCCEEDED)
            elif record is not None and record.kind == ERROR:
                error, recoverable = error_from_document(record.document or b"", journal)
                self._failed(index, attempt, error, retry=recoverable or error.kind == ErrorKind.SYSTEM)
            elif record is None and (cancelled or result is None or died is not None):
                # Never started (the worker died, or the propeller stopped, before): runs again, same attempt.
                self.phases[index] = _PENDING
            elif record is None:
                # The batch ended by itself and never ran the element: a fault of the batch.
                why = f"{result.message}; the batch of map elements did not run element {index} (see {journal})"
                self._failed(index, attempt, system_error("BatchFailed", why), retry=True)
            elif cancelled:
                self.phases[index] = _PENDING
            else:
                # Started, no document: the worker died under it (or with the propeller).
                self.executor.keep_crash_output(self.folder, job_id, record, self.prefix(index, attempt))
                why = died or (
                    f"attempt {attempt} was running when the propeller stopped" if result is None
                    else "the element's attempt ended without writing its outputs or error"
                )
                self._failed(index, attempt, system_error("AttemptLost" if result is None else "WorkerCrashed", why), retry=True)
            if not seen_running and (index, attempt) in self.changed:
                # Its batch ran between two rounds: its logs come with its end.
                self.changed[(index, attempt)] = attrs.evolve(self.changed[(index, attempt)], logs=self._logs(index, attempt))

    def _failed(self, index: int, attempt: int, error: ExecutionError, *, retry: bool) -> None:
        self.changed[(index, attempt)] = self.resource(index, attempt, TaskExecutionPhase.FAILED)
        counts = self.state["system" if error.kind == ErrorKind.SYSTEM else "user"]
        failures = counts[str(index)] = counts.get(str(index), 0) + 1
        if error.kind == ErrorKind.SYSTEM:
            budget = self.ctx.engine.config.max_system_retries
        else:
            assert self.ctx.node.array_node is not None
            budget = user_retries(self.ctx.run, self.ctx.node.array_node.node)
        if retry and failures <= budget:
            self.state["attempts"][str(index)] = attempt + 1
            self.phases[index] = _PENDING
            return
        self.phases[index] = _FAILED
        if self.state["error"] is None:
            self.state["error"] = {"code": error.code, "message": error.message, "kind": int(error.kind)}

    def _submit(self) -> None:
        """New batches for the elements to run (see the module docstring)."""
        array = self.ctx.node.array_node
        assert array is not None
        workers = max(1, getattr(self.executor.pool, "size", 1))
        waiting = self.phases.count(_PENDING)
        if not waiting:
            return
        in_flight = sum(len(indices) for indices in self.state["jobs"].values())
        size = max(1, min(MAX_BATCH, math.ceil(waiting / (2 * workers))))
        start = 0
        tctx = pattern = None
        while len(self.state["jobs"]) < 2 * workers:
            room = size if not array.parallelism else min(size, array.parallelism - in_flight)
            indices: list[int] = []
            while len(indices) < room:
                start = self.phases.find(_PENDING, start)
                if start < 0:
                    break
                indices.append(start)
                start += 1
            if not indices:
                return
            tctx = tctx or task_context(self.ctx, self.template)
            self.state["seq"] += 1
            job_id = f"{tctx.job_id}-b{self.state['seq']}"
            pattern = pattern or self._pattern()
            self.executor.submit_elements(tctx, job_id, self.bound, pattern, [[index, self.attempt(index)] for index in indices])
            self.state["jobs"][job_id] = indices
            in_flight += len(indices)
            for index in indices:
                # Reported when its batch starts (or ends, if no round saw it running).
                self.phases[index] = _RUNNING
            if start < 0:
                return

    def _logs(self, index: int, attempt: int | None = None) -> tuple[Any, ...]:
        attempt = self.attempt(index) if attempt is None else attempt
        return tuple(self.executor.element_logs(self.prefix(index, attempt), index))

    def _pattern(self) -> dict[str, Any]:
        """Every element attempt's paths and environment as templates of ``{index}``,
        ``{attempt}`` and ``{previous}`` (the entrypoint's manifest ``pattern``): what
        :meth:`prefix` and :meth:`key` give, and its raw output and checkpoints."""

        def literal(text: str) -> str:
            return text.replace("{", "{{").replace("}", "}}")

        key = literal(self._key_stem()) + "{index}"
        raw = literal(self.ctx.run.obj.raw_output_prefix.rstrip("/"))
        return {
            "output_prefix": f"{literal(self.ctx.run.obj.metadata_prefix.rstrip('/'))}/nodes/{key}/{{attempt}}",
            "raw_output_data_prefix": f"{raw}/{key}/{{attempt}}",
            "checkpoint_path": f"{raw}/{key}/{{attempt}}/_flytecheckpoints",
            "prev_checkpoint": f"{raw}/{key}/{{previous}}/_flytecheckpoints",
            "env": {"FLYTE_INTERNAL_NODE_ID": key, "FLYTE_ATTEMPT_NUMBER": "{attempt}"},
        }

    def _outcome(self) -> Transition:
        array = self.ctx.node.array_node
        assert array is not None
        first = self.state["error"]
        failed = too_few_successes(
            self.ctx, self.phases.count(_SUCCEEDED), self.size, first["message"] if first else None
        )
        if failed is not None:
            return failed
        names = list(self.template.interface.outputs)
        none = Literal(scalar=Scalar(none_type=Void()))
        columns: dict[str, list[Literal]] = {name: [] for name in names}
        kept = self.memo["outputs"]
        if names and len(kept) < self.phases.count(_SUCCEEDED):
            kept.update(self.executor.element_outputs(self.folder))  # some were read before a restart
        for index in range(self.size):
            outputs = None
            if self.phases[index] == _SUCCEEDED and names:
                raw = kept.get(index)
                outputs = literal_map_from_bytes(raw) if raw is not None else None
            for name in names:
                columns[name].append(outputs.literals.get(name, none) if outputs is not None else none)
        return Transition.succeeded(LiteralMap(literals={name: Literal(collection=tuple(items)) for name, items in columns.items()}))

    def abort(self) -> None:
        """Cancel the batches in flight; their elements end ABORTED."""
        for job_id, indices in self.state["jobs"].items():
            self.executor.cancel_elements(job_id)
            for index in indices:
                self.changed[(index, self.attempt(index))] = self.resource(index, self.attempt(index), TaskExecutionPhase.ABORTED)
        self.state["jobs"] = {}
        self.ctx.run.running_tasks.discard(self.ctx.key)
        self.ctx.touch()

    def snapshot(self) -> dict[tuple[int, int], ExternalResourceInfo]:
        """Every started element's state (the first report after a restart)."""
        phases = {_RUNNING: TaskExecutionPhase.RUNNING, _SUCCEEDED: TaskExecutionPhase.SUCCEEDED, _FAILED: TaskExecutionPhase.FAILED}
        found = {}
        for index, code in enumerate(self.phases):
            if code in phases:
                found[(index, self.attempt(index))] = self.resource(index, self.attempt(index), phases[code])
        return found
