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

Outputs: an ``output_uri`` is recorded as given; inline ``output_data`` is written to the
record's ``outputs.pb`` (FlyteAdmin's default "offload" policy) and that URI recorded.
``started_at`` is set by the first RUNNING event, the duration by the terminal one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flyteidl.admin import event_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf.message import Message

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.db.errors import ConcurrentUpdate
from flytecore.admin.service.base import ServiceBase, sort_of, timestamp
from flytecore.admin.service.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.executions import (
    UPDATE_ATTEMPTS,
    data_response,
    execution_id_of,
    show_execution,
)
from flytecore.admin.service.registration import entity_id
from flytecore.admin.service.validation import check_identifier, check_name
from flytecore.spec import idl
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.phases import NodeExecutionPhase as NodePhase
from flytecore.spec.phases import TaskExecutionPhase as TaskPhase
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = ["EventService"]

# Phases before anything ran; an event for one of these after them is going back in time.
_TASK_NOT_STARTED = {TaskPhase.UNDEFINED, TaskPhase.QUEUED, TaskPhase.WAITING_FOR_RESOURCES, TaskPhase.INITIALIZING}


class EventService(ServiceBase):
    """The Create*Event calls of AdminService and the node and task execution reads."""

    # --- workflow events ----------------------------------------------------------------------------

    def create_workflow_event(
        self, request: event_pb2.WorkflowExecutionEventRequest
    ) -> event_pb2.WorkflowExecutionEventResponse:
        """Record an execution's phase change (with outputs or error when it ends)."""
        event = request.event
        eid = execution_id_of(event.execution_id, self.config.domains)
        phase = _phase(WfPhase, event.phase, "workflow execution")
        at = _occurred(event)
        what = f"execution {show_execution(eid)}"

        def decide(row: m.Execution) -> None:
            current = WfPhase(row.phase)
            _check_transition(what, current, phase, current.is_terminal, started=current not in _WF_NOT_STARTED)
            if current == WfPhase.ABORTING and not phase.is_terminal:
                raise FailedPreconditionError(f"{what} is ABORTING; only a terminal phase may follow, not {phase.name}")
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            changes = _times(closure, row.started_at, phase == WfPhase.RUNNING, phase.is_terminal, at)
            uri = self._result(event, closure, changes, lambda: self.store.execution_outputs_uri(eid))
            if uri:
                closure.outputs.uri = uri
            closure.phase = int(phase)
            self.repo.update_execution(
                eid, expect={"phase": row.phase}, phase=int(phase), closure=_bytes(closure), **changes
            )

        self._apply(what, lambda: self.repo.get_execution(eid), None, decide)
        return event_pb2.WorkflowExecutionEventResponse()

    # --- node events -----------------------------------------------------------------------------------

    def create_node_event(self, request: event_pb2.NodeExecutionEventRequest) -> event_pb2.NodeExecutionEventResponse:
        """Record a node execution's phase change; its first event creates it."""
        event = request.event
        nid = self._node_id(event.id)
        phase = _phase(NodePhase, event.phase, "node execution")
        at = _occurred(event)
        what = f"node {nid.node_id} of execution {show_execution(nid.execution_id)}"  # type: ignore[arg-type]
        if event.HasField("workflow_node_metadata"):  # FlyteAdmin: the child execution must exist
            child = execution_id_of(event.workflow_node_metadata.execution_id, self.config.domains, "launched execution")
            with repository_errors():
                self.repo.get_execution(child)

        def changes_for(row: m.NodeExecution | None) -> dict[str, Any]:
            closure = node_execution_pb2.NodeExecutionClosure.FromString(row.closure) if row else (
                node_execution_pb2.NodeExecutionClosure(created_at=timestamp(at)))
            started_at = row.started_at if row else None
            changes = _times(closure, started_at, phase == NodePhase.RUNNING, phase.is_terminal, at)
            uri = self._result(event, closure, changes, lambda: self.store.node_outputs_uri(nid))
            if uri:
                closure.output_uri = uri
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
                    self.store.write_bytes(changes["dynamic_workflow_uri"], _bytes(meta.dynamic_workflow.compiled_workflow))
                    closure.dynamic_job_spec_uri = meta.dynamic_workflow.dynamic_job_spec_uri
            if event.deck_uri:
                closure.deck_uri = event.deck_uri
            if not (row and row.input_uri):  # inputs are fixed once recorded (FlyteAdmin keeps the first)
                changes["input_uri"] = self._inputs(event, lambda: self.store.node_inputs_uri(nid))
            # Flags only ever turn on: not every event of a dynamic node carries them.
            for flag, given in (("is_parent", event.is_parent), ("is_dynamic", event.is_dynamic), ("is_array", event.is_array)):
                if given:
                    changes[flag] = True
            closure.phase = int(phase)
            return {**changes, "phase": int(phase), "closure": _bytes(closure)}

        def create() -> None:
            parent = event.parent_node_metadata.node_id or (
                event.parent_task_metadata.id.node_execution_id.node_id if event.HasField("parent_task_metadata") else None
            )
            self.repo.create_node_execution(
                m.NodeExecution(
                    execution_project=nid.execution_id.project,  # type: ignore[union-attr]
                    execution_domain=nid.execution_id.domain,  # type: ignore[union-attr]
                    execution_name=nid.execution_id.name,  # type: ignore[union-attr]
                    node_id=nid.node_id, parent_node_id=parent or None, retry_group=event.retry_group or None,
                    spec_node_id=event.spec_node_id, **changes_for(None),
                )
            )

        def decide(row: m.NodeExecution) -> None:
            current = NodePhase(row.phase)
            started = current not in (NodePhase.UNDEFINED, NodePhase.QUEUED)
            _check_transition(what, current, phase, current.is_terminal, started=started)
            self.repo.update_node_execution(nid, expect={"phase": row.phase}, **changes_for(row))

        self._apply(what, lambda: self.repo.get_node_execution(nid), create, decide)
        return event_pb2.NodeExecutionEventResponse()

    # --- task events -----------------------------------------------------------------------------------

    def create_task_event(self, request: event_pb2.TaskExecutionEventRequest) -> event_pb2.TaskExecutionEventResponse:
        """Record a task attempt's phase change (or a newer version of its phase); its first
        event creates it."""
        event = request.event
        check_identifier(event.task_id, "task", domains=self.config.domains)
        tid = TaskExecutionIdentifier(
            task_id=entity_id(event.task_id, ResourceType.TASK),
            node_execution_id=self._node_id(event.parent_node_execution_id),
            retry_attempt=event.retry_attempt,
        )
        phase = _phase(TaskPhase, event.phase, "task execution")
        at = _occurred(event)
        node = tid.node_execution_id
        assert node is not None and node.execution_id is not None
        what = f"task {event.task_id.name} attempt {event.retry_attempt} of node {node.node_id} of execution {show_execution(node.execution_id)}"

        def changes_for(row: m.TaskExecution | None) -> dict[str, Any]:
            closure = task_execution_pb2.TaskExecutionClosure.FromString(row.closure) if row else (
                task_execution_pb2.TaskExecutionClosure(created_at=timestamp(at)))
            started_at = row.started_at if row else None
            changes = _times(closure, started_at, phase == TaskPhase.RUNNING, phase.is_terminal, at)
            uri = self._result(event, closure, changes, lambda: self.store.task_outputs_uri(tid))
            if uri:
                closure.output_uri = uri
            # Logs accumulate over the phases (FlyteAdmin's mergeLogs): a link appears once.
            seen = {(log.name, log.uri) for log in closure.logs}
            closure.logs.extend(log for log in event.logs if (log.name, log.uri) not in seen)
            if event.reason:
                closure.reason = event.reason
            if event.HasField("custom_info"):
                closure.custom_info.CopyFrom(event.custom_info)
            closure.task_type = event.task_type or closure.task_type
            closure.event_version = event.event_version
            if not (row and row.input_uri):
                changes["input_uri"] = self._inputs(event, lambda: self.store.node_inputs_uri(node))
            closure.phase = int(phase)
            return {
                **changes, "phase": int(phase), "phase_version": event.phase_version, "closure": _bytes(closure),
                "logs": [{"name": log.name, "uri": log.uri} for log in closure.logs],
            }

        def create() -> None:
            key = {f"task_{k}": getattr(tid.task_id, k) for k in ("project", "domain", "name", "version")}
            self.repo.create_task_execution(
                m.TaskExecution(
                    execution_project=node.execution_id.project,  # type: ignore[union-attr]
                    execution_domain=node.execution_id.domain,  # type: ignore[union-attr]
                    execution_name=node.execution_id.name,  # type: ignore[union-attr]
                    node_id=node.node_id, retry_attempt=tid.retry_attempt, **key, **changes_for(None),
                )
            )

        def decide(row: m.TaskExecution) -> None:
            current = TaskPhase(row.phase)
            if current == phase and row.phase_version >= event.phase_version:
                raise AlreadyExistsError(
                    f"{what}: phase {phase.name} version {event.phase_version} was already recorded "
                    f"(recorded version: {row.phase_version})"
                )
            if current != phase:
                _check_transition(what, current, phase, current.is_terminal, started=current not in _TASK_NOT_STARTED)
            elif current.is_terminal:
                raise FailedPreconditionError(f"{what} already ended ({current.name}); the event was not recorded")
            expect = {"phase": row.phase, "phase_version": row.phase_version}
            self.repo.update_task_execution(tid, expect=expect, **changes_for(row))

        self._apply(what, lambda: self.repo.get_task_execution(tid), create, decide)
        return event_pb2.TaskExecutionEventResponse()

    # --- shared ---------------------------------------------------------------------------------------

    def _apply(
        self, what: str, read: Callable[[], Any], create: Callable[[], None] | None, decide: Callable[[Any], None]
    ) -> None:
        """Apply one event: read the record (create it on the first event), judge the transition
        and write it conditionally; when a concurrent event won, read again and judge again."""
        for _ in range(UPDATE_ATTEMPTS):
            try:
                row = read()
            except NotFound as exc:
                if create is None:
                    raise NotFoundError(str(exc)) from exc
                try:
                    with repository_errors():
                        create()
                    return
                except AlreadyExistsError:
                    continue  # a concurrent first event created it: judge this one as an update
            try:
                decide(row)
                return
            except ConcurrentUpdate:
                continue
        raise AbortedError(f"{what} kept changing concurrently; send the event again")

    def _node_id(self, proto_id: Any) -> NodeExecutionIdentifier:
        check_name(proto_id.node_id, "node id")
        return NodeExecutionIdentifier(node_id=proto_id.node_id, execution_id=execution_id_of(proto_id.execution_id, self.config.domains))

    def _result(self, event: Any, closure: Any, changes: dict[str, Any], outputs_uri: Callable[[], str]) -> str:
        """Record an event's outputs or error on ``closure``/``changes``; returns the outputs URI
        (inline outputs written to ``outputs_uri()`` first), or "" if there are none."""
        uri = ""
        if event.output_uri:
            uri = event.output_uri
        elif event.HasField("output_data"):
            uri = outputs_uri()
            self.store.write_bytes(uri, _bytes(event.output_data))
        elif event.HasField("error"):
            closure.error.CopyFrom(event.error)
            changes["error"] = {
                "code": event.error.code, "message": event.error.message, "error_uri": event.error.error_uri,
                "kind": core_execution_pb2.ExecutionError.ErrorKind.Name(event.error.kind),
            }
        if uri:
            changes["outputs_uri" if isinstance(closure, execution_pb2.ExecutionClosure) else "output_uri"] = uri
        return uri

    def _inputs(self, event: Any, inputs_uri: Callable[[], str]) -> str:
        if event.input_uri:
            return str(event.input_uri)
        if event.HasField("input_data"):
            uri = inputs_uri()
            self.store.write_bytes(uri, _bytes(event.input_data))
            return uri
        return ""

    # --- node and task execution reads ------------------------------------------------------------

    def get_node_execution(self, request: node_execution_pb2.NodeExecutionGetRequest) -> node_execution_pb2.NodeExecution:
        """One node execution."""
        with repository_errors():
            return _node_proto(self.repo.get_node_execution(self._node_id(request.id)))

    def list_node_executions(self, request: node_execution_pb2.NodeExecutionListRequest) -> node_execution_pb2.NodeExecutionList:
        """The top-level node executions of an execution, or with ``unique_parent_id`` the
        children of that node (inside a subworkflow, branch or dynamic node), as flytekit asks."""
        eid = execution_id_of(request.workflow_execution_id, self.config.domains)
        parent = request.unique_parent_id or None
        if parent is not None:
            check_name(parent, "unique_parent_id")
            with repository_errors():  # FlyteAdmin: an unknown parent is NOT_FOUND, not an empty list
                self.repo.get_node_execution(NodeExecutionIdentifier(node_id=parent, execution_id=eid))
        with repository_errors():
            page = self.repo.list_node_executions(
                eid, parent_node_id=parent, top_level=parent is None, filters=request.filters,
                sort=sort_of(request.sort_by), limit=request.limit or 100, token=request.token,
            )
        return node_execution_pb2.NodeExecutionList(node_executions=[_node_proto(r) for r in page.rows], token=page.next_token)

    def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        """A node execution's inputs and outputs (and its dynamic workflow, if it made one)."""
        with repository_errors():
            row = self.repo.get_node_execution(self._node_id(request.id))
        response = data_response(self.store, node_execution_pb2.NodeExecutionGetDataResponse, row.input_uri, row.output_uri)
        if row.dynamic_workflow_uri:
            compiled = compiler_pb2.CompiledWorkflowClosure.FromString(self.store.read_bytes(row.dynamic_workflow_uri))
            response.dynamic_workflow.id.CopyFrom(compiled.primary.template.id)
            response.dynamic_workflow.compiled_workflow.CopyFrom(compiled)
        return response

    def get_task_execution(self, request: task_execution_pb2.TaskExecutionGetRequest) -> task_execution_pb2.TaskExecution:
        """One task attempt."""
        with repository_errors():
            return _task_proto(self.repo.get_task_execution(self._task_id(request.id)))

    def list_task_executions(self, request: task_execution_pb2.TaskExecutionListRequest) -> task_execution_pb2.TaskExecutionList:
        """The task attempts of a node execution, oldest first unless sorted otherwise."""
        nid = self._node_id(request.node_execution_id)
        with repository_errors():
            page = self.repo.list_task_executions(
                nid, filters=request.filters, sort=sort_of(request.sort_by), limit=request.limit or 100,
                token=request.token,
            )
        return task_execution_pb2.TaskExecutionList(task_executions=[_task_proto(r) for r in page.rows], token=page.next_token)

    def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        """A task attempt's inputs and outputs."""
        with repository_errors():
            row = self.repo.get_task_execution(self._task_id(request.id))
        return data_response(self.store, task_execution_pb2.TaskExecutionGetDataResponse, row.input_uri, row.output_uri)

    def _task_id(self, proto_id: Any) -> TaskExecutionIdentifier:
        check_identifier(proto_id.task_id, "task", domains=self.config.domains)
        return TaskExecutionIdentifier(
            task_id=entity_id(proto_id.task_id, ResourceType.TASK),
            node_execution_id=self._node_id(proto_id.node_execution_id),
            retry_attempt=proto_id.retry_attempt,
        )


