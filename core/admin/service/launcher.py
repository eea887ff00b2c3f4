"""The launch hook: how the admin hands an accepted execution to whatever runs it.

Why a protocol this narrow
--------------------------
``admin`` and ``propeller`` never import each other (DESIGN.md, "Which part may import
which"): the admin hands an execution over through this hook, and the engine reports back
through the admin's API as events (an in-process call in the sandbox, gRPC otherwise). So the
hook carries plain spec models and nothing of the admin (no repository, no storage object, no
protobufs), and it has two calls only:

- :meth:`Launcher.launch` receives a :class:`WorkflowObject` — everything the engine needs to
  run the execution without asking the admin anything: the compiled closure, the merged inputs,
  where to write metadata and raw data, and the run options. It is FlyteAdmin's
  ``WorkflowExecutor.Execute`` (which creates a ``FlyteWorkflow`` custom resource); in local mode
  the engine stores it as a row of its workflow store.
- :meth:`Launcher.abort` asks the engine to stop an execution; the engine confirms by sending
  the ABORTED workflow event, as FlytePropeller does after FlyteAdmin's ``Abort``.

The sandbox (the CLI) wires the propeller in as the launcher. An admin built without one records
executions as QUEUED and leaves them waiting (``launched`` stays False) for an engine to be wired.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import attrs

from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier, NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.literals import LiteralMap

__all__ = ["Launcher", "WorkflowObject"]


def _frozen_dict(value: dict[str, str] | None) -> dict[str, str]:
    return dict(value or {})


@attrs.frozen(kw_only=True)
class WorkflowObject:
    """One execution as the engine receives it (FlyteAdmin's ``FlyteWorkflow`` resource).

    :ivar execution_id: the execution's id; the engine's events name it.
    :ivar closure: the compiled workflow closure: primary workflow, subworkflows, tasks and
        launch plans it references.
    :ivar inputs: the inputs the execution runs with: the caller's, the launch plan's defaults
        and its fixed inputs, merged and checked against the interface.
    :ivar inputs_uri: where those inputs are stored (``inputs.pb``, a flyteidl ``LiteralMap``).
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
    closure: CompiledWorkflowClosure
    inputs: LiteralMap
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


@runtime_checkable
class Launcher(Protocol):
    """What runs executions for the admin (the propeller in the sandbox)."""

    def launch(self, obj: WorkflowObject) -> None:
        """Accept an execution. Return once the engine holds it durably; raise if it cannot
        (the admin then records the execution as FAILED with the error, as FlyteAdmin does).
        Must be idempotent per execution id: a retried hand-over must not run it twice."""

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        """Stop an execution. The engine confirms with an ABORTED workflow event; an execution
        it does not know (finished, or never launched) is not an error."""
