"""The workflow object: one accepted execution as the engine receives it.

FlyteAdmin turns an accepted execution into a ``FlyteWorkflow`` custom resource that
FlytePropeller reconciles; here it is this model. It lives in the spec because it is the
contract between the two planes: the admin builds it (:mod:`flytecore.admin.service.launcher`),
the propeller stores and runs it, and neither imports the other.
"""

from __future__ import annotations

import datetime as dt

import attrs

from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier, NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.literals import LiteralMap

__all__ = ["WorkflowObject"]


def _frozen_dict(value: dict[str, str] | None) -> dict[str, str]:
    return dict(value or {})


@attrs.frozen(kw_only=True)
class WorkflowObject:
    """One execution as the engine receives it (FlyteAdmin's ``FlyteWorkflow`` resource).

    :ivar execution_id: the execution's id; the engine's events name it.
    :ivar closure: the compiled workflow closure: primary workflow, subworkflows, tasks and
        launch plans it references. None: only at ``closure_uri`` (the workflow store keeps the
        object without it, as FlyteAdmin offloads a ``FlyteWorkflow``'s closure); the propeller
        reads it from there.
    :ivar closure_uri: where that closure is stored (the workflow version's ``closure.pb``, a
        flyteidl ``CompiledWorkflowClosure``, which the admin wrote when it compiled the
        version); "" when the object carries it and nothing else has it.
    :ivar inputs: the inputs the execution runs with: the caller's, the launch plan's defaults
        and its fixed inputs, merged and checked against the interface. None: only at
        ``inputs_uri`` (the workflow store keeps the object without them: a wide map's lists
        would be stored, and parsed, twice); the propeller reads them from there.
    :ivar inputs_uri: where those inputs are stored (``inputs.pb``, a flyteidl ``LiteralMap``);
        "" when the admin kept small ones in its database: the object then carries them, and the
        workflow store keeps them with it.
    :ivar metadata_prefix: the execution's metadata folder; node inputs and outputs go below it
        (``{metadata_prefix}/nodes/{node_id}/…``, the layout of :mod:`flytecore.admin.storage`).
    :ivar raw_output_prefix: where the execution's tasks write raw data (files, dataframes).
    :ivar launch_plan_id: the launch plan the execution was started from.
    :ivar max_parallelism: how many nodes may run at once; 0 means no limit.
    :ivar interruptible: overrides the tasks' interruptible flag when set.
    :ivar overwrite_cache: run cached tasks again and replace their cached outputs.
    :ivar labels: labels for what the engine creates (Kubernetes objects in that mode).
    :ivar annotations: annotations for what the engine creates.
    :ivar parent_node_execution: for a child execution (a launch plan node), the node that
        launched it.
    :ivar accepted_at: when the admin accepted the request (for acceptance latency metrics).
    """

    execution_id: WorkflowExecutionIdentifier
    closure: CompiledWorkflowClosure | None
    inputs: LiteralMap | None
    inputs_uri: str
    metadata_prefix: str
    raw_output_prefix: str
    launch_plan_id: Identifier
    max_parallelism: int = 0
    interruptible: bool | None = None
    overwrite_cache: bool = False
    labels: dict[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    annotations: dict[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    parent_node_execution: NodeExecutionIdentifier | None = None
    accepted_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    closure_uri: str = ""

    def __attrs_post_init__(self) -> None:
        if self.closure is None and not self.closure_uri:
            raise ValueError(f"the workflow object of {self.execution_id.name} has neither a closure nor a closure_uri")
