"""The compiler's output: compiled workflows and the closure admin stores
(flyteidl.core.compiler)."""

from __future__ import annotations

import attrs

from flytecore.spec._base import model
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import LaunchPlanTemplate, WorkflowTemplate

__all__ = [
    "ConnectionSet",
    "CompiledWorkflow",
    "CompiledTask",
    "CompiledLaunchPlan",
    "CompiledWorkflowClosure",
]



@model
class ConnectionSet:
    """The DAG's edges: node id -> ids downstream of it, and node id -> ids upstream of it."""

    downstream: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    upstream: dict[str, tuple[str, ...]] = attrs.field(factory=dict)


@model
class CompiledWorkflow:
    """A validated workflow template with its edges."""

    template: WorkflowTemplate
    connections: ConnectionSet = ConnectionSet()


@model
class CompiledTask:
    """A task referenced by a compiled workflow."""

    template: TaskTemplate


@model
class CompiledLaunchPlan:
    """A launch plan referenced by a compiled workflow."""

    template: LaunchPlanTemplate


@model
class CompiledWorkflowClosure:
    """Everything needed to run a workflow: the primary workflow, its subworkflows, tasks and
    launch plans. Admin writes it to metadata storage; the propeller runs it."""

    primary: CompiledWorkflow
    sub_workflows: tuple[CompiledWorkflow, ...] = ()
    tasks: tuple[CompiledTask, ...] = ()
    launch_plans: tuple[CompiledLaunchPlan, ...] = ()
