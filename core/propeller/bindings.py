"""Resolving a node's input bindings to literals, and evaluating a branch's conditions.

A binding is a constant, a reference to an upstream node's output (a promise, optionally with
an attribute path into a dataclass, list or dict), or a collection or map of bindings. The
engine resolves them against the outputs of finished nodes; the workflow's inputs are the
outputs of the start node.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from flytecore.spec.literals import Binary, Binding, BindingData, Literal, LiteralMap, Primitive, Scalar, Void
from flytecore.spec.types import LiteralType, OutputReference
from flytecore.spec.workflow import (
    GLOBAL_INPUT_NODE_ID,
    START_NODE_ID,
    BooleanExpression,
    ComparisonExpression,
    ComparisonOperator,
    LogicalOperator,
    Operand,
)

__all__ = ["BindingError", "OutputLookup", "evaluate", "json_to_literal", "resolve_bindings"]

OutputLookup = Callable[[str], LiteralMap | None]
"""The outputs of a node by id (the start node's are the workflow inputs); None if the node has
not produced outputs."""


class BindingError(Exception):
    """A binding cannot be resolved: a missing output, a bad attribute path. The message names
    the input and the reference."""


def resolve_bindings(
    bindings: Iterable[Binding], outputs_of: OutputLookup, types: dict[str, LiteralType] | None = None
) -> LiteralMap:
    """The literals ``bindings`` stand for. ``types`` (the consumer's input types) guides the
    conversion of values picked out of a dataclass by an attribute path."""
    types = types or {}
    literals: dict[str, Literal] = {}
    for binding in bindings:
        literals[binding.var] = _resolve(binding.binding, outputs_of, types.get(binding.var), binding.var)
    return LiteralMap(literals=literals)


def _resolve(data: BindingData, outputs_of: OutputLookup, expected: LiteralType | None, where: str) -> Literal:
    if data.scalar is not None:
        return Literal(scalar=data.scalar)
    if data.promise is not None:
        return _promise(data.promise, outputs_of, expected, where)
    if data.collection is not None:
        item_type = expected.collection_type if expected is not None else None
        return Literal(
            collection=tuple(_resolve(d, outputs_of, item_type, f"{where}[{i}]") for i, d in enumerate(data.collection))
        )
    if data.map is not None:
        value_type = expected.map_value_type if expected is not None else None
        return Literal(map={k: _resolve(d, outputs_of, value_type, f"{where}[{k!r}]") for k, d in data.map.items()})
    raise BindingError(f"input {where!r}: the binding holds no value")


def _promise(ref: OutputReference, outputs_of: OutputLookup, expected: LiteralType | None, where: str) -> Literal:
    node_id = START_NODE_ID if ref.node_id == GLOBAL_INPUT_NODE_ID else ref.node_id
    outputs = outputs_of(node_id)
    source = "workflow input" if node_id == START_NODE_ID else f"output of node {node_id!r}"
    if outputs is None or ref.var not in outputs.literals:
        raise BindingError(f"input {where!r}: {source} {ref.var!r} is not available")
    literal = outputs.literals[ref.var]
    for step in ref.attr_path:
        literal = _member(literal, step, f"input {where!r}: {source} {ref.var!r}")
    return literal


def _member(literal: Literal, step: str | int, where: str) -> Literal:
    """One step of an attribute path: a list index, a dict key or a dataclass field."""
    if literal.collection is not None and isinstance(step, int):
        try:
            return literal.collection[step]
        except IndexError:
            raise BindingError(f"{where}: index {step} is out of range (length {len(literal.collection)})") from None
    if literal.map is not None and isinstance(step, str):
        if step not in literal.map:
            raise BindingError(f"{where}: no key {step!r}")
        return literal.map[step]
    scalar = literal.scalar
    if scalar is not None and scalar.union is not None:
        return _member(scalar.union.value, step, where)
    if scalar is not None and scalar.generic is not None:
        value: Any = scalar.generic
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise BindingError(f"{where}: no member {step!r}") from None
        return json_to_literal(value)
    if scalar is not None and scalar.binary is not None and scalar.binary.tag == _MSGPACK:
        return _msgpack_member(scalar.binary.value, step, where)
    raise BindingError(f"{where}: cannot select {step!r} from this value")


_MSGPACK = "msgpack"


def _msgpack_member(data: bytes, step: str | int, where: str) -> Literal:
    """A step into a msgpack-encoded value (flytekit >= 1.14 writes dataclasses so), answered as
    FlytePropeller does: a list becomes a collection of msgpack values, anything else one msgpack
    value (flytekit's transformers read a msgpack int, str, dataclass, ... as themselves)."""
    try:
        import msgpack
    except ImportError:
        raise BindingError(
            f"{where}: the value is msgpack-encoded (flytekit >= 1.14); install the 'msgpack' package "
            "where the propeller runs to select members of it"
        ) from None
    value: Any = msgpack.unpackb(data, raw=False, strict_map_key=False)
    try:
        value = value[step]
    except (KeyError, IndexError, TypeError):
        raise BindingError(f"{where}: no member {step!r}") from None

    def encoded(item: Any) -> Literal:
        return Literal(scalar=Scalar(binary=Binary(value=msgpack.packb(item), tag=_MSGPACK)))

    if isinstance(value, list):
        return Literal(collection=tuple(encoded(item) for item in value))
    return encoded(value)


def json_to_literal(value: Any) -> Literal:
    """A JSON value picked out of a dataclass as a literal (primitives, lists, dicts as structs)."""
    if value is None:
        return Literal(scalar=Scalar(none_type=Void()))
    if isinstance(value, bool):
        return Literal(scalar=Scalar(primitive=Primitive(boolean=value)))
    if isinstance(value, int):
        return Literal(scalar=Scalar(primitive=Primitive(integer=value)))
    if isinstance(value, float):
        return Literal(scalar=Scalar(primitive=Primitive(float_value=value)))
    if isinstance(value, str):
        return Literal(scalar=Scalar(primitive=Primitive(string_value=value)))
    if isinstance(value, list):
        return Literal(collection=tuple(json_to_literal(v) for v in value))
    return Literal(scalar=Scalar(generic=value))


# --- conditions ------------------------------------------------------------------------------


def evaluate(expr: BooleanExpression, inputs: LiteralMap) -> bool:
    """The value of a branch condition over the branch node's resolved inputs."""
    if expr.conjunction is not None:
        left = evaluate(expr.conjunction.left_expression, inputs)
        if expr.conjunction.operator == LogicalOperator.AND:
            return left and evaluate(expr.conjunction.right_expression, inputs)
        return left or evaluate(expr.conjunction.right_expression, inputs)
    assert expr.comparison is not None
    return _compare(expr.comparison, inputs)


def _compare(cmp: ComparisonExpression, inputs: LiteralMap) -> bool:
    left, right = _operand(cmp.left_value, inputs), _operand(cmp.right_value, inputs)
    op = cmp.operator
    if op == ComparisonOperator.EQ:
        return bool(left == right)
    if op == ComparisonOperator.NEQ:
        return bool(left != right)
    if left is None or right is None:
        raise BindingError(f"cannot order None in a condition ({left!r} {op.name} {right!r})")
    try:
        if op == ComparisonOperator.GT:
            return bool(left > right)
        if op == ComparisonOperator.GTE:
            return bool(left >= right)
        if op == ComparisonOperator.LT:
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        raise BindingError(
            f"cannot compare {type(left).__name__} with {type(right).__name__} ({left!r} {op.name} {right!r})"
        ) from None


def _operand(operand: Operand, inputs: LiteralMap) -> Any:
    if operand.primitive is not None:
        return _primitive_value(operand.primitive)
    if operand.scalar is not None:
        return _scalar_value(operand.scalar, "a constant")
    assert operand.var is not None
    literal = inputs.literals.get(operand.var)
    if literal is None:
        raise BindingError(f"the condition reads {operand.var!r}, which is not an input of the branch node")
    if literal.scalar is None:
        raise BindingError(f"the condition reads {operand.var!r}, which is not a single value")
    return _scalar_value(literal.scalar, operand.var)


def _scalar_value(scalar: Scalar, what: str) -> Any:
    if scalar.primitive is not None:
        return _primitive_value(scalar.primitive)
    if scalar.none_type is not None:
        return None
    if scalar.union is not None:
        inner = scalar.union.value
        return None if inner.scalar is None else _scalar_value(inner.scalar, what)
    raise BindingError(f"{what}: only primitives and None can be compared in a condition")


def _primitive_value(p: Primitive) -> int | float | str | bool | dt.datetime | dt.timedelta | None:
    for value in (p.integer, p.float_value, p.string_value, p.boolean, p.datetime, p.duration):
        if value is not None:
            return value
    return None