_WF_NOT_STARTED = {WfPhase.UNDEFINED, WfPhase.QUEUED}


def _phase(enum_cls: Any, value: int, what: str) -> Any:
    try:
        phase = enum_cls(value)
    except ValueError:
        raise InvalidArgumentError(f"{what} event phase {value} is not a phase of flyteidl") from None
    if phase == enum_cls.UNDEFINED:
        raise InvalidArgumentError(f"{what} event has no phase")
    return phase


def _check_transition(what: str, current: Any, phase: Any, terminal: bool, *, started: bool) -> None:
    """The rules every kind of record shares (see the module docstring)."""
    if current == phase:
        raise AlreadyExistsError(f"{what}: phase {phase.name} was already recorded")
    if terminal:
        raise FailedPreconditionError(f"{what} already ended ({current.name}); the {phase.name} event was not recorded")
    if phase.name == "QUEUED" and started:
        raise FailedPreconditionError(f"{what} is {current.name}; it cannot go back to QUEUED")


def _occurred(event: Any) -> dt.datetime:
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    return m.utcnow()


def _times(closure: Any, started_at: dt.datetime | None, running: bool, terminal: bool, at: dt.datetime) -> dict[str, Any]:
    """started_at on the first RUNNING, the duration at the end (0 if it never ran)."""
    changes: dict[str, Any] = {}
    closure.updated_at.CopyFrom(timestamp(at))
    if running and started_at is None:
        started_at = changes["started_at"] = at
        closure.started_at.CopyFrom(timestamp(at))
    if terminal:
        duration = max(at - started_at, dt.timedelta(0)) if started_at is not None else dt.timedelta(0)
        changes["duration"] = duration.total_seconds()
        closure.duration.FromTimedelta(duration)
    return changes


