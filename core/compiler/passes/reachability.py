"""Pass 800: every node can be reached from the start node.

As in Flyte, a node without upstream edges hangs from ``start-node``, so a node is unreachable
only when everything it waits for can never run (it lies behind a cycle). Nodes on a cycle are
reported by the cycle pass, not again here.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.graph import reachable
from flytecore.spec.workflow import START_NODE_ID


@compiler_pass("reachability", order=800)
def check_reachability(ctx: CompileContext) -> None:
    """Report top-level nodes that no path from the start node leads to."""
    seen = reachable(START_NODE_ID, ctx.downstream)
    lost = [key for key in ctx.top_level if key not in seen and key not in ctx.cyclic]
    if lost:
        names = ", ".join(repr(k) for k in lost)
        ctx.error(
            ErrorCode.UNREACHABLE_NODES,
            lost[0],
            f"no path from the start node reaches node{'s' * (len(lost) > 1)} {names}: "
            f"{'they depend' if len(lost) > 1 else 'it depends'} on nodes that can never run",
        )
