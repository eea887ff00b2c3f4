"""Identifiers of registered entities and of executions (flyteidl.core.identifier)."""

from __future__ import annotations

import enum

from flytecore.spec._base import model

__all__ = [
    "ResourceType",
    "Identifier",
    "WorkflowExecutionIdentifier",
    "NodeExecutionIdentifier",
    "TaskExecutionIdentifier",
]



class ResourceType(enum.IntEnum):
    """Kind of a registered entity."""

    UNSPECIFIED = 0
    TASK = 1
    WORKFLOW = 2
    LAUNCH_PLAN = 3
    DATASET = 4


@model
class Identifier:
    """Names one version of a task, workflow or launch plan."""

    resource_type: ResourceType = ResourceType.UNSPECIFIED
    project: str = ""
    domain: str = ""
    name: str = ""
    version: str = ""
    org: str = ""

    def __str__(self) -> str:
        return f"{self.resource_type.name.lower()}:{self.project}/{self.domain}/{self.name}@{self.version}"


@model
class WorkflowExecutionIdentifier:
    """Names one workflow execution; ``name`` is unique per project and domain."""

    project: str = ""
    domain: str = ""
    name: str = ""
    org: str = ""


@model
class NodeExecutionIdentifier:
    """Names one node of one execution."""

    node_id: str = ""
    execution_id: WorkflowExecutionIdentifier | None = None


@model
class TaskExecutionIdentifier:
    """Names one attempt of a task at one node."""

    task_id: Identifier | None = None
    node_execution_id: NodeExecutionIdentifier | None = None
    retry_attempt: int = 0
