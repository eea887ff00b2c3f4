"""Pass 500: every input is bound exactly once, and only inputs that exist are bound.

As in Flyte, an input whose type is Optional (a union with ``None``) may stay unbound; task
interfaces carry no defaults, so every other input must be bound. A launch plan node's inputs
are the launch plan's inputs without the fixed ones, which cannot be bound. The failure node's
``err`` input may stay unbound when it takes an error (``ERROR``, or a union with an ``ERROR``
variant): the propeller fills it with the workflow's error.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, NodeEntry, takes_any_inputs
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.typing import is_optional, takes_error
from flytecore.spec.interface import TypedInterface

FAILURE_ERROR_INPUT = "err"
"""The failure node input the propeller fills with the workflow's error (flytekit's name)."""


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
        filled = _filled_by_propeller(ctx, entry, iface)
        for name, var in iface.inputs.items():
            if name in filled:
                continue
            if name not in bound and not (var.type is not None and is_optional(var.type)):
                ctx.error(
                    ErrorCode.PARAMETER_NOT_BOUND,
                    key,
                    f"input {name!r} of {what} is not bound; bind it to a workflow input, another node's "
                    "output or a value",
                )


def _filled_by_propeller(ctx: CompileContext, entry: NodeEntry, iface: TypedInterface) -> set[str]:
    """Inputs the propeller fills itself: the failure node's ``err``, if it takes an error."""
    if entry.role != "failure":
        return set()
    var = iface.inputs.get(FAILURE_ERROR_INPUT)
    return {FAILURE_ERROR_INPUT} if var is not None and var.type is not None and takes_error(var.type) else set()


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
