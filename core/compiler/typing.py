"""Type castability: can a value of one literal type be passed where another is expected?

The rules follow Flyte's compiler (flytepropeller ``validators/typing.go``):

- simple types match exactly: an ``int`` never goes into a ``float`` (Flyte does not widen);
- ``None`` goes only into ``None`` or into a union with a ``None`` variant (an Optional);
- a value goes into a union if some variant accepts it; a union goes into a union if every
  upstream variant fits some downstream variant; a one-variant union behaves as its variant;
- lists and maps match element by element; an empty list or map (element type ``None``) goes
  into any list or map;
- blobs match when either format is ``""`` (any) or the formats are equal;
- enums: a string goes into an enum (the value is checked when known), an enum goes into a
  string, an enum goes into an enum whose values include all of its own;
- generic structs (``STRUCT``) match whatever their JSON-schema metadata says;
- ``metadata`` never matters and ``structure.tag`` matters only between union variants.

Deliberate differences from Flyte, both in the safe direction for users: Flyte compares two
dataclass JSON schemas, flytecore accepts any struct into any struct (the runtime checks the
value); Flyte needs one union variant to match *unambiguously*, flytecore takes the first that
matches (two dataclass variants would otherwise always clash, since their schemas are not
compared). flytecore also refuses a file where a directory is expected, which Flyte lets pass.
"""

from __future__ import annotations

from flytecore.spec.literals import Scalar
from flytecore.spec.types import BlobType, LiteralType, SimpleType

__all__ = ["is_castable", "is_optional", "literal_type_of_scalar", "takes_error", "NONE_TYPE"]

NONE_TYPE = LiteralType(simple=SimpleType.NONE)
"""The type of ``None`` (and the element type of an empty list or map literal)."""


def is_castable(upstream: LiteralType, downstream: LiteralType) -> bool:
    """True if a value of type ``upstream`` can be bound where ``downstream`` is expected."""
    union = upstream.union_type
    if union is not None and len(union.variants) == 1 and _casts(union.variants[0], downstream):
        return True
    return _casts(upstream, downstream)


def is_optional(t: LiteralType) -> bool:
    """True for a union with a ``None`` variant (``Optional[...]``): such inputs may stay unbound."""
    return t.union_type is not None and any(v.simple == SimpleType.NONE for v in t.union_type.variants)


def takes_error(t: LiteralType) -> bool:
    """True for ``ERROR`` and for a union with an ``ERROR`` variant (``Optional[FlyteError]``):
    an input an error literal can be passed to."""
    if t.simple == SimpleType.ERROR:
        return True
    return t.union_type is not None and any(v.simple == SimpleType.ERROR for v in t.union_type.variants)


def literal_type_of_scalar(scalar: Scalar) -> LiteralType | None:
    """The type of a scalar literal, or None when it cannot be told from the value alone (a
    binary with an encoding tag, e.g. a msgpack-encoded dataclass)."""
    if scalar.primitive is not None:
        p = scalar.primitive
        for field, simple in _PRIMITIVE_TYPES:
            if getattr(p, field) is not None:
                return LiteralType(simple=simple)
        return None
    if scalar.none_type is not None:
        return NONE_TYPE
    if scalar.blob is not None:
        return LiteralType(blob=scalar.blob.metadata.type)
    if scalar.generic is not None:
        return LiteralType(simple=SimpleType.STRUCT)
    if scalar.error is not None:
        return LiteralType(simple=SimpleType.ERROR)
    if scalar.union is not None:
        return scalar.union.type
    if scalar.binary is not None:
        return LiteralType(simple=SimpleType.BINARY) if not scalar.binary.tag else None
    return None


_PRIMITIVE_TYPES = (
    ("integer", SimpleType.INTEGER),
    ("float_value", SimpleType.FLOAT),
    ("string_value", SimpleType.STRING),
    ("boolean", SimpleType.BOOLEAN),
    ("datetime", SimpleType.DATETIME),
    ("duration", SimpleType.DURATION),
)


def _casts(up: LiteralType, down: LiteralType) -> bool:
    if down.collection_type is not None:
        if up.collection_type is None:
            return False
        return _is_none(up.collection_type) or is_castable(up.collection_type, down.collection_type)
    if down.map_value_type is not None:
        if up.map_value_type is None:
            return False
        return _is_none(up.map_value_type) or is_castable(up.map_value_type, down.map_value_type)
    if down.blob is not None:
        return up.blob is not None and _blob_casts(up.blob, down.blob)
    if down.union_type is not None:
        if up.union_type is not None:
            return all(
                any(_variant_casts(u, d) for d in down.union_type.variants) for u in up.union_type.variants
            )
        return any(_variant_casts(up, d) for d in down.union_type.variants)
    if down.enum_type is not None:
        if up.enum_type is not None:
            return set(up.enum_type.values) <= set(down.enum_type.values)
        return up.simple == SimpleType.STRING
    if down.simple is not None:
        if up.enum_type is not None:
            return down.simple == SimpleType.STRING
        return up.simple == down.simple
    return False


def _variant_casts(up: LiteralType, down: LiteralType) -> bool:
    # Variants carry tags so that two variants of the same literal type stay distinct.
    up_tag = up.structure.tag if up.structure is not None else ""
    down_tag = down.structure.tag if down.structure is not None else ""
    if up_tag and down_tag and up_tag != down_tag:
        return False
    return is_castable(up, down)


def _blob_casts(up: BlobType, down: BlobType) -> bool:
    if up.dimensionality != down.dimensionality:
        return False
    return not up.format or not down.format or up.format == down.format


def _is_none(t: LiteralType) -> bool:
    return t.simple == SimpleType.NONE
