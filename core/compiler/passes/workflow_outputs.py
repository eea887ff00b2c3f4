"""Pass 900: the workflow's outputs are bound, once each, to values of the right type.

The workflow's outputs are the inputs of its implicit end node: errors are reported at
``end-node``. As for node inputs, an Optional output may stay unbound.
"""

from __future__ import annotations

from flytecore.compiler.bindings import binding_problems
from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.typing import is_optional
from flytecore.spec.workflow import END_NODE_ID


@compiler_pass("workflow-outputs", order=900)
def check_workflow_outputs(ctx: CompileContext) -> None:
    """Every declared output is bound once to something castable; nothing else is bound."""
    declared = ctx.workflow.interface.outputs
    bound: set[str] = set()
    for binding in ctx.workflow.outputs:
        if binding.var in bound:
            ctx.error(
                ErrorCode.PARAMETER_BOUND_MORE_THAN_ONCE,
                END_NODE_ID,
                f"workflow output {binding.var!r} is bound more than once; keep one binding",
            )
            continue
        bound.add(binding.var)
        var = declared.get(binding.var)
        if var is None:
            ctx.error(
                ErrorCode.VARIABLE_NAME_NOT_FOUND,
                END_NODE_ID,
                f"the workflow binds output {binding.var!r}, which its interface does not declare "
                f"(outputs: {', '.join(declared) or 'none'}); declare it or remove the binding",
            )
            continue
        for code, message in binding_problems(
            ctx, binding.binding, var.type, f"workflow output {binding.var!r}"
        ):
            ctx.error(code, END_NODE_ID, message)
    for name, var in declared.items():
        if name not in bound and not (var.type is not None and is_optional(var.type)):
            ctx.error(
                ErrorCode.PARAMETER_NOT_BOUND,
                END_NODE_ID,
                f"workflow output {name!r} is not bound; bind it to a node's output or a workflow input",
            )
