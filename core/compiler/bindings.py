"""Checking what an input (or a workflow output) is bound to against the type it expects.

A binding is a literal, a list or map of bindings, or a promise (another node's output, or a
workflow input). Checks return problems as ``(code, message)`` pairs instead of reporting them,
so that a union input can try its variants quietly before one error is reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from flytecore.compiler.context import CompileContext, children, is_workflow_input
from flytecore.compiler.errors import ErrorCode
from flytecore.compiler.typing import NONE_TYPE, is_castable, literal_type_of_scalar
from flytecore.spec.literals import BindingData, Scalar
from flytecore.spec.types import LiteralType, OutputReference

__all__ = ["Problem", "binding_problems", "binding_type", "resolve_promise"]

Problem = tuple[str, str]
"""``(error code, message)``."""


def binding_problems(
    ctx: CompileContext, data: BindingData | None, expected: LiteralType | None, subject: str
) -> list[Problem]:
    """Problems of binding ``data`` where ``expected`` is wanted; ``subject`` names the slot in
    messages (``"input 'x' of task 'my.t'"``). ``expected=None`` checks only that promises
    refer to outputs that exist (for nodes whose inputs take whatever they are bound to)."""
    if data is None:
        return [(ErrorCode.VALUE_REQUIRED, f"{subject} has a binding without a value")]
    if expected is None:
        return _reference_problems(ctx, data, subject)
    if expected.union_type is not None and (data.collection is not None or data.map is not None):
        return _union_problems(ctx, data, expected, subject)
    if data.scalar is not None:
        return _scalar_problems(data.scalar, expected, subject)
    if data.collection is not None:
        if expected.collection_type is None:
            return [_mismatching_bindings(expected, "list", len(data.collection), subject)]
        problems: list[Problem] = []
        for i, item in enumerate(data.collection):
            problems += binding_problems(ctx, item, expected.collection_type, f"{subject} (item {i})")
        return problems
    if data.map is not None:
        if expected.map_value_type is None:
            return [_mismatching_bindings(expected, "map", len(data.map), subject)]
        problems = []
        for key, item in data.map.items():
            problems += binding_problems(ctx, item, expected.map_value_type, f"{subject} (key {key!r})")
        return problems
    if data.promise is not None:
        found, upstream, problem = resolve_promise(ctx, data.promise, subject)
        if problem is not None:
            return [problem]
        if found and upstream is not None and not is_castable(upstream, expected):
            return [
                (
                    ErrorCode.MISMATCHING_TYPES,
                    f"{subject} expects {expected.short()} but is bound to {_source(data.promise)} "
                    f"of type {upstream.short()}",
                )
            ]
    return []


def binding_type(ctx: CompileContext, data: BindingData | None) -> LiteralType | None:
    """The type of what ``data`` holds or refers to, or None when it cannot be known (a promise
    to an unresolved node, an attribute path into a dataclass, an encoded binary)."""
    if data is None:
        return None
    if data.scalar is not None:
        return literal_type_of_scalar(data.scalar)
    if data.promise is not None:
        found, t, _problem = resolve_promise(ctx, data.promise, "")
        return t if found else None
    items = list(data.collection) if data.collection is not None else list((data.map or {}).values())
    element: LiteralType | None = NONE_TYPE
    if items:
        element = binding_type(ctx, items[0])
        if element is None:
            return None
    return (
        LiteralType(collection_type=element)
        if data.collection is not None
        else LiteralType(map_value_type=element)
    )


def resolve_promise(
    ctx: CompileContext, ref: OutputReference, subject: str
) -> tuple[bool, LiteralType | None, Problem | None]:
    """Look up the output a promise refers to: ``(found, type, problem)``.

    ``found`` is False when the referenced node or its interface is unknown (already reported
    by another pass, or a node nested in a branch or array node, which is reported by the node
    id pass); ``type`` is None when an attribute path leads into a type the compiler cannot
    see into; ``problem`` is set when the node has no such output.
    """
    if not is_workflow_input(ref.node_id):
        entry = ctx.nodes.get(ref.node_id)
        if entry is None or entry.role != "node":
            return False, None, None
    outputs = ctx.outputs_of(ref.node_id)
    if outputs is None:
        return False, None, None
    var = outputs.get(ref.var)
    if var is None:
        return True, None, (ErrorCode.VARIABLE_NAME_NOT_FOUND, _missing_output(ctx, ref, outputs, subject))
    t: LiteralType | None = var.type
    for _step in ref.attr_path:
        if t is None:
            break
        # Lists and maps say what their elements are; a dataclass's fields are not in its
        # literal type, so the type behind an attribute is unknown and the runtime checks it.
        t = t.collection_type or t.map_value_type
    return True, t, None


def _reference_problems(ctx: CompileContext, data: BindingData, subject: str) -> list[Problem]:
    problems: list[Problem] = []
    for ref in data.promises():
        _found, _t, problem = resolve_promise(ctx, ref, subject)
        if problem is not None:
            problems.append(problem)
    return problems


def _union_problems(
    ctx: CompileContext, data: BindingData, expected: LiteralType, subject: str
) -> list[Problem]:
    assert expected.union_type is not None
    kind = "list" if data.collection is not None else "map"
    fits = [v for v in expected.union_type.variants if not binding_problems(ctx, data, v, subject)]
    if len(fits) == 1:
        return []
    if not fits:
        return [
            (
                ErrorCode.INCOMPATIBLE_BINDING_UNION_VALUE,
                f"{subject} expects {expected.short()} but is bound to a {kind} that fits none of its variants",
            )
        ]
    return [
        (
            ErrorCode.AMBIGUOUS_BINDING_UNION_VALUE,
            f"{subject} expects {expected.short()} but is bound to a {kind} that fits more than one of its "
            f"variants ({fits[0].short()} and {fits[1].short()}); bind a typed value (e.g. a task's output) instead",
        )
    ]


def _scalar_problems(scalar: Scalar, expected: LiteralType, subject: str) -> list[Problem]:
    t = literal_type_of_scalar(scalar)
    if t is None:
        return []
    value = scalar.primitive.value if scalar.primitive is not None else None
    shown = f"the {t.short()} value {value!r}" if value is not None else f"a {t.short()} value"
    if not is_castable(t, expected):
        return [
            (ErrorCode.MISMATCHING_TYPES, f"{subject} expects {expected.short()} but is bound to {shown}")
        ]
    if expected.enum_type is not None and isinstance(value, str) and value not in expected.enum_type.values:
        allowed = ", ".join(repr(v) for v in expected.enum_type.values)
        return [
            (ErrorCode.ILLEGAL_ENUM_VALUE, f"{subject} expects one of {allowed} but is bound to {value!r}")
        ]
    return []


def _mismatching_bindings(expected: LiteralType, kind: str, size: int, subject: str) -> Problem:
    return (
        ErrorCode.MISMATCHING_BINDINGS,
        f"{subject} expects {expected.short()} but is bound to a {kind} of {size} binding{'s' * (size != 1)}",
    )


def _source(ref: OutputReference) -> str:
    path = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in ref.attr_path)
    if is_workflow_input(ref.node_id):
        return f"workflow input {ref.var + path!r}"
    return f"output {ref.var + path!r} of node {ref.node_id!r}"


def _missing_output(
    ctx: CompileContext, ref: OutputReference, outputs: Mapping[str, object], subject: str
) -> str:
    names = ", ".join(outputs) if outputs else "none"
    if is_workflow_input(ref.node_id):
        return f"{subject} is bound to workflow input {ref.var!r}, which the workflow does not declare (inputs: {names})"
    message = f"{subject} is bound to output {ref.var!r} of node {ref.node_id!r}, which has no such output (outputs: {names})"
    missing_in = _cases_without(ctx, ref.node_id, ref.var)
    if missing_in:
        message += (
            f"; a branch node has only the outputs every case produces, and {', '.join(missing_in)} "
            f"{'does' if len(missing_in) == 1 else 'do'} not produce {ref.var!r}"
        )
    return message


def _cases_without(ctx: CompileContext, branch_key: str, var: str) -> list[str]:
    """Case nodes of branch ``branch_key`` that lack output ``var`` (empty if it is no branch)."""
    entry = ctx.nodes.get(branch_key)
    if entry is None or entry.node.branch_node is None:
        return []
    lacking = []
    for case in children(entry):
        iface = ctx.interfaces.get(case.key)
        if iface is not None and var not in iface.outputs:
            lacking.append(f"case node {case.node.id!r}")
    return lacking
