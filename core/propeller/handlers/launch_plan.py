"""Launch plan nodes: a child execution through the admin, followed until it ends.

Unlike a subworkflow, a launch plan node starts an execution of its own (FlyteAdmin's
CreateExecution with the node as parent), so it shows as a separate execution with its own
inputs, outputs and node table. The child's id is kept in the node status; the child's end
wakes the parent (the propeller does that when it finishes an execution with a parent node).
"""

from __future__ import annotations

from flytecore.propeller.context import NodeContext, Transition, system_error, user_error
from flytecore.propeller.sink import status_name
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.phases import WorkflowExecutionPhase

__all__ = ["LaunchPlanHandler"]

_ANNOUNCED = "announced"
_REFUSALS = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "PERMISSION_DENIED", "UNAUTHENTICATED"}

POLL_SECONDS = 5.0
"""How often a child is looked at if its end did not wake the parent (a missed wake-up)."""


class LaunchPlanHandler:
    """Runs launch plan nodes."""

    def _child(self, ctx: NodeContext) -> WorkflowExecutionIdentifier:
        eid = ctx.run.obj.execution_id
        return WorkflowExecutionIdentifier(project=eid.project, domain=eid.domain, name=ctx.status.child_execution or "")

    def handle(self, ctx: NodeContext) -> Transition:
        """Launch the child on the first call; then report its phase."""
        children = ctx.engine.services.children
        if children is None:
            return Transition.failed(
                system_error("LaunchPlanUnsupported", f"node {ctx.node.id}: this propeller has no admin to launch child executions")
            )
        assert ctx.node.workflow_node is not None and ctx.node.workflow_node.launchplan_ref is not None
        if ctx.status.child_execution is None:
            if not ctx.status.plugin_state.get(_ANNOUNCED):
                # The admin records the child's parent node, so that node's QUEUED event must
                # reach it first: it is delivered after this round, the launch is the next one's.
                ctx.status.plugin_state[_ANNOUNCED] = True
                ctx.touch()
                return Transition.running(wake_at=ctx.now, message="launching the child execution")
            try:
                child = children.launch(ctx.run, ctx.key, ctx.node.workflow_node.launchplan_ref, ctx.inputs)
            except Exception as exc:
                if status_name(exc) in _REFUSALS:  # bad inputs, a missing launch plan: for good
                    return Transition.failed(user_error("ChildLaunchFailed", f"node {ctx.node.id}: {exc}"))
                # The admin is unreachable, or has not seen the parent node's event yet.
                return Transition.running(wake_at=ctx.now + 1.0, message=f"launching the child execution: {exc}")
            ctx.status.child_execution = child.name
            ctx.touch()
        phase, outputs, error = children.status(self._child(ctx))
        if phase == WorkflowExecutionPhase.SUCCEEDED:
            return Transition.succeeded(outputs)
        if phase.is_terminal:
            return Transition.failed(
                error or user_error("ChildExecutionFailed", f"child execution {ctx.status.child_execution} ended {phase.name}")
            )
        return Transition.running(wake_at=ctx.now + POLL_SECONDS, message=f"child execution {ctx.status.child_execution}")

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Abort the child execution."""
        children = ctx.engine.services.children
        if children is not None and ctx.status.child_execution:
            children.abort(self._child(ctx), cause)
