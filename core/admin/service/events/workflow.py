"""CreateWorkflowEvent: an execution's phase changes."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2, execution_pb2

from flytecore.admin.db import ConcurrentUpdate, execution_key
from flytecore.admin.db import models as m
from flytecore.admin.service.base import UPDATE_ATTEMPTS
from flytecore.admin.service.errors import AbortedError, FailedPreconditionError, repository_errors
from flytecore.admin.service.events.recording import EventPlan, EventRecording
from flytecore.admin.service.events.rules import (
    WF_NOT_STARTED,
    check_transition,
    occurred_at,
    phase_of,
    record_times,
    serialized,
)
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = ["WorkflowEvents"]


class WorkflowEvents(EventRecording):
    """CreateWorkflowEvent."""

    def create_workflow_event(
        self, request: event_pb2.WorkflowExecutionEventRequest
    ) -> event_pb2.WorkflowExecutionEventResponse:
        """Record an execution's phase change (with outputs or error when it ends)."""
        plan = self._plan_workflow_event(request)
        eid = WorkflowExecutionIdentifier(**plan.key)
        # Through the repository's calls, not a transaction: rare events, and the calls are
        # where tests put a concurrent writer between the read and the write.
        for _ in range(UPDATE_ATTEMPTS):
            with repository_errors():
                row = self.repo.get_execution(eid)
            expect, changes = plan.judge(row)
            try:
                self.repo.update_execution(eid, expect=expect, load=False, **changes)
            except ConcurrentUpdate:
                continue
            return event_pb2.WorkflowExecutionEventResponse()
        raise AbortedError(f"{plan.what} kept changing concurrently; send the event again")

    def _plan_workflow_event(self, request: event_pb2.WorkflowExecutionEventRequest) -> EventPlan:
        """The event checked, and how it changes its execution."""
        event = request.event
        eid = execution_id_of(event.execution_id, self.config.domains)
        phase = phase_of(WfPhase, event.phase, "workflow execution")
        what = f"execution {show_execution(eid)}"
        data = self._check_event(event, "workflow execution", what)
        at = occurred_at(event)

        def judge(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            current = WfPhase(row.phase)
            check_transition(what, current, phase, current.is_terminal, started=current not in WF_NOT_STARTED)
            if current == WfPhase.ABORTING and not phase.is_terminal:
                raise FailedPreconditionError(f"{what} is ABORTING; only a terminal phase may follow, not {phase.name}")
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            changes = record_times(closure, row.started_at, phase == WfPhase.RUNNING, phase.is_terminal, at)
            self._result(event, data, closure, changes, lambda: self.store.execution_outputs_uri(eid))
            closure.phase = int(phase)
            return {"phase": row.phase}, {**changes, "phase": int(phase), "closure": serialized(closure)}

        return EventPlan(what, m.Execution, execution_key(eid), judge)
