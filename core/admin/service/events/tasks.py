"""CreateTaskEvent: a task attempt's phase changes (or newer versions of its phase)."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2, task_execution_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db import task_execution_key
from flytecore.admin.service.base import timestamp
from flytecore.admin.service.errors import AlreadyExistsError, FailedPreconditionError
from flytecore.admin.service.events.external import merge_metadata
from flytecore.admin.service.events.recording import EventPlan, EventRecording
from flytecore.admin.service.events.rules import (
    TASK_NOT_STARTED,
    check_transition,
    occurred_at,
    phase_of,
    record_times,
    serialized,
)
from flytecore.admin.service.executions.ids import show_execution
from flytecore.admin.service.registration import entity_id
from flytecore.admin.service.validation import check_identifier
from flytecore.spec.identifiers import ResourceType, TaskExecutionIdentifier
from flytecore.spec.phases import TaskExecutionPhase as TaskPhase

__all__ = ["TaskEvents"]


class TaskEvents(EventRecording):
    """CreateTaskEvent."""

    def create_task_event(self, request: event_pb2.TaskExecutionEventRequest) -> event_pb2.TaskExecutionEventResponse:
        """Record a task attempt's phase change (or a newer version of its phase); its first
        event creates it."""
        self._apply(self._plan_task_event(request))
        return event_pb2.TaskExecutionEventResponse()

    def _plan_task_event(self, request: event_pb2.TaskExecutionEventRequest) -> EventPlan:
        """The event checked, and how it changes its task attempt."""
        event = request.event
        check_identifier(event.task_id, "task", domains=self.config.domains)
        tid = TaskExecutionIdentifier(
            task_id=entity_id(event.task_id, ResourceType.TASK),
            node_execution_id=self._node_id(event.parent_node_execution_id),
            retry_attempt=event.retry_attempt,
        )
        phase = phase_of(TaskPhase, event.phase, "task execution")
        node = tid.node_execution_id
        assert node is not None and node.execution_id is not None
        what = f"task {event.task_id.name} attempt {event.retry_attempt} of node {node.node_id} of execution {show_execution(node.execution_id)}"
        data = self._check_event(event, "task execution", what)
        at = occurred_at(event)

        def changes_for(row: Any) -> dict[str, Any]:
            closure = task_execution_pb2.TaskExecutionClosure.FromString(row.closure) if row else (
                task_execution_pb2.TaskExecutionClosure(created_at=timestamp(at)))
            started_at = row.started_at if row else None
            changes = record_times(closure, started_at, phase == TaskPhase.RUNNING, phase.is_terminal, at)
            self._result(event, data, closure, changes, lambda: self.store.task_outputs_uri(tid))
            # Logs accumulate over the phases (FlyteAdmin's mergeLogs): a link appears once.
            seen = {(log.name, log.uri) for log in closure.logs}
            closure.logs.extend(log for log in event.logs if (log.name, log.uri) not in seen)
            if event.reason:
                closure.reason = event.reason
            if event.HasField("custom_info"):
                closure.custom_info.CopyFrom(event.custom_info)
            merge_metadata(closure, event)  # a map's elements (external resources)
            closure.task_type = event.task_type or closure.task_type
            closure.event_version = event.event_version
            changes.update(self._inputs(event, data, row, lambda: self.store.node_inputs_uri(node)))
            closure.phase = int(phase)
            return {
                **changes, "phase": int(phase), "phase_version": event.phase_version, "closure": serialized(closure),
                "logs": [{"name": log.name, "uri": log.uri} for log in closure.logs],
            }

        def first() -> dict[str, Any]:
            return {**key, **changes_for(None)}

        def judge(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            current = TaskPhase(row.phase)
            if current == phase and row.phase_version >= event.phase_version:
                raise AlreadyExistsError(
                    f"{what}: phase {phase.name} version {event.phase_version} was already recorded "
                    f"(recorded version: {row.phase_version})"
                )
            if current != phase:
                check_transition(what, current, phase, current.is_terminal, started=current not in TASK_NOT_STARTED)
            elif current.is_terminal:
                raise FailedPreconditionError(f"{what} already ended ({current.name}); the event was not recorded")
            return {"phase": row.phase, "phase_version": row.phase_version}, changes_for(row)

        key = task_execution_key(tid)
        return EventPlan(what, m.TaskExecution, key, judge, first)
