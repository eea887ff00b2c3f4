"""Does a literal value fit a literal type? Used where values meet interfaces at run time:
admin checks execution inputs with it, the propeller checks what a task wrote.

Built on :func:`flytecore.compiler.typing.is_castable`, so values follow the same rules as
bindings at compile time; collections and maps are checked element by element so a message
can say which element is wrong.
"""

from __future__ import annotations

from flytecore.compiler.typing import NONE_TYPE, is_castable, literal_type_of_scalar
from flytecore.spec.literals import Literal
from flytecore.spec.types import LiteralType

__all__ = ["literal_mismatch"]


def literal_mismatch(literal: Literal, expected: LiteralType, where: str = "value") -> str | None:
    """None when ``literal`` fits ``expected``; otherwise why not, naming the element
    (``where[2]``, ``where['key']``) and both types."""
    if expected.union_type is not None:
        if any(literal_mismatch(literal, v, where) is None for v in expected.union_type.variants):
            return None
        return f"{where}: expected {expected.short()}, got {_describe(literal)}"
    if literal.collection is not None:
        if expected.collection_type is None:
            return f"{where}: expected {expected.short()}, got a list"
        for i, item in enumerate(literal.collection):
            reason = literal_mismatch(item, expected.collection_type, f"{where}[{i}]")
            if reason is not None:
                return reason
        return None
    if literal.map is not None:
        if expected.map_value_type is None:
            return f"{where}: expected {expected.short()}, got a map"
        for key, item in literal.map.items():
            reason = literal_mismatch(item, expected.map_value_type, f"{where}[{key!r}]")
            if reason is not None:
                return reason
        return None
    scalar = literal.scalar
    assert scalar is not None
    if scalar.union is not None:
        return literal_mismatch(scalar.union.value, expected, where)
    actual = literal_type_of_scalar(scalar)
    if actual is None:
        # An encoded value (e.g. a msgpack dataclass): only its reader can tell.
        return None
    if expected.enum_type is not None and scalar.primitive is not None and scalar.primitive.string_value is not None:
        value = scalar.primitive.string_value
        if value not in expected.enum_type.values:
            return f"{where}: {value!r} is not one of {', '.join(expected.enum_type.values)}"
        return None
    if is_castable(actual, expected):
        return None
    return f"{where}: expected {expected.short()}, got {actual.short() if actual != NONE_TYPE else 'None'}"


def _describe(literal: Literal) -> str:
    if literal.collection is not None:
        return "a list"
    if literal.map is not None:
        return "a map"
    assert literal.scalar is not None
    if literal.scalar.union is not None:
        return _describe(literal.scalar.union.value)
    actual = literal_type_of_scalar(literal.scalar)
    return actual.short() if actual is not None else "an encoded value"
