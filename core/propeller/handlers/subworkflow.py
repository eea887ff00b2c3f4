"""Subworkflow nodes: the referenced workflow runs nested, its nodes keyed under the node. When
it fails, its on-failure node (if it has one) runs before the node fails."""

from __future__ import annotations

from flytecore.propeller.context import NodeContext, Transition, system_error, user_error
from flytecore.spec.phases import NodePhase

__all__ = ["SubworkflowHandler"]


class SubworkflowHandler:
    """Walks the subworkflow as a scope of the same execution (FlytePropeller does the same:
    a subworkflow is not a separate execution, unlike a launch plan)."""

    def _scope(self, ctx: NodeContext):  # type: ignore[no-untyped-def]
        from flytecore.propeller.engine import Scope

        assert ctx.node.workflow_node is not None and ctx.node.workflow_node.sub_workflow_ref is not None
        executable = ctx.run.closure.workflow(ctx.node.workflow_node.sub_workflow_ref)
        return Scope(executable, f"{ctx.key}-{ctx.status.retry_attempt}-", ctx.key, ctx.inputs)

    def handle(self, ctx: NodeContext) -> Transition:
        """Walk the subworkflow once."""
        try:
            scope = self._scope(ctx)
        except KeyError as exc:
            return Transition.failed(system_error("SubworkflowNotFound", f"node {ctx.node.id}: {exc.args[0]}"))
        result = ctx.engine.walk(ctx.run, scope, ctx.now)
        if result.phase == NodePhase.SUCCEEDED:
            return Transition.succeeded(result.outputs)
        if result.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED):
            error = result.error or user_error("SubworkflowFailed", f"subworkflow of node {ctx.node.id} failed")
            # Its on-failure node runs first; the node fails with the subworkflow's error.
            if not ctx.engine.failure_node_done(ctx.run, scope, ctx.now, error, result.failed_node):
                return Transition.running()
            return Transition.failed(error)
        return Transition.running()

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Abort the subworkflow's running nodes."""
        try:
            scope = self._scope(ctx)
        except KeyError:
            return
        ctx.engine.abort_scope(ctx.run, scope, cause, ctx.now)
        ctx.engine.abort_failure_node(ctx.run, scope, cause, ctx.now)
