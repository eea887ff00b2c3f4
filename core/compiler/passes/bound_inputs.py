"""Pass 500: every input is bound exactly once, and only inputs that exist are bound.

As in Flyte, an input whose type is Optional (a union with ``None``) may stay unbound; task
interfaces carry no defaults, so every other input must be bound. A launch plan node's inputs
are the launch plan's inputs without the fixed ones, which cannot be bound.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, NodeEntry, takes_any_inputs
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.typing import is_optional
from flytecore.spec.interface import TypedInterface


@compiler_pass("bound-inputs", order=500)
def check_bound_inputs(ctx: CompileContext) -> None:
    """No input bound twice, no binding to a missing input, no required input unbound."""
    for key, entry in ctx.nodes.items():
        if entry.role == "array":
            continue  # its bindings are the array node's, checked there
        iface = ctx.interfaces.get(key)
        any_inputs = takes_any_inputs(entry.node)
        if iface is None and not any_inputs:
            continue
        what = ctx.describe(key)
        bound: set[str] = set()
        for binding in entry.node.inputs:
            if binding.var in bound:
                ctx.error(
                    ErrorCode.PARAMETER_BOUND_MORE_THAN_ONCE,
                    key,
                    f"input {binding.var!r} of {what} is bound more than once; keep one binding",
                )
            elif iface is not None and not any_inputs and binding.var not in iface.inputs:
                ctx.error(
                    ErrorCode.VARIABLE_NAME_NOT_FOUND, key, _unknown_input(ctx, entry, iface, binding.var)
                )
            bound.add(binding.var)
        if iface is None or any_inputs:
            continue
        for name, var in iface.inputs.items():
            if name not in bound and not (var.type is not None and is_optional(var.type)):
                ctx.error(
                    ErrorCode.PARAMETER_NOT_BOUND,
                    key,
                    f"input {name!r} of {what} is not bound; bind it to a workflow input, another node's "
                    "output or a value",
                )


def _unknown_input(ctx: CompileContext, entry: NodeEntry, iface: TypedInterface, var: str) -> str:
    what = ctx.describe(entry.key)
    wn = entry.node.workflow_node
    if wn is not None and wn.launchplan_ref is not None:
        lp = ctx.launch_plan(wn.launchplan_ref)
        if lp is not None and var in lp.fixed_inputs.literals:
            return (
                f"input {var!r} of {what} is fixed by the launch plan and cannot be bound; remove the binding"
            )
    names = ", ".join(iface.inputs) or "none"
    return f"{what} has no input {var!r} (inputs: {names}); remove the binding or fix its name"
