"""Events the propeller sends to admin on every phase change (flyteidl.event)."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

from flytecore.spec._base import model, oneof
from flytecore.spec.execution import ExecutionError, TaskLog
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase

__all__ = [
    "CatalogCacheStatus",
    "WorkflowExecutionEvent",
    "WorkflowNodeMetadata",
    "TaskNodeMetadata",
    "ParentTaskExecutionMetadata",
    "ParentNodeExecutionMetadata",
    "NodeExecutionEvent",
    "TaskExecutionEvent",
    "ExternalResourceInfo",
    "TaskExecutionMetadata",
]



class CatalogCacheStatus(enum.IntEnum):
    """What the cache did for a node."""

    CACHE_DISABLED = 0
    CACHE_MISS = 1
    CACHE_HIT = 2
    CACHE_POPULATED = 3
    CACHE_LOOKUP_FAILURE = 4
    CACHE_PUT_FAILURE = 5
    CACHE_SKIPPED = 6
    CACHE_EVICTED = 7


def _check_result(obj: Any) -> None:
    oneof("output_uri", "error", "output_data")(obj)


@model
class WorkflowExecutionEvent:
    """A workflow execution changed phase."""

    execution_id: WorkflowExecutionIdentifier
    producer_id: str = ""
    phase: WorkflowExecutionPhase = WorkflowExecutionPhase.UNDEFINED
    occurred_at: _dt.datetime | None = None
    output_uri: str | None = None
    error: ExecutionError | None = None
    output_data: LiteralMap | None = None

    def __attrs_post_init__(self) -> None:
        _check_result(self)


@model
class WorkflowNodeMetadata:
    """The child execution started by a launch plan node."""

    execution_id: WorkflowExecutionIdentifier


@model
class TaskNodeMetadata:
    """Cache outcome of a task node."""

    cache_status: CatalogCacheStatus = CatalogCacheStatus.CACHE_DISABLED


@model
class ParentTaskExecutionMetadata:
    """The task attempt that spawned this node (dynamic workflows)."""

    id: TaskExecutionIdentifier


@model
class ParentNodeExecutionMetadata:
    """The node this node runs inside (subworkflows, branches)."""

    node_id: str


@model
class NodeExecutionEvent:
    """A node execution changed phase."""

    id: NodeExecutionIdentifier
    producer_id: str = ""
    phase: NodeExecutionPhase = NodeExecutionPhase.UNDEFINED
    occurred_at: _dt.datetime | None = None
    input_uri: str | None = None
    input_data: LiteralMap | None = None
    output_uri: str | None = None
    error: ExecutionError | None = None
    output_data: LiteralMap | None = None
    workflow_node_metadata: WorkflowNodeMetadata | None = None
    task_node_metadata: TaskNodeMetadata | None = None
    parent_task_metadata: ParentTaskExecutionMetadata | None = None
    parent_node_metadata: ParentNodeExecutionMetadata | None = None
    retry_group: str = ""
    spec_node_id: str = ""
    node_name: str = ""
    event_version: int = 0
    is_parent: bool = False
    is_dynamic: bool = False
    is_array: bool = False
    deck_uri: str = ""
    reported_at: _dt.datetime | None = None
    target_entity: Identifier | None = None

    def __attrs_post_init__(self) -> None:
        _check_result(self)
        oneof("input_uri", "input_data")(self)
        oneof("workflow_node_metadata", "task_node_metadata")(self)


@model
class ExternalResourceInfo:
    """One thing a task attempt runs outside itself: for an array node, one element (its index,
    attempt, phase and logs), as FlytePropeller reports the sub-tasks of a map task."""

    external_id: str = ""
    index: int = 0
    retry_attempt: int = 0
    phase: TaskExecutionPhase = TaskExecutionPhase.UNDEFINED
    cache_status: CatalogCacheStatus = CatalogCacheStatus.CACHE_DISABLED
    logs: tuple[TaskLog, ...] = ()


@model
class TaskExecutionMetadata:
    """What a task event says about how the attempt runs: the external resources it tracks and
    the plugin that runs it."""

    generated_name: str = ""
    external_resources: tuple[ExternalResourceInfo, ...] = ()
    plugin_identifier: str = ""


@model
class TaskExecutionEvent:
    """A task attempt changed phase (or phase version, e.g. new logs)."""

    task_id: Identifier
    parent_node_execution_id: NodeExecutionIdentifier
    retry_attempt: int = 0
    phase: TaskExecutionPhase = TaskExecutionPhase.UNDEFINED
    producer_id: str = ""
    logs: tuple[TaskLog, ...] = ()
    occurred_at: _dt.datetime | None = None
    input_uri: str | None = None
    input_data: LiteralMap | None = None
    output_uri: str | None = None
    error: ExecutionError | None = None
    output_data: LiteralMap | None = None
    custom_info: dict[str, Any] | None = None
    phase_version: int = 0
    reason: str = ""
    task_type: str = ""
    event_version: int = 0
    reported_at: _dt.datetime | None = None
    metadata: TaskExecutionMetadata | None = None

    def __attrs_post_init__(self) -> None:
        _check_result(self)
        oneof("input_uri", "input_data")(self)
