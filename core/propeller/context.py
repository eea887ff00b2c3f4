"""What node handlers receive and return, and the services the engine is given.

The engine itself does no I/O: storage, task execution, child executions and signals come in
through :class:`Services`, so a round can run against in-memory fakes in a unit test and
against the worker pool, the metadata storage and the admin in the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from flytecore.spec.execution import ErrorKind, ExecutionError, TaskLog
from flytecore.spec.identifiers import Identifier, TaskExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.phases import NodePhase, TaskExecutionPhase, WorkflowExecutionPhase
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.types import LiteralType
from flytecore.spec.workflow import Node

if TYPE_CHECKING:
    from flytecore.propeller.engine import Engine, Run, Scope
    from flytecore.propeller.state import NodeStatus

__all__ = [
    "ChildExecutions",
    "DataStore",
    "INLINE_INPUTS",
    "EngineConfig",
    "NodeContext",
    "Services",
    "TaskBackend",
    "TaskContext",
    "TaskExecutor",
    "TaskTransition",
    "Transition",
    "system_error",
    "user_error",
]


def user_error(code: str, message: str) -> ExecutionError:
    """An error caused by the user's code or data (counts against the task's retries)."""
    return ExecutionError(code=code, message=message, kind=ErrorKind.USER)


def system_error(code: str, message: str) -> ExecutionError:
    """An error caused by the platform (counts against the system retry budget)."""
    return ExecutionError(code=code, message=message, kind=ErrorKind.SYSTEM)


@attrs.frozen
class Transition:
    """A node handler's answer for this round.

    :ivar phase: RUNNING (look again later), SUCCEEDED (with outputs), RETRYABLE_FAILURE (the
        engine starts another attempt if the budget allows), FAILED, SKIPPED, TIMED_OUT or
        DYNAMIC_RUNNING.
    :ivar outputs: the node's outputs when it succeeded.
    :ivar error: why it failed; its ``kind`` says whose fault (user or system retries).
    :ivar wake_at: when to look again without an outside event (epoch seconds).
    :ivar message: a short status line.
    :ivar output_uri: where ``outputs`` are stored, if they are (a task's ``outputs.pb``): the
        node's event then names it instead of carrying the outputs, as FlytePropeller's do.
    """

    phase: NodePhase
    outputs: LiteralMap | None = None
    error: ExecutionError | None = None
    wake_at: float | None = None
    message: str = ""
    output_uri: str | None = None

    @classmethod
    def running(cls, wake_at: float | None = None, message: str = "") -> Transition:
        """Still running; look again at ``wake_at`` or when woken."""
        return cls(NodePhase.RUNNING, wake_at=wake_at, message=message)

    @classmethod
    def succeeded(cls, outputs: LiteralMap | None = None, message: str = "", output_uri: str | None = None) -> Transition:
        """Done, with these outputs (stored at ``output_uri``, if given)."""
        return cls(NodePhase.SUCCEEDED, outputs=outputs or LiteralMap(), message=message, output_uri=output_uri)

    @classmethod
    def failed(cls, error: ExecutionError) -> Transition:
        """Failed for good (no retry)."""
        return cls(NodePhase.FAILED, error=error)

    @classmethod
    def retryable(cls, error: ExecutionError) -> Transition:
        """This attempt failed; another one may succeed."""
        return cls(NodePhase.RETRYABLE_FAILURE, error=error)


@attrs.define
class NodeContext:
    """One node as its handler sees it in a round.

    :ivar engine: the engine (handlers of nested workflows walk their scope through it).
    :ivar run: the execution.
    :ivar key: the node's unique id in the execution.
    :ivar node: the node's spec.
    :ivar status: its status (handlers may keep their own fields up to date in it).
    :ivar inputs: the node's resolved inputs.
    :ivar parent_key: the unique id of the node this one is nested in, if any.
    :ivar now: the round's clock (epoch seconds).
    :ivar scope: the scope the node is in (a branch's case reads the nodes around it).
    """

    engine: Engine
    run: Run
    key: str
    node: Node
    status: NodeStatus
    inputs: LiteralMap
    parent_key: str | None
    now: float
    scope: Scope | None = None

    def touch(self) -> None:
        """Mark the node's status changed (saved at the end of the round)."""
        self.run.state.touch(self.key)

    @property
    def node_prefix(self) -> str:
        """The node's metadata folder: ``{execution}/nodes/{key}``."""
        return f"{self.run.obj.metadata_prefix.rstrip('/')}/nodes/{self.key}"

    @property
    def inputs_uri(self) -> str:
        """Where the node's own inputs are stored: ``{node_prefix}/inputs.pb``; for an element
        of a map, ``{index}.pb`` in its array attempt's inputs folder (one folder for all)."""
        folder = self.scope.element_inputs if self.scope is not None else None
        if folder is not None:
            return f"{folder}/{self.node.id}.pb"
        return f"{self.node_prefix}/inputs.pb"


INLINE_INPUTS = "inline_inputs"
"""``Run.memo`` key: the serialized inputs of running task nodes whose executor hands them over
(``Engine._store_inputs``), by node key, for :attr:`TaskContext.inputs_bytes`; dropped when the
node ends (after a restart the executor serializes them again)."""

TASK_CONTEXTS = "task_contexts"
"""``Run.memo`` key: the :class:`TaskContext` of each running attempt, by node key (see
``handlers.task``); dropped when the attempt or the node ends."""


@attrs.define
class TaskContext:
    """One task attempt as a task executor sees it.

    :ivar template: the task template.
    :ivar task_execution_id: the attempt's id (task, node execution, retry attempt).
    :ivar inputs: the resolved inputs; also stored at ``inputs_uri`` (``inputs.pb``), except for an
        element of flytekit's map_task, whose ``inputs_uri`` holds the whole lists (handlers/array.py),
        and unless ``inputs_stored`` is False.
    :ivar inputs_stored: False when nothing is at ``inputs_uri``: the executor said it hands a
        task its inputs itself (:meth:`TaskExecutor.hands_inputs`) and they were small enough.
    :ivar inputs_bytes: when ``inputs_stored`` is False, the inputs as ``inputs.pb``'s bytes
        (serialized once, when the node started: what the executor hands over), if known.
    :ivar output_prefix: where the task writes ``outputs.pb`` or ``error.pb`` (per attempt).
    :ivar raw_output_prefix: where the task writes raw data (files, dataframes).
    :ivar plugin_state: the executor's state for this attempt; changes are saved with the node.
    :ivar interruptible: the task may run on interruptible capacity.
    :ivar environment: Flyte's ``FLYTE_INTERNAL_*`` variables for the task's process.
    :ivar wake: call it (from any thread) when the task's state changed, to get a round soon.
    :ivar now: the round's clock.
    """

    template: TaskTemplate
    task_execution_id: TaskExecutionIdentifier
    inputs: LiteralMap
    inputs_uri: str
    output_prefix: str
    raw_output_prefix: str
    checkpoint_prefix: str
    prev_checkpoint_prefix: str
    plugin_state: dict[str, Any]
    interruptible: bool
    environment: dict[str, str]
    wake: Callable[[], None]
    now: float
    inputs_stored: bool = True
    inputs_bytes: bytes | None = None

    @property
    def job_id(self) -> str:
        """A name for the attempt, unique within the propeller (execution, node, attempt)."""
        nid = self.task_execution_id.node_execution_id
        assert nid is not None and nid.execution_id is not None
        eid = nid.execution_id
        return f"{eid.project}-{eid.domain}-{eid.name}-{nid.node_id}-{self.task_execution_id.retry_attempt}"


@attrs.frozen
class TaskTransition:
    """A task executor's answer: the attempt's phase, and its result when it finished.

    :ivar phase: QUEUED, INITIALIZING, RUNNING, SUCCEEDED, RETRYABLE_FAILED or FAILED.
    :ivar outputs: the outputs, if the executor has them in hand (else the engine reads
        ``outputs.pb`` under the output prefix).
    :ivar output_uri: where ``outputs`` were read from, if they were (events then name it
        rather than carry the outputs).
    :ivar error: why the attempt failed (its kind: user or system).
    :ivar logs: where the attempt's logs are.
    :ivar wake_at: when to ask again without being woken (a poll interval).
    :ivar reason: a short line for the task event.
    :ivar wakes: the executor calls ``ctx.wake()`` as soon as this running attempt changes (the
        local pool does when a job ends): the engine then asks about it only when woken or at
        ``wake_at``, not in every round of the execution (a wide map would be asked n times per
        round). Executors that poll leave it False and are asked every round.
    """

    phase: TaskExecutionPhase
    outputs: LiteralMap | None = None
    error: ExecutionError | None = None
    logs: tuple[TaskLog, ...] = ()
    wake_at: float | None = None
    reason: str = ""
    wakes: bool = False
    output_uri: str | None = None


class TaskExecutor(Protocol):
    """Runs attempts of one kind of task (a container in a worker, a web API job, ...)."""

    def handle(self, ctx: TaskContext) -> TaskTransition:
        """Start the attempt if ``ctx.plugin_state`` says it has not started, else report on it.
        Must not block: long work happens elsewhere and calls ``ctx.wake()`` when it changes."""
        ...

    def abort(self, ctx: TaskContext) -> None:
        """Stop the attempt (idempotent)."""
        ...

    # Optional: ``finalize(ctx)`` cleans up after the attempt ended (its node is Succeeding or
    # Failing until it returns; an exception retries it at the next round).
    # Optional: ``hands_inputs(template) -> bool``: the executor gives the task's process its
    # inputs itself, from ``ctx.inputs``, when they are at most ``flytecore.sdk._handoff.LIMIT``
    # bytes: the engine then does not store them (``ctx.inputs_stored`` is False) and the events
    # carry them inline.


class TaskBackend(Protocol):
    """Chooses the executor for a task template (the local backend, the Kubernetes backend)."""

    def executor_for(self, template: TaskTemplate) -> TaskExecutor | None:
        """The executor for ``template``, or None when no installed plugin runs its type."""
        ...

    def known_types(self) -> list[str]:
        """Task types this backend can run, for the unknown-type message."""
        ...


class DataStore(Protocol):
    """Reads and writes flyteidl documents at storage URIs."""

    def write_literal_map(self, uri: str, literal_map: LiteralMap, *, unread: bool = False) -> None:
        """Write ``literal_map`` at ``uri``; ``unread``: nothing reads it before this returns
        (a store may then skip what keeps readers from seeing half of it)."""
        ...

    def read_literal_map(self, uri: str) -> LiteralMap | None:
        """The literal map at ``uri``, or None if nothing is there."""
        ...

    def read_error(self, uri: str) -> ExecutionError | None:
        """The ``error.pb`` (an ErrorDocument) at ``uri`` as an execution error, or None."""
        ...

    def read_bytes(self, uri: str) -> bytes | None: ...

    def write_bytes(self, uri: str, data: bytes, *, unread: bool = False) -> None:
        """Write ``data`` at ``uri`` (``unread``: see :meth:`write_literal_map`)."""
        ...


class ChildExecutions(Protocol):
    """Child executions for launch plan nodes (through the admin)."""

    def launch(self, parent: Run, node_key: str, launch_plan: Identifier, inputs: LiteralMap) -> WorkflowExecutionIdentifier:
        """Create (idempotently) the child execution of a node; returns its id."""
        ...

    def status(self, execution_id: WorkflowExecutionIdentifier) -> tuple[WorkflowExecutionPhase, LiteralMap | None, ExecutionError | None]:
        """The child's phase, and its outputs or error once finished."""
        ...

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None: ...


@attrs.define
class EngineConfig:
    """Engine settings.

    :ivar max_system_retries: attempts that may fail for system reasons before the node fails
        (FlytePropeller's ``max-node-retries-system-failures``, default 3).
    :ivar producer_id: names this propeller in the events it sends.
    :ivar poll_interval: how often a running task is looked at when nothing wakes it.
    :ivar signal_poll_interval: how often a gate waiting for a signal asks for it when nothing
        wakes it (the sandbox's admin wakes the execution when a signal is set; a propeller in
        its own process relies on this).
    """

    max_system_retries: int = 3
    producer_id: str = "flytecore-propeller"
    poll_interval: float = 5.0
    signal_poll_interval: float = 2.0


@attrs.define
class Services:
    """The I/O a round may do, given to the engine.

    :ivar data: storage of inputs, outputs and error documents.
    :ivar tasks: runs task attempts.
    :ivar children: child executions of launch plan nodes (None: such nodes fail).
    :ivar signals: reads a gate's signal: ``signals(execution_id, signal_id, literal_type)``
        returns its value, or None while it is not set (creating the signal with that type if
        needed, as FlyteAdmin's GetOrCreateSignal); it raises
        :class:`~flytecore.propeller.handlers.gate.SignalRefused` when the signal can never be
        read, anything else when it cannot be read now. None: signal gates wait forever.
    :ivar catalog: the task cache (None: caching disabled).
    :ivar wake: called with an execution id to get a round for it soon.
    """

    data: DataStore
    tasks: TaskBackend
    children: ChildExecutions | None = None
    signals: Callable[[WorkflowExecutionIdentifier, str, LiteralType], Literal | None] | None = None
    catalog: Any = None
    wake: Callable[[WorkflowExecutionIdentifier], None] = lambda _eid: None
