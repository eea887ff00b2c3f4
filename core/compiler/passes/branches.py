"""Pass 600: branch nodes are complete and their cases agree.

Every case has a condition and a node to run; there is an else node or an else error (Flyte
refuses a branch that could end with no case chosen); conditions read only variables bound to
the branch node; an output every case produces has the same type in every case. Outputs that
only some cases produce are not outputs of the branch: binding to one is reported by the
binding-types pass, naming the cases that lack it.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, NodeEntry, children
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.typing import is_castable
from flytecore.spec.workflow import BooleanExpression, IfBlock


@compiler_pass("branches", order=600)
def check_branches(ctx: CompileContext) -> None:
    """Branch cases have conditions and nodes, an else exists, case outputs agree in type."""
    for entry in ctx.nodes.values():
        if entry.node.branch_node is not None:
            _check_branch(ctx, entry)
            _check_case_outputs(ctx, entry)


def _check_branch(ctx: CompileContext, entry: NodeEntry) -> None:
    key = entry.key
    if_else = entry.node.branch_node.if_else  # type: ignore[union-attr]
    if if_else is None:
        ctx.error(ErrorCode.BRANCH_NODE_HAS_NO_CONDITION, key, f"branch node {key!r} has no cases")
        return
    bound = {b.var for b in entry.node.inputs}
    blocks: list[tuple[str, IfBlock | None]] = [("the if case", if_else.case)]
    blocks += [(f"elif case {i}", block) for i, block in enumerate(if_else.other, start=1)]
    for label, block in blocks:
        if block is None or block.condition is None:
            ctx.error(
                ErrorCode.BRANCH_NODE_HAS_NO_CONDITION,
                key,
                f"{label} of branch node {key!r} has no condition",
            )
        else:
            for var in _variables(block.condition):
                if var not in bound:
                    ctx.error(
                        ErrorCode.VARIABLE_NAME_NOT_FOUND,
                        key,
                        f"the condition of {label} of branch node {key!r} reads {var!r}, which is not bound "
                        "to the branch node; add a binding for it to the node's inputs",
                    )
        if block is not None and block.then_node is None:
            ctx.error(
                ErrorCode.BRANCH_NODE_ID_NOT_FOUND, key, f"{label} of branch node {key!r} has no node to run"
            )
    if if_else.else_node is None and if_else.error is None:
        ctx.error(
            ErrorCode.BRANCH_NODE_HAS_NO_DEFAULT,
            key,
            f"branch node {key!r} has no else: add an else node, or an else error (fail) for when no condition holds",
        )


def _variables(expr: BooleanExpression) -> list[str]:
    """Variables a condition reads, left to right (iterative: conjunctions may nest deeply)."""
    found: list[str] = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if e is None:
            continue
        if e.comparison is not None:
            for operand in (e.comparison.left_value, e.comparison.right_value):
                if operand is not None and operand.var is not None and operand.var not in found:
                    found.append(operand.var)
        elif e.conjunction is not None:
            stack += [e.conjunction.right_expression, e.conjunction.left_expression]
    return found


def _check_case_outputs(ctx: CompileContext, entry: NodeEntry) -> None:
    iface = ctx.interfaces.get(entry.key)
    if iface is None:
        return
    # Messages name a case by its own id: "case node 'n0'" of "branch node 'n3'".
    cases = [(c.node.id, ctx.interfaces[c.key]) for c in children(entry) if c.key in ctx.interfaces]
    if len(cases) < 2:
        return
    (first_key, first), *others = cases
    for name in iface.outputs:
        want = first.outputs[name].type
        for case_key, case in others:
            got = case.outputs[name].type
            if want is None or got is None or (is_castable(got, want) and is_castable(want, got)):
                continue
            ctx.error(
                ErrorCode.MISMATCHING_TYPES,
                entry.key,
                f"output {name!r} of branch node {entry.key!r} is {want.short()} in case node {first_key!r} "
                f"but {got.short()} in case node {case_key!r}; every case must produce the same type",
            )
