"""Node and task execution reads: Get/List NodeExecution(s), Get/List TaskExecution(s) and their data."""

from __future__ import annotations

from typing import Any, TypeVar

from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2
from google.protobuf.message import Message

from flytecore.admin.db import models as m
from flytecore.admin.service.base import ServiceBase, sort_of
from flytecore.admin.service.errors import repository_errors
from flytecore.admin.service.executions.data import data_response, inline_literal_map
from flytecore.admin.service.executions.ids import execution_id_of, node_execution_id_of, task_execution_id_of
from flytecore.admin.service.validation import check_id_part
from flytecore.admin.storage import MetadataStore
from flytecore.spec import idl
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)

__all__ = ["NodeAndTaskExecutionReads"]

R = TypeVar("R", bound=Message)


class NodeAndTaskExecutionReads(ServiceBase):
    """The node and task execution reads of AdminService."""

    def get_node_execution(self, request: node_execution_pb2.NodeExecutionGetRequest) -> node_execution_pb2.NodeExecution:
        """One node execution."""
        with repository_errors():
            return _node_proto(self.repo.get_node_execution(node_execution_id_of(request.id, self.config.domains)))

    def list_node_executions(self, request: node_execution_pb2.NodeExecutionListRequest) -> node_execution_pb2.NodeExecutionList:
        """The top-level node executions of an execution, or with ``unique_parent_id`` the
        children of that node (inside a subworkflow, branch or dynamic node), as flytekit asks."""
        eid = execution_id_of(request.workflow_execution_id, self.config.domains)
        parent = request.unique_parent_id or None
        if parent is not None:
            check_id_part(parent, "unique_parent_id")
            with repository_errors():  # FlyteAdmin: an unknown parent is NOT_FOUND, not an empty list
                self.repo.get_node_execution(NodeExecutionIdentifier(node_id=parent, execution_id=eid))
        with repository_errors():
            page = self.repo.list_node_executions(
                eid, parent_node_id=parent, top_level=parent is None, filters=request.filters,
                sort=sort_of(request.sort_by), limit=request.limit or 100, token=request.token,
            )
        if not page.rows and parent is None:  # an unknown execution is NOT_FOUND, not an empty list
            with repository_errors():
                self.repo.get_execution(eid)
        return node_execution_pb2.NodeExecutionList(node_executions=[_node_proto(r) for r in page.rows], token=page.next_token)

    def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        """A node execution's inputs and outputs (and its dynamic workflow, if it made one)."""
        with repository_errors():
            row = self.repo.get_node_execution(node_execution_id_of(request.id, self.config.domains))
        closure = node_execution_pb2.NodeExecutionClosure.FromString(row.closure)
        what = f"node {row.node_id} of execution {_execution_of(row)}"
        response = _data_of(self.store, node_execution_pb2.NodeExecutionGetDataResponse, row, closure, what)
        if row.dynamic_workflow_uri:
            compiled = compiler_pb2.CompiledWorkflowClosure.FromString(self.store.read_bytes(row.dynamic_workflow_uri))
            response.dynamic_workflow.id.CopyFrom(compiled.primary.template.id)
            response.dynamic_workflow.compiled_workflow.CopyFrom(compiled)
        return response

    def get_task_execution(self, request: task_execution_pb2.TaskExecutionGetRequest) -> task_execution_pb2.TaskExecution:
        """One task attempt."""
        with repository_errors():
            return _task_proto(self.repo.get_task_execution(task_execution_id_of(request.id, self.config.domains)))

    def list_task_executions(self, request: task_execution_pb2.TaskExecutionListRequest) -> task_execution_pb2.TaskExecutionList:
        """The task attempts of a node execution, oldest first unless sorted otherwise."""
        nid = node_execution_id_of(request.node_execution_id, self.config.domains)
        with repository_errors():
            page = self.repo.list_task_executions(
                nid, filters=request.filters, sort=sort_of(request.sort_by), limit=request.limit or 100,
                token=request.token,
            )
        if not page.rows:  # an unknown node execution is NOT_FOUND, not an empty list
            with repository_errors():
                self.repo.get_node_execution(nid)
        return task_execution_pb2.TaskExecutionList(task_executions=[_task_proto(r) for r in page.rows], token=page.next_token)

    def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        """A task attempt's inputs and outputs."""
        with repository_errors():
            row = self.repo.get_task_execution(task_execution_id_of(request.id, self.config.domains))
        closure = task_execution_pb2.TaskExecutionClosure.FromString(row.closure)
        what = f"task {row.task_name} attempt {row.retry_attempt} of node {row.node_id} of execution {_execution_of(row)}"
        return _data_of(self.store, task_execution_pb2.TaskExecutionGetDataResponse, row, closure, what)


def _execution_of(row: m.NodeExecution | m.TaskExecution) -> str:
    return f"{row.execution_project}/{row.execution_domain}/{row.execution_name}"


def _data_of(store: MetadataStore, response: type[R], row: Any, closure: Any, what: str) -> R:
    """A node or task execution's Get*DataResponse: its inputs from ``input_uri`` or, kept in the
    database, its ``input_data`` column; its outputs from ``output_uri`` or its closure's
    ``output_data``."""
    inline_outputs = closure.output_data if closure.WhichOneof("output_result") == "output_data" else None
    return data_response(
        store, response, row.input_uri, row.output_uri,
        inline_inputs=inline_literal_map(row.input_data, f"inputs of {what}"), inline_outputs=inline_outputs,
    )  # fmt: skip


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
