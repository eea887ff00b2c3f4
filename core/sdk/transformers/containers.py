"""Transformers of container types: ``list[T]``, ``dict[str, T]`` / ``dict``, and unions.

Items are converted through :func:`~flytecore.sdk.type_engine.current_engine`, so a plugin's
transformer for the item type applies inside containers too; errors inside a container name the
item (``at [2]``, ``at ['key']``).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import attrs

from flytecore.errors import TypeTransformerError
from flytecore.sdk.type_engine import (
    TypeConversionError,
    TypeTransformer,
    current_engine,
    describe_literal,
    describe_value,
    mismatch,
    strip_annotated,
    type_name,
    value_is_instance,
)
from flytecore.spec.literals import Literal, Scalar
from flytecore.spec.literals import Union as UnionValue
from flytecore.spec.types import LiteralType, SimpleType, TypeStructure, UnionType

__all__ = ["DictTransformer", "ListTransformer", "UnionTransformer", "same_shape"]

JSON_FORMAT = {"format": "json"}
"""``Literal.metadata`` of an untyped dict stored as a struct (flytekit sets the same)."""


class ListTransformer(TypeTransformer[list[Any]]):
    """``list[T]`` as a literal collection of ``T`` literals."""

    name, python_type = "Typed List", list

    def matches(self, python_type: Any) -> bool:
        """``list``, ``list[T]`` and ``typing.List[T]``."""
        return python_type is list or typing.get_origin(python_type) is list

    @staticmethod
    def item_type(python_type: Any) -> Any:
        """``T`` of ``list[T]``; a bare ``list`` is an error (the item type decides the literal)."""
        args = typing.get_args(python_type)
        if not args:
            raise TypeConversionError(f"{type_name(python_type)} has no item type: declare it as list[T], e.g. list[int]")
        return args[0]

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``collection_type`` of the item's literal type."""
        return LiteralType(collection_type=current_engine().to_literal_type(self.item_type(python_type)))

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A list (tuples and other iterables are refused, as flytekit does)."""
        if not isinstance(value, list):
            raise mismatch(expected, describe_value(value))
        convert = current_engine().literal_converter(self.item_type(python_type))
        items = []
        for i, item in enumerate(value):
            try:
                items.append(convert(item))
            except TypeConversionError as exc:
                exc.prepend(f"[{i}]")
                raise
        return Literal(collection=tuple(items))

    def to_python_value(self, literal: Literal, python_type: Any) -> list[Any]:
        """A list of the collection's items."""
        if literal.collection is None:
            raise mismatch(type_name(python_type), describe_literal(literal))
        convert = current_engine().python_converter(self.item_type(python_type))
        result = []
        for i, item in enumerate(literal.collection):
            try:
                result.append(convert(item))
            except TypeConversionError as exc:
                exc.prepend(f"[{i}]")
                raise
        return result

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``list[T]`` for a collection type."""
        if literal_type.collection_type is None:
            return None
        return list[current_engine().guess_python_type(literal_type.collection_type)]  # type: ignore[misc]


class DictTransformer(TypeTransformer[dict[Any, Any]]):
    """``dict[str, T]`` as a literal map; ``dict`` without types (or with non-str keys) as a
    JSON struct in ``Scalar.generic``, like flytekit."""

    name, python_type = "Typed Dict", dict

    def matches(self, python_type: Any) -> bool:
        """``dict``, ``dict[K, V]`` and ``typing.Dict[K, V]``."""
        return python_type is dict or typing.get_origin(python_type) is dict

    @staticmethod
    def is_map(python_type: Any) -> bool:
        """Whether the type is stored as a literal map (``dict[str, T]``)."""
        args = typing.get_args(python_type)
        return bool(args) and strip_annotated(args[0]) is str

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``map_value_type`` for ``dict[str, T]``, else ``STRUCT``."""
        if self.is_map(python_type):
            return LiteralType(map_value_type=current_engine().to_literal_type(typing.get_args(python_type)[1]))
        return LiteralType(simple=SimpleType.STRUCT)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A dict: a map of converted values, or a JSON struct."""
        if not isinstance(value, dict):
            raise mismatch(expected, describe_value(value))
        if not self.is_map(python_type):
            return Literal(scalar=Scalar(generic=self._to_json(value, python_type, expected)), metadata=dict(JSON_FORMAT))
        convert = current_engine().literal_converter(typing.get_args(python_type)[1])
        literals = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise mismatch(expected, f"a dict with key {describe_value(key)}")
            try:
                literals[key] = convert(item)
            except TypeConversionError as exc:
                exc.prepend(f"[{key!r}]")
                raise
        return Literal(map=literals)

    def _to_json(self, value: dict[Any, Any], python_type: Any, expected: LiteralType) -> dict[str, Any]:
        from flytecore.sdk.transformers.structs import encode_json

        if typing.get_args(python_type):
            return encode_json(value, python_type)  # type: ignore[no-any-return]
        try:
            # A round trip through JSON both checks the value and detaches it from the caller's.
            return json.loads(json.dumps(value))  # type: ignore[no-any-return]
        except (TypeError, ValueError) as exc:
            raise mismatch(f"{expected.short()} (a JSON object)", f"{describe_value(value)}: {exc}") from None

    def to_python_value(self, literal: Literal, python_type: Any) -> dict[Any, Any]:
        """A dict from a map, or from a struct (``Scalar.generic`` or msgpack ``Binary``)."""
        if literal.map is not None and self.is_map(python_type):
            convert = current_engine().python_converter(typing.get_args(python_type)[1])
            result = {}
            for key, item in literal.map.items():
                try:
                    result[key] = convert(item)
                except TypeConversionError as exc:
                    exc.prepend(f"[{key!r}]")
                    raise
            return result
        if not self.is_map(python_type) and literal.scalar is not None:
            from flytecore.sdk.transformers.structs import decode_json, struct_data

            data = struct_data(literal)
            if data is not None:
                if not isinstance(data, dict):
                    raise mismatch(type_name(python_type), describe_value(data))
                if typing.get_args(python_type):
                    return decode_json(data, python_type)  # type: ignore[no-any-return]
                return data
        raise mismatch(type_name(python_type), describe_literal(literal))

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``dict[str, T]`` for a map type; ``dict`` for a struct without a schema."""
        if literal_type.map_value_type is not None:
            return dict[str, current_engine().guess_python_type(literal_type.map_value_type)]  # type: ignore[misc]
        if literal_type.simple == SimpleType.STRUCT and not (literal_type.metadata or {}).get("title"):
            return dict
        return None


