"""Literals (values) and bindings (values or references to other nodes' outputs)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from flytecore.spec._base import model, oneof
from flytecore.spec.types import BlobType, Error, LiteralType, OutputReference

__all__ = [
    "Primitive",
    "Void",
    "BlobMetadata",
    "Blob",
    "Binary",
    "Union",
    "Scalar",
    "Literal",
    "LiteralMap",
    "BindingData",
    "Binding",
    "RetryStrategy",
    "KeyValuePair",
    "scalar_literal",
]



@model
class Primitive:
    """One scalar value: exactly one field is set."""

    integer: int | None = None
    float_value: float | None = None
    string_value: str | None = None
    boolean: bool | None = None
    datetime: _dt.datetime | None = None
    duration: _dt.timedelta | None = None

    def __attrs_post_init__(self) -> None:
        _check_primitive(self)

    @property
    def value(self) -> Any:
        """The Python value held."""
        for name in _PRIMITIVE_FIELDS:
            v = getattr(self, name)
            if v is not None:
                return v
        return None


_PRIMITIVE_FIELDS = ("integer", "float_value", "string_value", "boolean", "datetime", "duration")
_check_primitive = oneof(*_PRIMITIVE_FIELDS, required=True)


@model
class Void:
    """The value of ``None``."""


@model
class BlobMetadata:
    """Type of a blob."""

    type: BlobType = BlobType()


@model
class Blob:
    """A file or directory at ``uri`` (any fsspec URL or a local path)."""

    metadata: BlobMetadata = BlobMetadata()
    uri: str = ""


@model
class Binary:
    """Opaque bytes; ``tag`` says how they were made (e.g. ``"pickle"``, ``"msgpack"``)."""

    value: bytes = b""
    tag: str = ""


@model
class Union:
    """A value of a union type: the value and the variant it was stored as."""

    value: Literal
    type: LiteralType


@model
class Scalar:
    """Exactly one of a primitive, blob, binary, none, error, generic struct or union value."""

    primitive: Primitive | None = None
    blob: Blob | None = None
    binary: Binary | None = None
    none_type: Void | None = None
    error: Error | None = None
    generic: dict[str, Any] | None = None
    union: Union | None = None

    def __attrs_post_init__(self) -> None:
        _check_scalar(self)


_check_scalar = oneof("primitive", "blob", "binary", "none_type", "error", "generic", "union", required=True)


@model
class Literal:
    """A value: a scalar, a collection or a map of literals."""

    scalar: Scalar | None = None
    collection: tuple[Literal, ...] | None = None
    map: dict[str, Literal] | None = None
    hash: str = ""
    metadata: dict[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        _check_literal(self)


_check_literal = oneof("scalar", "collection", "map", required=True)


@model
class LiteralMap:
    """Named literals: the inputs or outputs of a task, node or workflow (``inputs.pb``)."""

    literals: dict[str, Literal] = attrs.field(factory=dict)


@model
class BindingData:
    """What an input is bound to: a scalar, a collection or map of bindings, or a promise
    (another node's output)."""

    scalar: Scalar | None = None
    collection: tuple[BindingData, ...] | None = None
    promise: OutputReference | None = None
    map: dict[str, BindingData] | None = None
    union: LiteralType | None = None

    def __attrs_post_init__(self) -> None:
        _check_binding(self)

    def promises(self) -> list[OutputReference]:
        """Every output reference inside this binding, depth first."""
        if self.promise is not None:
            return [self.promise]
        if self.collection is not None:
            return [p for b in self.collection for p in b.promises()]
        if self.map is not None:
            return [p for b in self.map.values() for p in b.promises()]
        return []


_check_binding = oneof("scalar", "collection", "promise", "map", required=True)


@model
class Binding:
    """Binds input variable ``var`` to ``binding``."""

    var: str
    binding: BindingData


@model
class RetryStrategy:
    """How many times a failing task is retried."""

    retries: int = 0


@model
class KeyValuePair:
    """A name and a value (environment variables, config)."""

    key: str
    value: str = ""


def scalar_literal(**primitive: Any) -> Literal:
    """Shorthand: ``scalar_literal(integer=3)`` is the literal of the integer 3."""
    return Literal(scalar=Scalar(primitive=Primitive(**primitive)))
