"""Pass 700: the nodes form no cycle.

A topological sort finds the nodes on or behind a cycle; among those, strongly connected
components (found without recursion) are the cycles. Each component
with a cycle is reported once, naming one concrete cycle through it (starting at its node
declared first), so the report stays linear in nodes + edges however tangled the graph is.
"""

from __future__ import annotations

from collections.abc import Iterable

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.graph import find_cycle, strongly_connected_components, unsortable


@compiler_pass("cycles", order=700)
def check_cycles(ctx: CompileContext) -> None:
    """Report each group of nodes that depend on each other in a circle."""
    suspects = unsortable(ctx.downstream)
    if not suspects:
        return
    position = {key: i for i, key in enumerate(ctx.top_level)}
    last = len(position)  # end-node may be behind a cycle; it is never on one

    def successors(key: str) -> Iterable[str]:
        return [k for k in ctx.downstream.get(key, ()) if k in suspects]

    for component in strongly_connected_components(
        sorted(suspects, key=lambda k: position.get(k, last)), successors
    ):
        members = set(component)
        if len(component) == 1 and component[0] not in ctx.downstream.get(component[0], ()):
            continue
        ctx.cyclic |= members
        first = min(component, key=lambda k: position.get(k, last))
        cycle = find_cycle(first, members, successors)
        if len(cycle) == 2:
            message = f"node {first!r} depends on its own output"
        else:
            message = (
                f"nodes depend on each other in a cycle: {' -> '.join(cycle)}; a node cannot wait for "
                "its own output, directly or through others"
            )
        ctx.error(ErrorCode.CYCLE_DETECTED, first, message)
