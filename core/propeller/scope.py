"""The data the engine walks: a run (one execution in memory), scopes (a workflow being walked,
possibly nested in a node), their cursors and results, and the per-node settings that come from
the node or its task (retries, timeouts)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import attrs

from flytecore.propeller.events import LITERALS_MEMO, EventMessage
from flytecore.propeller.executable import Closure, Executable
from flytecore.propeller.state import ExecutionState
from flytecore.spec.execution import ExecutionError
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase
from flytecore.spec.workflow import Node, OnFailurePolicy
from flytecore.spec.workflow_object import WorkflowObject

__all__ = ["Cursor", "Run", "Scope", "ScopeResult", "node_kind", "timeout_of", "user_retries"]


def node_kind(node: Node) -> str:
    """Which handler runs ``node``: task, subworkflow, launchplan, branch, gate or array."""
    if node.task_node is not None:
        return "task"
    if node.workflow_node is not None:
        return "subworkflow" if node.workflow_node.sub_workflow_ref is not None else "launchplan"
    if node.branch_node is not None:
        return "branch"
    if node.gate_node is not None:
        return "gate"
    if node.array_node is not None:
        return "array"
    raise ValueError(f"node {node.id!r} has no target (task, workflow, branch, gate or array)")


class Run:
    """One execution in the engine's hands: its workflow object, statuses, the events of the
    current round and the in-memory cursors."""

    def __init__(self, obj: WorkflowObject, state: ExecutionState | None = None, *, producer_id: str = "flytecore-propeller") -> None:
        self.obj = obj
        self.state = state or ExecutionState()
        if obj.closure is None:
            raise ValueError(f"execution {obj.execution_id.name}: its closure is not loaded (read it from {obj.closure_uri})")
        self.closure = Closure(obj.closure)
        self.producer_id = producer_id
        self.events: list[EventMessage] = []
        self.cursors: dict[str, Cursor] = {}
        self.wake_at: float | None = None
        # Task nodes whose executors said they changed since the last round (see Engine.walk).
        self.woken: set[str] = set()
        self.running_tasks: set[str] = set()
        # Handlers' in-memory caches (compiled dynamic workflows, map element DAGs), rebuilt
        # from saved state after a restart.
        self.memo: dict[str, dict[str, Any]] = collections.defaultdict(dict)

    @property
    def execution_id(self):  # type: ignore[no-untyped-def]
        """The execution's id."""
        return self.obj.execution_id

    def want_wake(self, at: float | None) -> None:
        """Ask for a round at ``at`` at the latest."""
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at

    def take_events(self) -> list[EventMessage]:
        """The events of this round, clearing the list (and the literal maps converted for them)."""
        events, self.events = self.events, []
        self.memo.pop(LITERALS_MEMO, None)
        return events


@attrs.define
class Scope:
    """A workflow being walked: the primary workflow, or one nested in a node.

    :ivar executable: the workflow.
    :ivar prefix: prepended to node ids to make unique ids (``""`` at the top).
    :ivar parent_key: the node the scope is nested in.
    :ivar inputs: the workflow's inputs (the start node's outputs).
    :ivar outer: outputs of nodes outside the scope that its bindings may name (a branch's
        case reads the nodes of the workflow around it).
    :ivar parallelism: how many of the scope's nodes may run at once (0: no limit).
    :ivar on_failure: overrides the workflow's failure policy (a map task runs every element).
    :ivar map_inputs_uri: set on the elements' scope of a map task whose task takes the whole
        lists (flytekit's ``map_task``: ``is_original_sub_node_interface`` False): every element's
        task reads this ``inputs.pb`` (the array node's) and picks its element by the index
        Flyte's array node gives it (``FLYTE_K8S_ARRAY_INDEX``, the element's node id).
    :ivar element_inputs: set on the elements' scope of a map over a task that takes one
        element: the folder where each element's ``inputs.pb`` is stored as ``{index}.pb``
        (a wide map would otherwise create a folder per element before it runs).
    """

    executable: Executable
    prefix: str
    parent_key: str | None
    inputs: LiteralMap
    outer: Callable[[str], LiteralMap | None] | None = None
    parallelism: int = 0
    on_failure: OnFailurePolicy | None = None
    map_inputs_uri: str | None = None
    element_inputs: str | None = None

    @property
    def failure_policy(self) -> OnFailurePolicy:
        """What a node failure does to the rest of the scope."""
        return self.on_failure if self.on_failure is not None else self.executable.template.metadata.on_failure

    def key(self, node_id: str) -> str:
        """The unique id of ``node_id`` in this scope."""
        return f"{self.prefix}{node_id}"


@attrs.define
class Cursor:
    """Where a scope stands: nodes running, nodes to look at, the first failure.

    :ivar polled: every active node was asked once since the cursor was built.
    :ivar waiting: active task nodes whose executors wake them when their attempts change: a
        walk asks them only when woken (see :meth:`Engine.walk`).
    :ivar held: nodes ready to start but held back by max parallelism, in the order they
        start as slots free up.
    :ivar polling: the other active nodes (``active - waiting``, kept as they change so a round
        over a wide fan-out does not compute it).
    """

    active: set[str] = attrs.field(factory=set)
    candidates: set[str] = attrs.field(factory=set)
    failed: str | None = None
    polled: bool = False
    waiting: set[str] = attrs.field(factory=set)
    polling: set[str] = attrs.field(factory=set)
    held: collections.deque[str] = attrs.field(factory=collections.deque)


@attrs.frozen
class ScopeResult:
    """How a scope stands after a walk: RUNNING, SUCCEEDED (with outputs), FAILED or ABORTED."""

    phase: NodePhase
    outputs: LiteralMap | None = None
    error: ExecutionError | None = None
    failed_node: str | None = None


def user_retries(run: Run, node: Node) -> int:
    """Retries for user failures: the node's override, else its task's."""
    if node.metadata is not None and node.metadata.retries is not None:
        return node.metadata.retries.retries
    if node.task_node is not None:
        try:
            return run.closure.task(node.task_node.reference_id).metadata.retries.retries
        except KeyError:
            return 0
    return 0


def timeout_of(run: Run, node: Node) -> float | None:
    """The per-attempt timeout in seconds: the node's override, else its task's."""
    if node.metadata is not None and node.metadata.timeout:
        return node.metadata.timeout.total_seconds()
    if node.task_node is not None:
        try:
            timeout = run.closure.task(node.task_node.reference_id).metadata.timeout
        except KeyError:
            return None
        return timeout.total_seconds() if timeout else None
    return None
