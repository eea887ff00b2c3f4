"""The launch plan of a task launched directly, made once the way FlyteAdmin makes it."""

from __future__ import annotations

import contextlib

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.service.errors import AlreadyExistsError, NotFoundError
from flytecore.admin.service.executions.ids import SINGLE_TASK_PREFIX, id_fields, single_task_node_id
from flytecore.admin.service.launch_plans import LaunchPlanService
from flytecore.admin.service.registration import _show, parse
from flytecore.spec import idl
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.literals import Binding, BindingData
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.types import OutputReference
from flytecore.spec.workflow import START_NODE_ID, Node, NodeMetadata, TaskNode, WorkflowTemplate

__all__ = ["SingleTaskLaunchPlans"]


class SingleTaskLaunchPlans(LaunchPlanService):
    """Makes (once) the workflow and launch plan a task launched directly runs as."""

    def _single_task_launch_plan(self, task_id: Identifier) -> m.LaunchPlan:
        """The launch plan of a task launched directly, made (once) like FlyteAdmin makes it: a
        workflow ``.flytegen.<task>`` of one node running the task, and its launch plan."""
        generated = Identifier(
            resource_type=ResourceType.LAUNCH_PLAN, project=task_id.project, domain=task_id.domain,
            name=SINGLE_TASK_PREFIX + task_id.name, version=task_id.version,
        )
        try:
            return self.repo.get_launch_plan(generated)
        except NotFound:
            pass
        try:
            task_row = self.repo.get_task(task_id)
        except NotFound:
            raise NotFoundError(f"task {_show(task_id)} is not registered") from None
        template = parse(task_pb2.TaskSpec.FromString(task_row.spec).template, TaskTemplate, "stored task")
        node_id = single_task_node_id(task_id.name)
        wf_id = Identifier(**{**id_fields(generated), "resource_type": ResourceType.WORKFLOW})
        workflow = WorkflowTemplate(
            id=wf_id,
            interface=template.interface,
            nodes=(
                Node(
                    id=node_id,
                    metadata=NodeMetadata(name=node_id, retries=template.metadata.retries),
                    inputs=tuple(_bind(name, START_NODE_ID) for name in template.interface.inputs),
                    task_node=TaskNode(reference_id=task_id),
                ),
            ),
            outputs=tuple(_bind(name, node_id) for name in template.interface.outputs),
        )
        # Registered through the ordinary calls, so it compiles and is stored like any other;
        # a concurrent launch of the same task may have registered it first.
        with contextlib.suppress(AlreadyExistsError):
            self.create_workflow(
                workflow_pb2.WorkflowCreateRequest(
                    id=idl.to_idl(wf_id), spec=workflow_pb2.WorkflowSpec(template=idl.to_idl(workflow))
                )
            )
        with contextlib.suppress(AlreadyExistsError):
            self.create_launch_plan(
                launch_plan_pb2.LaunchPlanCreateRequest(
                    id=idl.to_idl(generated), spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=idl.to_idl(wf_id))
                )
            )
        return self.repo.get_launch_plan(generated)


def _bind(var: str, node_id: str) -> Binding:
    return Binding(var=var, binding=BindingData(promise=OutputReference(node_id=node_id, var=var)))
