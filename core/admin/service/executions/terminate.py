"""TerminateExecution: stop a queued or running execution."""

from __future__ import annotations

from flyteidl.admin import execution_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db.errors import ConcurrentUpdate
from flytecore.admin.service.base import UPDATE_ATTEMPTS, ServiceBase, timestamp
from flytecore.admin.service.errors import (
    AbortedError,
    AdminError,
    FailedPreconditionError,
    repository_errors,
)
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.admin.service.launcher import Launcher
from flytecore.admin.service.validation import check_text
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = ["ExecutionTermination"]


class ExecutionTermination(ServiceBase):
    """TerminateExecution."""

    launcher: Launcher | None = None
    """What runs executions; asked to abort the ones it holds."""

    def terminate_execution(self, request: execution_pb2.ExecutionTerminateRequest) -> execution_pb2.ExecutionTerminateResponse:
        """Stop an execution. One the engine holds becomes ABORTING and the engine is asked to
        abort it (it confirms with an ABORTED event, as in FlyteAdmin); one no engine ever took
        becomes ABORTED at once. An execution that already ended is FAILED_PRECONDITION."""
        eid = execution_id_of(request.id, self.config.domains)
        check_text(request.cause, "cause")
        for _ in range(UPDATE_ATTEMPTS):
            with repository_errors():
                row = self.repo.get_execution(eid)
            phase = WfPhase(row.phase)
            if phase.is_terminal:
                raise FailedPreconditionError(
                    f"execution {show_execution(eid)} already ended ({phase.name}); only a queued or running "
                    "execution can be terminated"
                )
            engine_holds_it = row.launched or self.launcher is not None
            new_phase = WfPhase.ABORTING if engine_holds_it else WfPhase.ABORTED
            now = m.utcnow()
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            closure.phase = int(new_phase)
            closure.abort_metadata.CopyFrom(execution_pb2.AbortMetadata(cause=request.cause, principal=""))
            closure.updated_at.CopyFrom(timestamp(now))
            try:
                self.repo.update_execution(
                    eid, expect={"phase": row.phase}, phase=int(new_phase), abort_cause=request.cause,
                    closure=closure.SerializeToString(deterministic=True),
                )
                break
            except ConcurrentUpdate:
                continue  # an event moved it meanwhile; decide again on what it is now
        else:
            raise AbortedError(f"execution {show_execution(eid)} kept changing; try terminating it again")
        if engine_holds_it and self.launcher is not None:
            try:
                self.launcher.abort(eid, request.cause)
            except Exception as exc:  # a pluggable engine; its failure is reported, never UNKNOWN
                raise AdminError(f"the execution engine could not abort {show_execution(eid)}: {exc}") from exc
        return execution_pb2.ExecutionTerminateResponse()
