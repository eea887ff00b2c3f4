"""Phases of executions, nodes and tasks (values match flyteidl's enums)."""

from __future__ import annotations

import enum

__all__ = [
    "WorkflowExecutionPhase",
    "NodeExecutionPhase",
    "TaskExecutionPhase",
    "NodePhase",
]



class WorkflowExecutionPhase(enum.IntEnum):
    """Phase of a workflow execution, as admin stores it (flyteidl.core.WorkflowExecution.Phase)."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9

    @property
    def is_terminal(self) -> bool:
        """True for phases an execution never leaves."""
        return self in _WF_TERMINAL


class NodeExecutionPhase(enum.IntEnum):
    """Phase of a node execution (flyteidl.core.NodeExecution.Phase)."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILING = 4
    FAILED = 5
    ABORTED = 6
    SKIPPED = 7
    TIMED_OUT = 8
    DYNAMIC_RUNNING = 9
    RECOVERED = 10

    @property
    def is_terminal(self) -> bool:
        """True for phases a node execution never leaves."""
        return self in _NODE_TERMINAL


class TaskExecutionPhase(enum.IntEnum):
    """Phase of one task attempt (flyteidl.core.TaskExecution.Phase)."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    ABORTED = 4
    FAILED = 5
    INITIALIZING = 6
    WAITING_FOR_RESOURCES = 7
    RETRYABLE_FAILED = 8

    @property
    def is_terminal(self) -> bool:
        """True for phases a task attempt never leaves."""
        return self in _TASK_TERMINAL


class NodePhase(enum.Enum):
    """The propeller's internal node state machine (FlytePropeller's ``v1alpha1.NodePhase``).

    Finer than :class:`NodeExecutionPhase`: it has the finalize steps (Succeeding, Failing) and
    RetryableFailure, which admin never sees as such. :meth:`to_execution_phase` maps it.
    """

    NOT_YET_STARTED = "NotYetStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    FAILING = "Failing"
    SUCCEEDING = "Succeeding"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    RETRYABLE_FAILURE = "RetryableFailure"
    TIMING_OUT = "TimingOut"
    TIMED_OUT = "TimedOut"
    DYNAMIC_RUNNING = "DynamicRunning"
    RECOVERED = "Recovered"
    ABORTED = "Aborted"

    @property
    def is_terminal(self) -> bool:
        """True for phases the propeller never moves a node out of."""
        return self in _NODE_PHASE_TERMINAL

    def to_execution_phase(self) -> NodeExecutionPhase:
        """The phase admin records for this internal phase."""
        return _NODE_PHASE_TO_EXECUTION[self]


_WF_TERMINAL = frozenset(
    {
        WorkflowExecutionPhase.SUCCEEDED,
        WorkflowExecutionPhase.FAILED,
        WorkflowExecutionPhase.ABORTED,
        WorkflowExecutionPhase.TIMED_OUT,
    }
)
_NODE_TERMINAL = frozenset(
    {
        NodeExecutionPhase.SUCCEEDED,
        NodeExecutionPhase.FAILED,
        NodeExecutionPhase.ABORTED,
        NodeExecutionPhase.SKIPPED,
        NodeExecutionPhase.TIMED_OUT,
        NodeExecutionPhase.RECOVERED,
    }
)
_TASK_TERMINAL = frozenset(
    {TaskExecutionPhase.SUCCEEDED, TaskExecutionPhase.ABORTED, TaskExecutionPhase.FAILED}
)
_NODE_PHASE_TERMINAL = frozenset(
    {
        NodePhase.SUCCEEDED,
        NodePhase.FAILED,
        NodePhase.SKIPPED,
        NodePhase.TIMED_OUT,
        NodePhase.RECOVERED,
        NodePhase.ABORTED,
    }
)
_NODE_PHASE_TO_EXECUTION = {
    NodePhase.NOT_YET_STARTED: NodeExecutionPhase.UNDEFINED,
    NodePhase.QUEUED: NodeExecutionPhase.QUEUED,
    NodePhase.RUNNING: NodeExecutionPhase.RUNNING,
    NodePhase.FAILING: NodeExecutionPhase.FAILING,
    NodePhase.SUCCEEDING: NodeExecutionPhase.RUNNING,
    NodePhase.SUCCEEDED: NodeExecutionPhase.SUCCEEDED,
    NodePhase.FAILED: NodeExecutionPhase.FAILED,
    NodePhase.SKIPPED: NodeExecutionPhase.SKIPPED,
    NodePhase.RETRYABLE_FAILURE: NodeExecutionPhase.RUNNING,
    NodePhase.TIMING_OUT: NodeExecutionPhase.RUNNING,
    NodePhase.TIMED_OUT: NodeExecutionPhase.TIMED_OUT,
    NodePhase.DYNAMIC_RUNNING: NodeExecutionPhase.DYNAMIC_RUNNING,
    NodePhase.RECOVERED: NodeExecutionPhase.RECOVERED,
    NodePhase.ABORTED: NodeExecutionPhase.ABORTED,
}
