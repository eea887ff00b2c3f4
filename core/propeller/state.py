"""What the propeller remembers of a running execution: node statuses and the workflow status.

FlytePropeller keeps this in the ``status`` of the ``FlyteWorkflow`` resource; here it is a
workflow-level :class:`WorkflowStatus` plus one :class:`NodeStatus` per node, keyed by the
node's *unique id*. Nested nodes (a branch's chosen case, a subworkflow's or a dynamic
workflow's nodes, a map task's elements) get Flyte's unique ids ``{parent}-{attempt}-{child}``
(:func:`child_key`), so every status is one flat entry that the workflow store can save on its
own: a round writes only the nodes it changed.

Statuses are plain mutable attrs objects: a round changes them in place and marks the keys it
touched dirty (:class:`ExecutionState`). Serialization (:func:`dump_node`, :func:`load_node`)
is JSON through the spec's converter, so literals and errors keep their spec shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from flytecore.spec.converter import make_converter
from flytecore.spec.execution import ExecutionError
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase, TaskExecutionPhase, WorkflowExecutionPhase

__all__ = [
    "ExecutionState",
    "NodeStatus",
    "WorkflowStatus",
    "child_key",
    "dump_node",
    "dump_workflow",
    "load_node",
    "load_workflow",
]


def child_key(parent_key: str, attempt: int, child_id: str) -> str:
    """The unique id of ``child_id`` inside attempt ``attempt`` of node ``parent_key``
    (FlytePropeller's ``GenerateUniqueID`` scheme: ``n1-0-n0``)."""
    return f"{parent_key}-{attempt}-{child_id}"


@attrs.define(slots=True)
class NodeStatus:
    """One node's state machine (FlytePropeller's ``NodeStatus``).

    :ivar phase: the internal phase (finer than what admin sees).
    :ivar attempts: task attempts started; the current attempt's ``retry_attempt`` is
        ``attempts - 1``.
    :ivar user_failures: attempts that failed because of the user's code (count against the
        task's retries).
    :ivar system_failures: attempts that failed because of the platform (a crashed worker, a
        lost pod); they have their own, separate budget.
    :ivar queued_at: when the node was first considered ready (epoch seconds).
    :ivar started_at: when the node started running (its first attempt).
    :ivar attempt_started_at: when the current attempt started (per-attempt timeouts).
    :ivar updated_at: last change.
    :ivar error: why the node failed (or the last retryable failure).
    :ivar outputs: the node's outputs once it succeeded (small literal maps are kept inline,
        which spares a storage read for every downstream binding).
    :ivar task_phase: the current attempt's task phase, for task events.
    :ivar phase_version: bumped for each task event of the same phase (Flyte's ordering rule).
    :ivar plugin_state: the task executor's own state for the current attempt (a job id, ...).
    :ivar branch_taken: for a branch node, the id of the node it chose.
    :ivar cache_status: the catalog outcome (:class:`flytecore.spec.events.CatalogCacheStatus`).
    :ivar wake_at: when the node wants its next look without an outside event (a poll, a
        sleep gate, a retry back-off).
    :ivar message: a short human status line.
    :ivar child_execution: for a launch plan node, the child execution's name.
    :ivar dynamic: a dynamic task's sub-workflow is running.
    :ivar inputs_inline: the node's inputs are not in storage: its task's executor hands them to
        the task (see ``TaskExecutor.hands_inputs``), its events carry them inline.
    """

    phase: NodePhase = NodePhase.NOT_YET_STARTED
    attempts: int = 0
    user_failures: int = 0
    system_failures: int = 0
    queued_at: float | None = None
    started_at: float | None = None
    attempt_started_at: float | None = None
    updated_at: float | None = None
    error: ExecutionError | None = None
    outputs: LiteralMap | None = None
    task_phase: TaskExecutionPhase = TaskExecutionPhase.UNDEFINED
    phase_version: int = 0
    plugin_state: dict[str, Any] = attrs.field(factory=dict)
    branch_taken: str | None = None
    cache_status: int = 0
    wake_at: float | None = None
    message: str = ""
    child_execution: str | None = None
    dynamic: bool = False
    inputs_inline: bool = False

    @property
    def retry_attempt(self) -> int:
        """The current attempt's number (0 for the first)."""
        return max(self.attempts - 1, 0)


@attrs.define(slots=True)
class WorkflowStatus:
    """The execution's own state.

    :ivar phase: the execution's phase as admin records it.
    :ivar started_at: when the first round ran.
    :ivar updated_at: last change.
    :ivar error: why it failed (the first failing node's error, or the abort cause).
    :ivar outputs: the workflow's outputs once it succeeded.
    :ivar failed_node: the unique id of the node whose failure decided the outcome.
    :ivar failure_node_started: the on-failure handler node was started.
    :ivar abort_cause: set once an abort was requested; the round aborts running nodes.
    """

    phase: WorkflowExecutionPhase = WorkflowExecutionPhase.QUEUED
    started_at: float | None = None
    updated_at: float | None = None
    error: ExecutionError | None = None
    outputs: LiteralMap | None = None
    failed_node: str | None = None
    failure_node_started: bool = False
    abort_cause: str | None = None


@attrs.define
class ExecutionState:
    """An execution's statuses in memory, with the keys a round changed."""

    workflow: WorkflowStatus = attrs.field(factory=WorkflowStatus)
    nodes: dict[str, NodeStatus] = attrs.field(factory=dict)
    dirty: set[str] = attrs.field(factory=set)
    workflow_dirty: bool = False

    def node(self, key: str) -> NodeStatus:
        """The status of ``key``, created (not started) on first use."""
        status = self.nodes.get(key)
        if status is None:
            status = self.nodes[key] = NodeStatus()
        return status

    def peek(self, key: str) -> NodeStatus | None:
        """The status of ``key`` if the node was ever touched."""
        return self.nodes.get(key)

    def touch(self, key: str) -> None:
        """Mark ``key`` changed: the next save writes it."""
        self.dirty.add(key)

    def take_dirty(self) -> dict[str, NodeStatus]:
        """The changed statuses, clearing the marks."""
        changed = {key: self.nodes[key] for key in self.dirty if key in self.nodes}
        self.dirty.clear()
        return changed

    @classmethod
    def load(cls, workflow: bytes, nodes: Iterable[tuple[str, bytes]]) -> ExecutionState:
        """Rebuild from what the store saved."""
        return cls(load_workflow(workflow), {key: load_node(data) for key, data in nodes})


_converter = make_converter()


def _dumps(document: Any) -> bytes:
    """``document`` as compact JSON (UTF-8), by orjson: a round dumps the statuses it changed,
    and the json module took half of each. orjson writes ``null`` for a float that is not
    finite (a task's NaN output), which would not load back as that float, and refuses what the
    json module converts (an integer key of a plugin's state, an integer beyond 64 bits): those
    documents, and any with a ``null``, are written by the json module instead."""
    try:
        data: bytes | None = orjson.dumps(document)
    except orjson.JSONEncodeError:
        data = None
    if data is None or b"null" in data:
        return json.dumps(document, separators=(",", ":")).encode()
    # orjson's bytes keep the 4 KiB it allocated to write them, and the propeller keeps every
    # status it saved while the execution runs (a chain of 10,000 held 35 MiB more): a copy of
    # their own size.
    return bytes(memoryview(data))


def dump_node(status: NodeStatus) -> bytes:
    """A node status as compact JSON bytes."""
    return _dumps(_converter.unstructure(status))


def load_node(data: bytes) -> NodeStatus:
    """The node status :func:`dump_node` wrote."""
    return _converter.structure(json.loads(data), NodeStatus)


def dump_workflow(status: WorkflowStatus) -> bytes:
    """The workflow status as compact JSON bytes."""
    return _dumps(_converter.unstructure(status))


def load_workflow(data: bytes) -> WorkflowStatus:
    """The workflow status :func:`dump_workflow` wrote."""
    return _converter.structure(json.loads(data), WorkflowStatus)
