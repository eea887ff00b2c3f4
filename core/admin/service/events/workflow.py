"""CreateWorkflowEvent: an execution's phase changes."""

from __future__ import annotations

from flyteidl.admin import event_pb2, execution_pb2

from flytecore.admin.db import models as m
from flytecore.admin.service.errors import FailedPreconditionError
from flytecore.admin.service.events.recording import EventRecording
from flytecore.admin.service.events.rules import (
    WF_NOT_STARTED,
    check_transition,
    occurred_at,
    phase_of,
    record_times,
    serialized,
)
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = ["WorkflowEvents"]


class WorkflowEvents(EventRecording):
    """CreateWorkflowEvent."""

    def create_workflow_event(
        self, request: event_pb2.WorkflowExecutionEventRequest
    ) -> event_pb2.WorkflowExecutionEventResponse:
        """Record an execution's phase change (with outputs or error when it ends)."""
        event = request.event
        eid = execution_id_of(event.execution_id, self.config.domains)
        phase = phase_of(WfPhase, event.phase, "workflow execution")
        self._check_event(event, "workflow execution")
        at = occurred_at(event)
        what = f"execution {show_execution(eid)}"

        def decide(row: m.Execution) -> None:
            current = WfPhase(row.phase)
            check_transition(what, current, phase, current.is_terminal, started=current not in WF_NOT_STARTED)
            if current == WfPhase.ABORTING and not phase.is_terminal:
                raise FailedPreconditionError(f"{what} is ABORTING; only a terminal phase may follow, not {phase.name}")
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            changes = record_times(closure, row.started_at, phase == WfPhase.RUNNING, phase.is_terminal, at)
            uri = self._result(event, closure, changes, lambda: self.store.execution_outputs_uri(eid))
            if uri:
                closure.outputs.uri = uri
            closure.phase = int(phase)
            self.repo.update_execution(
                eid, expect={"phase": row.phase}, load=False, phase=int(phase), closure=serialized(closure), **changes
            )

        self._apply(what, lambda: self.repo.get_execution(eid), None, decide)
        return event_pb2.WorkflowExecutionEventResponse()
