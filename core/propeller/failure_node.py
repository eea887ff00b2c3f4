"""The inputs of a workflow's failure node (its on-failure handler, flytekit's ``fn0``).

The failure node is bound to the workflow's inputs like any node. Its ``err`` input is filled
by the propeller with the workflow's error, as FlytePropeller's ``ResolveOnFailureNodeInput``
does: ``Scalar(error=Error(failed_node_id, message))``, wrapped in a union value when ``err``
is declared as ``Optional[FlyteError]``. An ``err`` already bound (flytekit binds it to its
default ``None``) is replaced.
"""

from __future__ import annotations

import attrs

from flytecore.propeller.executable import Closure
from flytecore.spec.literals import Binding, BindingData, Literal, Scalar
from flytecore.spec.literals import Union as UnionValue
from flytecore.spec.types import Error, LiteralType, SimpleType
from flytecore.spec.workflow import Node

__all__ = ["ERROR_INPUT", "error_input_type", "error_scalar", "with_error_input"]

ERROR_INPUT = "err"
"""The failure node input that receives the workflow's error (flytekit's name)."""


def error_input_type(closure: Closure, node: Node) -> LiteralType | None:
    """The declared type of the node's ``err`` input (of its task, subworkflow or launch plan),
    or None when it has none or its target is not in the closure."""
    try:
        if node.task_node is not None:
            inputs = closure.task(node.task_node.reference_id).interface.inputs
        elif node.workflow_node is not None and node.workflow_node.sub_workflow_ref is not None:
            inputs = closure.workflow(node.workflow_node.sub_workflow_ref).template.interface.inputs
        elif node.workflow_node is not None and node.workflow_node.launchplan_ref is not None:
            lp = closure.launch_plan(node.workflow_node.launchplan_ref)
            if lp is None:
                return None
            inputs = lp.interface.inputs
        else:
            return None
    except KeyError:
        return None  # the node's handler reports the missing target when it runs
    var = inputs.get(ERROR_INPUT)
    return var.type if var is not None else None


def error_scalar(declared: LiteralType, failed_node_id: str, message: str) -> Scalar | None:
    """The error as a value of the ``declared`` type of ``err``: the error itself for ``ERROR``,
    a union value of the ``ERROR`` variant for a union (``Optional[FlyteError]``); None when the
    type takes no error (then the input is left as it is bound)."""
    error = Scalar(error=Error(failed_node_id=failed_node_id, message=message))
    if declared.simple == SimpleType.ERROR:
        return error
    if declared.union_type is not None:
        for variant in declared.union_type.variants:
            if variant.simple == SimpleType.ERROR:
                return Scalar(union=UnionValue(value=Literal(scalar=error), type=variant))
    return None


def with_error_input(node: Node, declared: LiteralType | None, failed_node_id: str, message: str) -> Node:
    """``node`` with ``err`` bound to the error, if the node declares an ``err`` input (of type
    ``declared``) that takes one; else ``node`` unchanged."""
    scalar = error_scalar(declared, failed_node_id, message) if declared is not None else None
    if scalar is None:
        return node
    bindings = tuple(b for b in node.inputs if b.var != ERROR_INPUT)
    return attrs.evolve(
        node, inputs=(*bindings, Binding(var=ERROR_INPUT, binding=BindingData(scalar=scalar)))
    )
