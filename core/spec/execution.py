"""Executions of workflows, nodes and tasks as admin records them (flyteidl.admin.execution,
node_execution, task_execution and flyteidl.core.execution)."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from flytecore.spec._base import model, oneof
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.launch_plan import RawOutputDataConfig
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase

__all__ = [
    "ErrorKind",
    "ExecutionError",
    "TaskLog",
    "ExecutionMode",
    "ExecutionMetadata",
    "ExecutionSpec",
    "ExecutionClosure",
    "Execution",
    "NodeExecutionClosure",
    "NodeExecutionMetaData",
    "NodeExecution",
    "TaskExecutionClosure",
    "TaskExecution",
]



class ErrorKind(enum.IntEnum):
    """Whose fault a failure is: the user's code (USER) or the platform (SYSTEM)."""

    UNKNOWN = 0
    USER = 1
    SYSTEM = 2


@model
class ExecutionError:
    """Why an execution, node or task failed."""

    code: str = ""
    message: str = ""
    error_uri: str = ""
    kind: ErrorKind = ErrorKind.UNKNOWN


@model
class TaskLog:
    """A link to a task's logs."""

    uri: str = ""
    name: str = ""
    ttl: _dt.timedelta | None = None


class ExecutionMode(enum.IntEnum):
    """Why an execution was started."""

    MANUAL = 0
    SCHEDULED = 1
    SYSTEM = 2
    RELAUNCH = 3
    CHILD_WORKFLOW = 4
    RECOVERED = 5
    TRIGGER = 6


@model
class ExecutionMetadata:
    """Who started an execution, how, and its parent if it is a child execution."""

    mode: ExecutionMode = ExecutionMode.MANUAL
    principal: str = ""
    nesting: int = 0
    scheduled_at: _dt.datetime | None = None
    parent_node_execution: NodeExecutionIdentifier | None = None
    reference_execution: WorkflowExecutionIdentifier | None = None


@model
class ExecutionSpec:
    """What to execute: a launch plan and the caller's inputs, plus run options."""

    launch_plan: Identifier
    inputs: LiteralMap | None = None
    metadata: ExecutionMetadata = ExecutionMetadata()
    labels: dict[str, str] = attrs.field(factory=dict)
    annotations: dict[str, str] = attrs.field(factory=dict)
    max_parallelism: int = 0
    raw_output_data_config: RawOutputDataConfig | None = None
    interruptible: bool | None = None
    overwrite_cache: bool = False
    tags: tuple[str, ...] = ()


@model
class ExecutionClosure:
    """The state of an execution: phase, times, and its outputs, error or abort cause."""

    output_data: LiteralMap | None = None
    error: ExecutionError | None = None
    abort_cause: str | None = None
    computed_inputs: LiteralMap | None = None
    phase: WorkflowExecutionPhase = WorkflowExecutionPhase.UNDEFINED
    started_at: _dt.datetime | None = None
    duration: _dt.timedelta | None = None
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None
    workflow_id: Identifier | None = None

    def __attrs_post_init__(self) -> None:
        _check_wf_result(self)


_check_wf_result = oneof("output_data", "error", "abort_cause")


@model
class Execution:
    """A workflow execution."""

    id: WorkflowExecutionIdentifier
    spec: ExecutionSpec
    closure: ExecutionClosure = ExecutionClosure()


@model
class NodeExecutionClosure:
    """The state of a node execution."""

    output_uri: str | None = None
    error: ExecutionError | None = None
    output_data: LiteralMap | None = None
    phase: NodeExecutionPhase = NodeExecutionPhase.UNDEFINED
    started_at: _dt.datetime | None = None
    duration: _dt.timedelta | None = None
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None
    deck_uri: str = ""
    dynamic_job_spec_uri: str = ""

    def __attrs_post_init__(self) -> None:
        _check_node_result(self)


_check_node_result = oneof("output_uri", "error", "output_data")


@model
class NodeExecutionMetaData:
    """How a node execution relates to the workflow spec (retry group, parent, dynamic, array)."""

    retry_group: str = ""
    is_parent_node: bool = False
    spec_node_id: str = ""
    is_dynamic: bool = False
    is_array: bool = False


@model
class NodeExecution:
    """One node of one execution."""

    id: NodeExecutionIdentifier
    input_uri: str = ""
    closure: NodeExecutionClosure = NodeExecutionClosure()
    metadata: NodeExecutionMetaData = NodeExecutionMetaData()


@model
class TaskExecutionClosure:
    """The state of one task attempt."""

    output_uri: str | None = None
    error: ExecutionError | None = None
    output_data: LiteralMap | None = None
    phase: TaskExecutionPhase = TaskExecutionPhase.UNDEFINED
    logs: tuple[TaskLog, ...] = ()
    started_at: _dt.datetime | None = None
    duration: _dt.timedelta | None = None
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None
    custom_info: dict[str, Any] | None = None
    reason: str = ""
    task_type: str = ""
    event_version: int = 0

    def __attrs_post_init__(self) -> None:
        _check_task_result(self)


_check_task_result = oneof("output_uri", "error", "output_data")


@model
class TaskExecution:
    """One attempt of a task at a node."""

    id: TaskExecutionIdentifier
    input_uri: str = ""
    closure: TaskExecutionClosure = TaskExecutionClosure()
    is_parent: bool = False
