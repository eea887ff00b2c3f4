"""Branch nodes: evaluate the conditions once, then run the chosen case's node in its place.

The chosen node runs as a one-node scope keyed under the branch (``{branch}-0-{node}``); its
bindings may name any node of the workflow around the branch. Its outputs are the branch's
outputs. A branch whose conditions all fail takes the ``else`` node, or fails with the
``else_().fail(message)`` error, or with a message saying no case matched.
"""

from __future__ import annotations

from flytecore.propeller.bindings import BindingError, evaluate
from flytecore.propeller.context import NodeContext, Transition, user_error
from flytecore.propeller.executable import END_NODE_ID, START_NODE_ID, Executable
from flytecore.spec.phases import NodePhase
from flytecore.spec.workflow import Node, WorkflowTemplate

__all__ = ["BranchHandler"]


def _cases(node: Node) -> list[Node]:
    assert node.branch_node is not None
    block = node.branch_node.if_else
    found = [block.case.then_node, *(c.then_node for c in block.other)]
    if block.else_node is not None:
        found.append(block.else_node)
    return found


def _one_node(parent: str, node: Node) -> Executable:
    template = WorkflowTemplate(id=_placeholder_id(parent), nodes=(node,))
    return Executable(
        template,
        {node.id: node},
        {node.id: (START_NODE_ID,), END_NODE_ID: (node.id,)},
        {START_NODE_ID: (node.id,), node.id: (END_NODE_ID,)},
    )


def _placeholder_id(parent: str):  # type: ignore[no-untyped-def]
    from flytecore.spec.identifiers import Identifier, ResourceType

    return Identifier(resource_type=ResourceType.WORKFLOW, name=f"branch.{parent}")


class BranchHandler:
    """Runs branch nodes."""

    def _choose(self, ctx: NodeContext) -> Node | Transition:
        assert ctx.node.branch_node is not None
        block = ctx.node.branch_node.if_else
        try:
            for case in (block.case, *block.other):
                if evaluate(case.condition, ctx.inputs):
                    return case.then_node
        except BindingError as exc:
            return Transition.failed(user_error("BranchEvaluationFailed", f"branch {ctx.node.id}: {exc}"))
        if block.else_node is not None:
            return block.else_node
        if block.error is not None:
            return Transition.failed(user_error("UserProvidedError", block.error.message))
        return Transition.failed(user_error("NoBranchTaken", f"branch {ctx.node.id}: no condition matched and there is no else"))

    def _scope(self, ctx: NodeContext, taken: Node):  # type: ignore[no-untyped-def]
        from flytecore.propeller.engine import Scope

        memo = ctx.run.memo["branch"]
        executable = memo.get(ctx.key)
        if executable is None:
            executable = memo[ctx.key] = _one_node(ctx.key, taken)
        assert ctx.scope is not None
        outer = ctx.engine.outputs_lookup(ctx.run, ctx.scope)
        # The case node belongs to the workflow around the branch: its start node is that
        # workflow's (flytekit binds a case node to a workflow input by the input's own name,
        # while the branch node's inputs are its conditions' operands, named ``.x``).
        return Scope(executable, f"{ctx.key}-0-", ctx.key, ctx.scope.inputs, outer=outer)

    def handle(self, ctx: NodeContext) -> Transition:
        """Choose the case (first time) and walk its node."""
        status = ctx.status
        if status.branch_taken is None:
            chosen = self._choose(ctx)
            if isinstance(chosen, Transition):
                return chosen
            status.branch_taken = chosen.id
            ctx.touch()
        taken = next((n for n in _cases(ctx.node) if n.id == status.branch_taken), None)
        if taken is None:
            return Transition.failed(user_error("BranchNotFound", f"branch {ctx.node.id}: case {status.branch_taken} is gone"))
        result = ctx.engine.walk(ctx.run, self._scope(ctx, taken), ctx.now)
        if result.phase == NodePhase.SUCCEEDED:
            outputs = ctx.run.state.node(f"{ctx.key}-0-{taken.id}").outputs
            return Transition.succeeded(outputs)
        if result.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED):
            return Transition.failed(result.error or user_error("BranchFailed", f"branch {ctx.node.id} failed"))
        return Transition.running()

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Abort the chosen case's node."""
        taken = next((n for n in _cases(ctx.node) if n.id == ctx.status.branch_taken), None)
        if taken is not None:
            ctx.engine.abort_scope(ctx.run, self._scope(ctx, taken), cause, ctx.now)
