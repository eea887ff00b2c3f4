"""Child executions of launch plan nodes, created and read through the admin's API.

The same client as the event sink (the admin service in-process, or gRPC): ``create_execution``
with the parent node in the metadata (FlyteAdmin then records the nesting and hands the child
to the launcher like any execution), and ``get_execution`` for its phase, outputs and error.
The child's name is derived from the parent's and the node's, so a repeated launch (after a
restart) finds the same child instead of starting a second one.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from flyteidl.admin import execution_pb2

from flytecore.propeller.sink import status_name
from flytecore.spec import idl
from flytecore.spec.execution import ExecutionError
from flytecore.spec.identifiers import Identifier, NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import WorkflowExecutionPhase

if TYPE_CHECKING:
    from flytecore.propeller.engine import Run

__all__ = ["AdminChildExecutions", "child_name"]


def child_name(parent: WorkflowExecutionIdentifier, node_key: str) -> str:
    """A valid, stable execution name for the child of ``node_key`` (lowercase letters and
    digits, starting with a letter, 20 characters: Flyte's generated-name shape)."""
    digest = hashlib.sha256(f"{parent.project}/{parent.domain}/{parent.name}/{node_key}".encode()).hexdigest()
    return "c" + digest[:19]


class AdminChildExecutions:
    """Launch plan nodes' child executions through an admin client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def launch(self, parent: Run, node_key: str, launch_plan: Identifier, inputs: LiteralMap) -> WorkflowExecutionIdentifier:
        """Create the child (idempotently: an existing child of that name is the child)."""
        eid = parent.obj.execution_id
        name = child_name(eid, node_key)
        parent_node = NodeExecutionIdentifier(node_id=node_key, execution_id=eid)
        request = execution_pb2.ExecutionCreateRequest(
            project=eid.project,
            domain=eid.domain,
            name=name,
            spec=execution_pb2.ExecutionSpec(
                launch_plan=idl.to_idl(launch_plan),
                metadata=execution_pb2.ExecutionMetadata(
                    mode=execution_pb2.ExecutionMetadata.CHILD_WORKFLOW,
                    nesting=1,
                    parent_node_execution=idl.to_idl(parent_node),
                ),
            ),
            inputs=idl.to_idl(inputs),
        )
        try:
            self.client.create_execution(request)
        except Exception as exc:
            if status_name(exc) != "ALREADY_EXISTS":
                raise
        return WorkflowExecutionIdentifier(project=eid.project, domain=eid.domain, name=name)

    def status(
        self, execution_id: WorkflowExecutionIdentifier
    ) -> tuple[WorkflowExecutionPhase, LiteralMap | None, ExecutionError | None]:
        """The child's phase, with its outputs (from GetExecutionData) or error once it ended."""
        request = execution_pb2.WorkflowExecutionGetRequest(id=idl.to_idl(execution_id))
        execution = self.client.get_execution(request)
        phase = WorkflowExecutionPhase(execution.closure.phase)
        if phase == WorkflowExecutionPhase.SUCCEEDED:
            data = self.client.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=idl.to_idl(execution_id)))
            return phase, idl.from_idl(data.full_outputs, LiteralMap), None
        if phase.is_terminal and execution.closure.HasField("error"):
            return phase, None, idl.from_idl(execution.closure.error, ExecutionError)
        return phase, None, None

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        """Terminate the child (already finished is fine)."""
        request = execution_pb2.ExecutionTerminateRequest(id=idl.to_idl(execution_id), cause=cause)
        try:
            self.client.terminate_execution(request)
        except Exception as exc:
            if status_name(exc) not in ("FAILED_PRECONDITION", "NOT_FOUND"):
                raise
