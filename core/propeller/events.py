"""The events a round produces: workflow, node and task phase changes, built from statuses.

Every phase change the engine makes is reported to the admin as one of flyteidl's events
(FlytePropeller's event recorder). The round only appends them to the execution's list; the
propeller saves them with the state they describe (an outbox) and delivers them afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from flytecore.spec.events import (
    CatalogCacheStatus,
    ExternalResourceInfo,
    NodeExecutionEvent,
    ParentNodeExecutionMetadata,
    TaskExecutionEvent,
    TaskExecutionMetadata,
    TaskNodeMetadata,
    WorkflowExecutionEvent,
    WorkflowNodeMetadata,
)
from flytecore.spec.execution import ExecutionError, TaskLog
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase, TaskExecutionPhase, WorkflowExecutionPhase
from flytecore.spec.workflow import Node

if TYPE_CHECKING:
    from flytecore.propeller.engine import Run
    from flytecore.propeller.state import NodeStatus

__all__ = ["ARRAY_TASK_TYPE", "Event", "array_fields", "node_event", "task_event", "workflow_event"]

Event = WorkflowExecutionEvent | NodeExecutionEvent | TaskExecutionEvent


def _at(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def workflow_event(
    run: Run,
    phase: WorkflowExecutionPhase,
    now: float,
    *,
    outputs: LiteralMap | None = None,
    error: ExecutionError | None = None,
) -> None:
    """Report the execution's new phase (with its outputs or error when it ends)."""
    run.events.append(
        WorkflowExecutionEvent(
            execution_id=run.obj.execution_id,
            producer_id=run.producer_id,
            phase=phase,
            occurred_at=_at(now),
            output_data=outputs if error is None and outputs is not None else None,
            error=error,
        )
    )


def node_event(
    run: Run,
    key: str,
    node: Node,
    status: NodeStatus,
    now: float,
    *,
    parent_key: str | None,
    kind: str,
    inputs: LiteralMap | None = None,
    input_uri: str | None = None,
    output_uri: str | None = None,
    target: Identifier | None = None,
) -> None:
    """Report a node's phase (admin sees :meth:`NodePhase.to_execution_phase`).

    Inputs and outputs already in storage are named by ``input_uri`` / ``output_uri`` (the admin
    records the location, as with FlytePropeller's events); others travel inline.
    """
    phase = status.phase.to_execution_phase()
    result: dict[str, object] = {}
    if status.phase == NodePhase.SUCCEEDED and output_uri:
        result["output_uri"] = output_uri
    elif status.phase == NodePhase.SUCCEEDED and status.outputs is not None:
        result["output_data"] = status.outputs
    elif status.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED) and status.error is not None:
        result["error"] = status.error
    child_execution = None
    if status.child_execution:
        eid = run.obj.execution_id
        child_execution = WorkflowExecutionIdentifier(project=eid.project, domain=eid.domain, name=status.child_execution)
    run.events.append(
        NodeExecutionEvent(
            id=NodeExecutionIdentifier(node_id=key, execution_id=run.obj.execution_id),
            producer_id=run.producer_id,
            phase=phase,
            occurred_at=_at(now),
            input_data=inputs if not input_uri else None,
            input_uri=input_uri or None,
            workflow_node_metadata=WorkflowNodeMetadata(execution_id=child_execution) if child_execution else None,
            task_node_metadata=(
                TaskNodeMetadata(cache_status=CatalogCacheStatus(status.cache_status)) if kind == "task" else None
            ),
            parent_node_metadata=ParentNodeExecutionMetadata(node_id=parent_key) if parent_key else None,
            spec_node_id=node.id,
            node_name=(node.metadata.name if node.metadata and node.metadata.name else node.id),
            # As FlytePropeller: an array node is not a parent node but an array (flytekit's
            # FlyteRemote follows the two differently); its elements still name it as parent.
            is_parent=kind in ("branch", "subworkflow", "dynamic"),
            is_dynamic=kind == "dynamic",
            is_array=kind == "array",
            reported_at=_at(now),
            target_entity=target,
            **result,  # type: ignore[arg-type]
        )
    )


def task_event(
    run: Run,
    key: str,
    task_id: Identifier,
    attempt: int,
    phase: TaskExecutionPhase,
    phase_version: int,
    now: float,
    *,
    task_type: str,
    logs: tuple[TaskLog, ...] = (),
    output_uri: str | None = None,
    outputs: LiteralMap | None = None,
    error: ExecutionError | None = None,
    inputs: LiteralMap | None = None,
    input_uri: str | None = None,
    reason: str = "",
    metadata: TaskExecutionMetadata | None = None,
    event_version: int = 0,
) -> None:
    """Report a task attempt's phase (or a new version of the same phase); inputs in storage
    are named by ``input_uri`` rather than sent inline."""
    result: dict[str, object] = {}
    if error is not None:
        result["error"] = error
    elif output_uri:
        result["output_uri"] = output_uri
    elif outputs is not None:
        result["output_data"] = outputs
    run.events.append(
        TaskExecutionEvent(
            task_id=task_id,
            parent_node_execution_id=NodeExecutionIdentifier(node_id=key, execution_id=run.obj.execution_id),
            retry_attempt=attempt,
            phase=phase,
            producer_id=run.producer_id,
            logs=logs,
            occurred_at=_at(now),
            input_data=inputs if not input_uri else None,
            input_uri=input_uri or None,
            phase_version=phase_version,
            reason=reason,
            task_type=task_type,
            reported_at=_at(now),
            metadata=metadata,
            event_version=event_version,
            **result,  # type: ignore[arg-type]
        )
    )


ARRAY_TASK_TYPE = "container_array"
"""The task type of an array node's own task execution (FlytePropeller's)."""


def array_fields(resources: list[ExternalResourceInfo]) -> dict[str, Any]:
    """What makes a :func:`task_event` an array node's report, as FlytePropeller's default: its
    task type and event version, and the elements as external resources (index, attempt, phase,
    logs) rather than node and task events of their own (gathered, see
    :mod:`flytecore.propeller.handlers.array`)."""
    return {
        "task_type": ARRAY_TASK_TYPE,
        "event_version": 1,
        "metadata": TaskExecutionMetadata(external_resources=tuple(resources), plugin_identifier="k8s-array"),
    }