def _tagged(literal_type: LiteralType, tag: str) -> LiteralType:
    return attrs.evolve(literal_type, structure=TypeStructure(tag=tag))


def same_shape(a: LiteralType, b: LiteralType) -> bool:
    """Whether two literal types describe the same values, ignoring schemas and tags (and a
    blob format missing on either side) at every level: flytekit's "castable" for unions."""
    if a.collection_type is not None or b.collection_type is not None:
        return a.collection_type is not None and b.collection_type is not None and same_shape(
            a.collection_type, b.collection_type
        )
    if a.map_value_type is not None or b.map_value_type is not None:
        return a.map_value_type is not None and b.map_value_type is not None and same_shape(
            a.map_value_type, b.map_value_type
        )
    if a.union_type is not None or b.union_type is not None:
        if a.union_type is None or b.union_type is None or len(a.union_type.variants) != len(b.union_type.variants):
            return False
        return all(same_shape(x, y) for x, y in zip(a.union_type.variants, b.union_type.variants, strict=True))
    if a.blob is not None and b.blob is not None:
        formats_agree = not a.blob.format or not b.blob.format or a.blob.format == b.blob.format
        return formats_agree and a.blob.dimensionality == b.blob.dimensionality
    return attrs.evolve(a, metadata=None, structure=None) == attrs.evolve(b, metadata=None, structure=None)


def is_union_type(python_type: Any) -> bool:
    """Whether ``python_type`` is ``typing.Union[...]``, ``Optional[...]`` or ``X | Y``."""
    return typing.get_origin(python_type) in (typing.Union, types.UnionType)


