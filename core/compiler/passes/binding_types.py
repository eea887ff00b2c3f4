"""Pass 400: every binding fits the type of the input it is bound to.

Literals are checked against the input's type (enum values included), lists and maps of
bindings item by item, promises by the type of the output (or workflow input) they refer to,
with :func:`flytecore.compiler.typing.is_castable`. Nodes that take whatever they are bound to
(branch nodes, approve gates) only have their promises checked for existing outputs. An array
node's sub-node is skipped: SDKs give it the array node's own bindings, which are lists.
"""

from __future__ import annotations

from flytecore.compiler.bindings import binding_problems
from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, takes_any_inputs


@compiler_pass("binding-types", order=400)
def check_binding_types(ctx: CompileContext) -> None:
    """Bound values and outputs are castable to the inputs they are bound to."""
    for key, entry in ctx.nodes.items():
        if entry.role == "array":
            continue
        node = entry.node
        any_inputs = takes_any_inputs(node)
        iface = ctx.interfaces.get(key)
        if iface is None and not any_inputs:
            continue  # its reference was not resolved: nothing to check against
        seen: set[str] = set()
        for binding in node.inputs:
            if binding.var in seen:
                continue  # bound twice: reported by the bound-inputs pass
            seen.add(binding.var)
            if any_inputs:
                expected = None
            else:
                assert iface is not None
                var = iface.inputs.get(binding.var)
                if var is None:
                    continue  # no such input: reported by the bound-inputs pass
                expected = var.type
            subject = f"input {binding.var!r} of {ctx.describe(key)}"
            for code, message in binding_problems(ctx, binding.binding, expected, subject):
                ctx.error(code, key, message)