def _bytes(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def _node_proto(row: m.NodeExecution) -> node_execution_pb2.NodeExecution:
    closure = node_execution_pb2.NodeExecutionClosure.FromString(row.closure)
    closure.phase = row.phase
    execution = {"project": row.execution_project, "domain": row.execution_domain, "name": row.execution_name}
    return node_execution_pb2.NodeExecution(
        id={"node_id": row.node_id, "execution_id": execution},
        input_uri=row.input_uri,
        closure=closure,
        metadata=node_execution_pb2.NodeExecutionMetaData(
            retry_group=row.retry_group or "", is_parent_node=row.is_parent, spec_node_id=row.spec_node_id,
            is_dynamic=row.is_dynamic, is_array=row.is_array,
        ),
    )


def _task_proto(row: m.TaskExecution) -> task_execution_pb2.TaskExecution:
    closure = task_execution_pb2.TaskExecutionClosure.FromString(row.closure)
    closure.phase = row.phase
    tid = TaskExecutionIdentifier(
        task_id=Identifier(
            resource_type=ResourceType.TASK, project=row.task_project, domain=row.task_domain,
            name=row.task_name, version=row.task_version,
        ),
        node_execution_id=NodeExecutionIdentifier(
            node_id=row.node_id,
            execution_id=WorkflowExecutionIdentifier(
                project=row.execution_project, domain=row.execution_domain, name=row.execution_name
            ),
        ),
        retry_attempt=row.retry_attempt,
    )
    return task_execution_pb2.TaskExecution(id=idl.to_idl(tid), input_uri=row.input_uri, closure=closure)