class UnionTransformer(TypeTransformer[Any]):
    """``Union[A, B]``, ``Optional[A]`` and ``A | B`` as ``UnionType``; each variant carries its
    transformer's name as ``structure.tag`` and a value is stored with the variant it took."""

    name, python_type = "Typed Union", typing.Union

    def matches(self, python_type: Any) -> bool:
        """Unions in any spelling."""
        return is_union_type(python_type)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``UnionType`` of the tagged variants' literal types."""
        engine = current_engine()
        variants = tuple(
            _tagged(engine.to_literal_type(v), engine.get_transformer(v).name) for v in typing.get_args(python_type)
        )
        return LiteralType(union_type=UnionType(variants=variants))

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """The value as the one variant it fits.

        A value that is exactly of one variant's type takes that variant (``3`` for ``int |
        float`` is an int); otherwise every variant is tried and exactly one must accept it.
        """
        engine = current_engine()
        entries = [(v, engine.get_transformer(v)) for v in typing.get_args(python_type)]
        exact = [(v, t) for v, t in entries if value_is_instance(t, value, strip_annotated(v))]
        if len(exact) == 1:
            variant, transformer = exact[0]
            try:
                return self._stored(engine.to_literal(value, variant), variant, transformer.name)
            except TypeTransformerError:
                pass  # e.g. ["a"] for list[int] | list[str]: the next pass finds list[str]
        fits = []
        for variant, transformer in entries:
            try:
                fits.append((variant, transformer, engine.to_literal(value, variant)))
            except TypeTransformerError:
                continue
        if len(fits) > 1:
            fits = [f for f in fits if value_is_instance(f[1], value, strip_annotated(f[0]))] or fits
        if len(fits) > 1:
            names = ", ".join(type_name(f[0]) for f in fits)
            raise TypeConversionError(
                f"ambiguous value for {expected.short()}: {describe_value(value)} fits the variants {names}; "
                "pass a value that fits exactly one variant"
            )
        if not fits:
            raise mismatch(expected, describe_value(value))
        variant, transformer, literal = fits[0]
        return self._stored(literal, variant, transformer.name)

    @staticmethod
    def _stored(literal: Literal, variant: Any, tag: str) -> Literal:
        variant_type = _tagged(current_engine().to_literal_type(variant), tag)
        return Literal(scalar=Scalar(union=UnionValue(value=literal, type=variant_type)))

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        """The value of the variant the literal was stored as (matched by tag and type); a plain
        (non-union) literal is read by the first variant that accepts it."""
        engine = current_engine()
        variants = typing.get_args(python_type)
        stored = literal.scalar.union if literal.scalar is not None else None
        if stored is None:
            for variant in variants:
                try:
                    return engine.to_python_value(literal, variant)
                except TypeTransformerError:
                    continue
            raise mismatch(type_name(python_type), describe_literal(literal))
        tag = stored.type.structure.tag if stored.type.structure is not None else ""
        candidates = []
        for variant in variants:
            transformer = engine.get_transformer(variant)
            if tag and transformer.name != tag:
                continue
            variant_type = engine.to_literal_type(variant)
            if same_shape(variant_type, stored.type):
                candidates.append((variant, _tagged(variant_type, transformer.name) == stored.type))
        if len(candidates) > 1:
            # Two dataclasses of the same shape: the one whose schema was stored wins.
            candidates = [c for c in candidates if c[1]] or candidates
        values = []
        for variant, _exact in candidates:
            try:
                values.append((variant, engine.to_python_value(stored.value, variant)))
            except TypeTransformerError:
                continue
        if len(values) > 1:
            names = ", ".join(type_name(v[0]) for v in values)
            raise TypeConversionError(f"ambiguous union value stored as {stored.type.short()}: fits the variants {names}")
        if not values:
            raise mismatch(type_name(python_type), describe_literal(literal))
        return values[0][1]

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``Union[...]`` of the variants' guessed types."""
        if literal_type.union_type is None:
            return None
        engine = current_engine()
        return typing.Union[tuple(engine.guess_python_type(v) for v in literal_type.union_type.variants)]  # noqa: UP007
