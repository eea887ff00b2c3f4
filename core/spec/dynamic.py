"""What a ``@dynamic`` task produces at run time: a job of nodes for the propeller to run
(flyteidl.core.dynamic_job).

The task entrypoint writes a :class:`DynamicJobSpec` as ``futures.pb`` into the task's output
prefix instead of ``outputs.pb`` when a dynamic task's body called tasks, workflows or launch
plans. The propeller compiles it as a workflow under the dynamic task's interface
(:meth:`DynamicJobSpec.to_workflow_template`), runs its nodes, and resolves ``outputs`` into the
dynamic node's outputs.
"""

from __future__ import annotations

from flytecore.spec._base import model
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import TypedInterface
from flytecore.spec.literals import Binding
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import Node, WorkflowTemplate

__all__ = ["DynamicJobSpec"]


@model
class DynamicJobSpec:
    """The nodes a dynamic task's body created, how its outputs bind to them, and the templates
    of every task and subworkflow they reference (so the propeller needs no registry lookup).

    Node ids are prefixed (``dn0``, ``dn1``, ...) as flytekit does, so they never collide with
    the ids of the workflow the dynamic node runs in.
    """

    nodes: tuple[Node, ...] = ()
    min_successes: int = 0
    """How many nodes must succeed for the job to succeed (flytekit: all of them)."""
    outputs: tuple[Binding, ...] = ()
    tasks: tuple[TaskTemplate, ...] = ()
    subworkflows: tuple[WorkflowTemplate, ...] = ()

    def to_workflow_template(self, id: Identifier, interface: TypedInterface) -> WorkflowTemplate:
        """The workflow the propeller compiles and runs for this job: its nodes and output
        bindings under ``interface`` (the dynamic task's), identified as ``id``."""
        return WorkflowTemplate(id=id, interface=interface, nodes=self.nodes, outputs=self.outputs)
