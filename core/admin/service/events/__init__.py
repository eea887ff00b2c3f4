"""Events: the engine reports every phase change of executions, nodes and task attempts.

The phase-transition rules are FlyteAdmin's (``execution_manager.CreateWorkflowEvent``,
``node_execution_manager.CreateNodeEvent``, ``task_execution_manager.CreateTaskExecutionEvent``):

- the phase already recorded, again: ALREADY_EXISTS (engines treat it as delivered). For task
  attempts a phase repeats with a higher ``phase_version`` (new logs, a new reason) and is
  applied; an equal or older version of the recorded phase is ALREADY_EXISTS;
- anything after a terminal phase: FAILED_PRECONDITION (FlyteAdmin's
  ``EventAlreadyInTerminalStateError`` has that code);
- back to QUEUED once running: FAILED_PRECONDITION. FlyteAdmin checks this for executions; here
  it holds for nodes and task attempts too (DESIGN.md: "no going back to QUEUED");
- an ABORTING execution accepts only a terminal phase (FlyteAdmin, likewise);
- a node execution or task attempt is created by its first event (a task attempt needs its node
  execution, a node execution its execution: NOT_FOUND otherwise).

FlyteAdmin accepts a repeated QUEUED workflow event, for cluster reassignment; there are no
clusters to reassign here, so it is ALREADY_EXISTS like any repeat.

Each update is conditional on the phase (and phase version) read, through the repository's
``expect=``: of two events racing for one record exactly one is written; the other re-reads and
is judged again (usually ALREADY_EXISTS). After a few lost races the call is ABORTED.

Inputs and outputs: an ``input_uri`` / ``output_uri`` is recorded as given. Inline
``input_data`` / ``output_data`` of a node or task execution follows FlyteAdmin's inline event
data policy, by size (``AdminConfig.inline_data_bytes``, 64 KiB): a small map is kept in
the database (inputs in the record's ``input_data`` column, outputs in its closure's
``output_data``), a larger one is written to the record's ``inputs.pb`` / ``outputs.pb`` and
that URI recorded (FlyteAdmin's "offload" policy; 0 offloads all). An execution's inline
outputs are always offloaded. Inputs are fixed once recorded: the first event's win.
``started_at`` is set by the first RUNNING event, the duration by the terminal one.

``create_events`` applies a batch of events in order in one transaction (the in-process
propeller hands over what its outbox holds): each event is judged as its own call would judge
it, and a refused one writes nothing, so the others stand.

Where each part lives: :mod:`.rules` (the phase rules and times), :mod:`.recording` (applying
one event or a batch, its data), :mod:`.workflow`, :mod:`.nodes` and :mod:`.tasks` (the three
Create*Event calls), :mod:`.reads` (node and task execution reads).
"""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2

from flytecore.admin.service.errors import InvalidArgumentError
from flytecore.admin.service.events.nodes import NodeEvents
from flytecore.admin.service.events.reads import NodeAndTaskExecutionReads
from flytecore.admin.service.events.recording import EventPlan
from flytecore.admin.service.events.tasks import TaskEvents
from flytecore.admin.service.events.workflow import WorkflowEvents

__all__ = ["EventService"]


class EventService(WorkflowEvents, NodeEvents, TaskEvents, NodeAndTaskExecutionReads):
    """The Create*Event calls of AdminService and the node and task execution reads."""

    def _plan(self, request: Any) -> EventPlan:
        if isinstance(request, event_pb2.NodeExecutionEventRequest):
            return self._plan_node_event(request)
        if isinstance(request, event_pb2.TaskExecutionEventRequest):
            return self._plan_task_event(request)
        if isinstance(request, event_pb2.WorkflowExecutionEventRequest):
            return self._plan_workflow_event(request)
        raise InvalidArgumentError(f"not an event request: {type(request).__name__}")

    def _create_event(self, request: Any) -> None:
        if isinstance(request, event_pb2.NodeExecutionEventRequest):
            self.create_node_event(request)
        elif isinstance(request, event_pb2.TaskExecutionEventRequest):
            self.create_task_event(request)
        elif isinstance(request, event_pb2.WorkflowExecutionEventRequest):
            self.create_workflow_event(request)
        else:
            raise InvalidArgumentError(f"not an event request: {type(request).__name__}")
