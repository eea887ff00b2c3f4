"""Pass 100: interfaces are well formed.

Every variable of the workflow's interface, and of the tasks and launch plans its nodes refer
to, has a name that is an identifier (SDKs turn names into keyword arguments and attributes)
and a type.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, IdKey, id_key
from flytecore.compiler.errors import ErrorCode
from flytecore.spec.interface import TypedInterface
from flytecore.spec.workflow import END_NODE_ID, START_NODE_ID, Node


@compiler_pass("interfaces", order=100)
def check_interfaces(ctx: CompileContext) -> None:
    """Variable names are identifiers and every variable has a type."""
    check_interface(ctx, ctx.workflow.interface, f"workflow {ctx.workflow_id!r}", START_NODE_ID, END_NODE_ID)
    checked: set[tuple[str, IdKey]] = set()
    for key, entry in ctx.nodes.items():
        found = _referenced_interface(ctx, entry.node)
        if found is None:
            continue
        kind, ident, iface = found
        if (kind, ident) in checked:
            continue
        checked.add((kind, ident))
        check_interface(ctx, iface, f"{kind} {ident[2]!r}", key, key)


def check_interface(
    ctx: CompileContext, iface: TypedInterface, owner: str, in_node: str, out_node: str
) -> None:
    """Report malformed variables of ``iface``; ``owner`` names it in messages, errors about
    inputs go to node ``in_node`` and about outputs to ``out_node``."""
    for direction, variables, node_id in (
        ("input", iface.inputs, in_node),
        ("output", iface.outputs, out_node),
    ):
        for name, var in variables.items():
            if not isinstance(name, str) or not name.isidentifier():
                ctx.error(
                    ErrorCode.INVALID_VALUE,
                    node_id,
                    f"{owner} has an {direction} named {name!r}, which is not a valid identifier; "
                    "use letters, digits and underscores, not starting with a digit",
                )
            if var is None or getattr(var, "type", None) is None:
                ctx.error(ErrorCode.VALUE_REQUIRED, node_id, f"{direction} {name!r} of {owner} has no type")


def _referenced_interface(ctx: CompileContext, node: Node) -> tuple[str, IdKey, TypedInterface] | None:
    if node.task_node is not None:
        task = ctx.task(node.task_node.reference_id)
        return ("task", id_key(task.id), task.interface) if task is not None else None
    # A subworkflow's interface is checked when the subworkflow itself is compiled.
    wn = node.workflow_node
    if wn is not None and wn.launchplan_ref is not None:
        lp = ctx.launch_plan(wn.launchplan_ref)
        return ("launch plan", id_key(lp.id), lp.interface) if lp is not None else None
    return None
