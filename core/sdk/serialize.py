"""Turning SDK entities into spec entities: task templates, workflow templates and launch
plans, identified for a project, domain and version, and compiled into a closure."""

from __future__ import annotations

import os
from typing import Any

import attrs

from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import LaunchPlanTemplate, Node, WorkflowTemplate

DEFAULT_IMAGE = "flytecore:local"
"""The image recorded for tasks when none is given (the local backend runs without images)."""


@attrs.define(frozen=True, kw_only=True)
class SerializationSettings:
    """Where and as what entities are registered."""

    project: str = "flytesnacks"
    domain: str = "development"
    version: str = "local"
    image: str = attrs.field(factory=lambda: os.environ.get("FLYTECORE_DEFAULT_IMAGE", DEFAULT_IMAGE))
    env: dict[str, str] = attrs.field(factory=dict)
    code_uri: str | None = None
    """A ``.tar.gz`` of the user's code (fast registration): task containers download and
    import it (``flytecore-execute --code-uri``), so the image need not contain the code."""

    def identify(self, identifier: Identifier) -> Identifier:
        """``identifier`` with this project, domain and version where they are empty."""
        return attrs.evolve(
            identifier,
            project=identifier.project or self.project,
            domain=identifier.domain or self.domain,
            version=identifier.version or self.version,
        )

    def identify_node(self, node: Node) -> Node:
        """``node`` with every reference inside it identified (branch cases and sub-nodes too)."""
        changes: dict[str, Any] = {}
        if node.task_node is not None:
            changes["task_node"] = attrs.evolve(node.task_node, reference_id=self.identify(node.task_node.reference_id))
        if node.workflow_node is not None:
            wn = node.workflow_node
            changes["workflow_node"] = attrs.evolve(
                wn,
                launchplan_ref=self.identify(wn.launchplan_ref) if wn.launchplan_ref else None,
                sub_workflow_ref=self.identify(wn.sub_workflow_ref) if wn.sub_workflow_ref else None,
            )
        if node.branch_node is not None:
            block = node.branch_node.if_else
            block = attrs.evolve(
                block,
                case=attrs.evolve(block.case, then_node=self.identify_node(block.case.then_node)),
                other=tuple(attrs.evolve(c, then_node=self.identify_node(c.then_node)) for c in block.other),
                else_node=self.identify_node(block.else_node) if block.else_node else None,
            )
            changes["branch_node"] = attrs.evolve(node.branch_node, if_else=block)
        if node.array_node is not None:
            changes["array_node"] = attrs.evolve(node.array_node, node=self.identify_node(node.array_node.node))
        return attrs.evolve(node, **changes) if changes else node

    def entrypoint_args(self, task: Any) -> tuple[str, ...]:
        """The container arguments that run ``task`` (the ``flytecore-execute`` entrypoint, with
        Flyte's template variables filled in by the backend). The task's resolver (its
        ``task_resolver`` attribute, else :data:`flytecore.sdk.resolver.default`) says how the
        container finds the task again."""
        from flytecore.sdk import resolver as _resolver

        task_resolver = getattr(task, "task_resolver", None) or _resolver.default
        code = ("--code-uri", self.code_uri) if self.code_uri else ()
        return (
            "flytecore-execute",
            *code,
            "--inputs",
            "{{.input}}",
            "--output-prefix",
            "{{.outputPrefix}}",
            "--raw-output-data-prefix",
            "{{.rawOutputDataPrefix}}",
            "--checkpoint-path",
            "{{.checkpointOutputPrefix}}",
            "--prev-checkpoint",
            "{{.prevCheckpointPrefix}}",
            "--resolver",
            task_resolver.location,
            "--",
            *task_resolver.loader_args(task),
        )


@attrs.define
class EntityBundle:
    """A workflow template and everything it references, identified for registration."""

    settings: SerializationSettings
    workflow: WorkflowTemplate | None = None
    tasks: dict[str, TaskTemplate] = attrs.field(factory=dict)
    sub_workflows: dict[str, WorkflowTemplate] = attrs.field(factory=dict)
    launch_plans: dict[str, LaunchPlanTemplate] = attrs.field(factory=dict)
    launch_plan_entities: dict[str, Any] = attrs.field(factory=dict)

    def add_task(self, task: Any) -> None:
        """Add a task (once)."""
        if task.name not in self.tasks:
            self.tasks[task.name] = task.to_template(self.settings)

    def add_workflow(self, wf: Any, *, primary: bool = False) -> None:
        """Add a workflow and, recursively, what its nodes reference."""
        if not primary and wf.name in self.sub_workflows:
            return
        template = wf.to_template(self.settings)
        if primary:
            self.workflow = template
        else:
            self.sub_workflows[wf.name] = template
        for node in wf.trace().all_nodes():
            if node.entity is not None:
                node.entity.register_into(self)

    def add_launch_plan(self, lp: Any) -> None:
        """Add a launch plan node's template (its workflow is registered on its own)."""
        if lp.name not in self.launch_plans:
            self.launch_plans[lp.name] = lp.to_launch_plan_template(self.settings)
            self.launch_plan_entities[lp.name] = lp


def serialize_workflow(wf: Any, settings: SerializationSettings | None = None) -> EntityBundle:
    """A workflow and everything it references as spec entities."""
    bundle = EntityBundle(settings=settings or SerializationSettings())
    bundle.add_workflow(wf, primary=True)
    return bundle


def compile_entity(wf: Any, settings: SerializationSettings | None = None) -> CompiledWorkflowClosure:
    """Compile a workflow (or a launch plan's workflow) into a closure; raises
    :class:`flytecore.compiler.CompilationFailed` with every error."""
    from flytecore.compiler import compile_workflow

    wf = getattr(wf, "workflow", wf)
    bundle = serialize_workflow(wf, settings)
    assert bundle.workflow is not None
    return compile_workflow(
        bundle.workflow,
        tasks=list(bundle.tasks.values()),
        sub_workflows=list(bundle.sub_workflows.values()),
        launch_plans=list(bundle.launch_plans.values()),
    )
