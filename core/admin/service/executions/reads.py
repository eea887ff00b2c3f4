"""GetExecution, GetExecutionData and ListExecutions."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, execution_pb2

from flytecore.admin.db import models as m
from flytecore.admin.service.base import ServiceBase, sort_of
from flytecore.admin.service.errors import repository_errors
from flytecore.admin.service.executions.data import data_response, inline_literal_map
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.admin.service.validation import check_domain, check_execution_name, check_project_id
from flytecore.spec import idl
from flytecore.spec.identifiers import WorkflowExecutionIdentifier

__all__ = ["ExecutionReads"]


class ExecutionReads(ServiceBase):
    """The execution reads of AdminService."""

    def get_execution(self, request: execution_pb2.WorkflowExecutionGetRequest) -> execution_pb2.Execution:
        """One execution: its spec and its closure (phase, times, outputs or error)."""
        with repository_errors():
            return self._execution_proto(self.repo.execution_row(execution_id_of(request.id, self.config.domains)))

    def get_execution_data(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        """An execution's inputs (as run) and outputs, in full and as locations; inputs kept in
        the database (``inputs_data``) have no location."""
        eid = execution_id_of(request.id, self.config.domains)
        with repository_errors():
            row = self.repo.get_execution(eid)
        kept_inputs = inline_literal_map(row.inputs_data, f"inputs of execution {show_execution(eid)}")
        return data_response(
            self.store, execution_pb2.WorkflowExecutionGetDataResponse, row.inputs_uri, row.outputs_uri,
            inline_inputs=kept_inputs,
        )  # fmt: skip

    def list_executions(self, request: common_pb2.ResourceListRequest) -> execution_pb2.ExecutionList:
        """Executions of a project and domain (of one name if ``id.name`` is set), newest first
        unless sorted otherwise; filters as flytekit sends them (``eq(phase,SUCCEEDED)``)."""
        check_project_id(request.id.project, "id project")
        check_domain(request.id.domain, self.config.domains, "id domain")
        filters = request.filters
        if request.id.name:
            check_execution_name(request.id.name, "id name")
            filters = "+".join(f for f in (f"eq(name,{request.id.name})", filters) if f)
        with repository_errors():
            page = self.repo.list_executions(
                request.id.project, request.id.domain, filters=filters, sort=sort_of(request.sort_by),
                limit=request.limit or 100, token=request.token,
            )
        self._known_project_page(page, request.id.project)
        return execution_pb2.ExecutionList(executions=[self._execution_proto(r) for r in page.rows], token=page.next_token)

    def _execution_proto(self, row: m.Execution | Any) -> execution_pb2.Execution:
        """``row``: an ORM row or a :meth:`~flytecore.admin.db.Repository.row` tuple."""
        closure = execution_pb2.ExecutionClosure.FromString(row.closure)
        closure.phase = row.phase  # the column is what conditional updates guard
        return execution_pb2.Execution(
            id=idl.to_idl(WorkflowExecutionIdentifier(project=row.project, domain=row.domain, name=row.name)),
            spec=execution_pb2.ExecutionSpec.FromString(row.spec),
            closure=closure,
        )
