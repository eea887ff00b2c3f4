"""CreateNodeEvent: a node execution's phase changes; its first event creates it."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2, node_execution_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db import node_execution_key
from flytecore.admin.service.base import timestamp
from flytecore.admin.service.errors import repository_errors
from flytecore.admin.service.events.recording import EventPlan, EventRecording
from flytecore.admin.service.events.rules import (
    check_transition,
    occurred_at,
    phase_of,
    record_times,
    serialized,
)
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.admin.service.validation import check_id_part, check_text
from flytecore.spec.phases import NodeExecutionPhase as NodePhase

__all__ = ["NodeEvents"]


class NodeEvents(EventRecording):
    """CreateNodeEvent."""

    def create_node_event(self, request: event_pb2.NodeExecutionEventRequest) -> event_pb2.NodeExecutionEventResponse:
        """Record a node execution's phase change; its first event creates it."""
        self._apply(self._plan_node_event(request))
        return event_pb2.NodeExecutionEventResponse()

    def _plan_node_event(self, request: event_pb2.NodeExecutionEventRequest) -> EventPlan:
        """The event checked, and how it changes its node execution."""
        event = request.event
        nid = self._node_id(event.id)
        phase = phase_of(NodePhase, event.phase, "node execution")
        what = f"node {nid.node_id} of execution {show_execution(nid.execution_id)}"  # type: ignore[arg-type]
        data = self._check_event(event, "node execution", what)
        for field in ("retry_group", "spec_node_id"):
            check_text(getattr(event, field), field)
        if event.parent_node_metadata.node_id:
            check_id_part(event.parent_node_metadata.node_id, "parent_node_metadata node_id")
        if event.HasField("parent_task_metadata"):
            check_id_part(event.parent_task_metadata.id.node_execution_id.node_id, "parent_task_metadata node id")
        at = occurred_at(event)
        if event.HasField("workflow_node_metadata"):  # FlyteAdmin: the child execution must exist
            child = execution_id_of(event.workflow_node_metadata.execution_id, self.config.domains, "launched execution")
            with repository_errors():
                self.repo.get_execution(child)

        def changes_for(row: Any) -> dict[str, Any]:
            closure = node_execution_pb2.NodeExecutionClosure.FromString(row.closure) if row else (
                node_execution_pb2.NodeExecutionClosure(created_at=timestamp(at)))
            started_at = row.started_at if row else None
            changes = record_times(closure, started_at, phase == NodePhase.RUNNING, phase.is_terminal, at)
            self._result(event, data, closure, changes, lambda: self.store.node_outputs_uri(nid))
            if event.HasField("workflow_node_metadata"):
                # flyteidl spells this one admin field in camelCase.
                closure.workflow_node_metadata.executionId.CopyFrom(event.workflow_node_metadata.execution_id)
            if event.HasField("task_node_metadata"):
                meta = event.task_node_metadata
                closure.task_node_metadata.cache_status = meta.cache_status
                closure.task_node_metadata.catalog_key.CopyFrom(meta.catalog_key)
                if meta.HasField("dynamic_workflow"):
                    # The compiled dynamic workflow is large: it goes to storage, the row says where.
                    changes["dynamic_workflow_uri"] = f"{self.store.node_prefix(nid)}/dynamic_workflow.pb"
                    self.store.write_bytes(changes["dynamic_workflow_uri"], serialized(meta.dynamic_workflow.compiled_workflow))
                    closure.dynamic_job_spec_uri = meta.dynamic_workflow.dynamic_job_spec_uri
            if event.deck_uri:
                closure.deck_uri = event.deck_uri
            changes.update(self._inputs(event, data, row, lambda: self.store.node_inputs_uri(nid)))
            # Flags only ever turn on: not every event of a dynamic node carries them.
            for flag, given in (("is_parent", event.is_parent), ("is_dynamic", event.is_dynamic), ("is_array", event.is_array)):
                if given:
                    changes[flag] = True
            closure.phase = int(phase)
            return {**changes, "phase": int(phase), "closure": serialized(closure)}

        def first() -> dict[str, Any]:
            parent = event.parent_node_metadata.node_id or (
                event.parent_task_metadata.id.node_execution_id.node_id if event.HasField("parent_task_metadata") else None
            )
            return {
                **key, "parent_node_id": parent or None, "retry_group": event.retry_group or None,
                "spec_node_id": event.spec_node_id, **changes_for(None),
            }

        def judge(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            current = NodePhase(row.phase)
            started = current not in (NodePhase.UNDEFINED, NodePhase.QUEUED)
            check_transition(what, current, phase, current.is_terminal, started=started)
            return {"phase": row.phase}, changes_for(row)

        key = node_execution_key(nid)
        return EventPlan(what, m.NodeExecution, key, judge, first)
