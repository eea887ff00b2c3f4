"""Dataclasses as JSON structs, the way flytekit stores them.

The literal type is ``STRUCT`` with a JSON schema in ``metadata`` (see
:mod:`~flytecore.sdk.transformers.json_schema`). A value is
the JSON object in ``Scalar.generic``; reading also accepts flytekit 1.16's default, msgpack bytes
in ``Binary(tag="msgpack")``, when the ``msgpack`` package is installed. Field values are encoded
as mashumaro does (datetimes as ISO strings, timedeltas as seconds, enums by value, bytes as
base64), and ``FlyteFile``/``FlyteDirectory`` fields as ``{"path": uri}`` after upload.

Protobuf structs hold every number as a double, so decoding is driven by the declared field
types: ``3.0`` read into an ``int`` field is ``3``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import typing
from typing import Any

from flytecore.sdk.transformers.containers import is_union_type
from flytecore.sdk.transformers.json_schema import (
    NONE_TYPE,
    SCALAR_SCHEMAS,
    dataclass_fields,
    dataclass_from_schema,
    file_like_transformer,
    json_schema,
    unsupported,
)
from flytecore.sdk.type_engine import (
    TypeConversionError,
    TypeTransformer,
    current_engine,
    describe_literal,
    describe_value,
    is_dataclass_type,
    is_enum_type,
    mismatch,
    strip_annotated,
    type_name,
)
from flytecore.spec.literals import Blob, BlobMetadata, Literal, Scalar
from flytecore.spec.types import LiteralType, SimpleType, TypeStructure

__all__ = [
    "MSGPACK_TAG",
    "DataclassTransformer",
    "decode_json",
    "encode_json",
    "struct_data",
]

MSGPACK_TAG = "msgpack"
"""``Binary.tag`` of msgpack-encoded structs (flytekit >= 1.14 writes dataclasses this way)."""


class DataclassTransformer(TypeTransformer[Any]):
    """Dataclasses (nested, with defaults, optional fields, lists and dicts of dataclasses, enums
    and files inside) as JSON structs."""

    name = "Object-Dataclass-Transformer"
    python_type = object

    def matches(self, python_type: Any) -> bool:
        """Any dataclass class."""
        return is_dataclass_type(python_type)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``STRUCT`` with the class's JSON schema; unsupported field types fail here, when a
        task is declared, rather than when it runs."""
        return LiteralType(simple=SimpleType.STRUCT, metadata=json_schema(python_type), structure=TypeStructure())

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """An instance of the dataclass (or a subclass) as a JSON object."""
        if not isinstance(value, python_type):
            raise mismatch(expected, describe_value(value))
        return Literal(scalar=Scalar(generic=encode_json(value, python_type)))

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        """An instance built from a JSON object (``Scalar.generic`` or msgpack ``Binary``)."""
        data = struct_data(literal)
        if data is None:
            raise mismatch(type_name(python_type), describe_literal(literal))
        return decode_json(data, python_type)

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """A dataclass generated from the schema in ``metadata`` (cached per schema)."""
        metadata = literal_type.metadata or {}
        if literal_type.simple != SimpleType.STRUCT or "title" not in metadata or "properties" not in metadata:
            return None
        return dataclass_from_schema(metadata)


def struct_data(literal: Literal) -> Any | None:
    """The JSON value of a struct literal (``Scalar.generic`` or msgpack ``Binary``), or None if
    the literal is neither."""
    scalar = literal.scalar
    if scalar is None:
        return None
    if scalar.generic is not None:
        return scalar.generic
    if scalar.binary is not None and scalar.binary.tag == MSGPACK_TAG:
        try:
            import msgpack
        except ImportError:
            raise TypeConversionError(
                "the value was written as msgpack (flytekit >= 1.14); install the 'msgpack' package to read it"
            ) from None
        return msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False)
    return None

# --- encoding ---------------------------------------------------------------------------------


def encode_json(value: Any, python_type: Any) -> Any:
    """The JSON form of ``value`` declared as ``python_type`` (a dataclass or a field type)."""
    t = strip_annotated(python_type)
    if t is Any or t is object:
        return _plain_json(value)
    if t is None or t is NONE_TYPE:
        if value is None:
            return None
        raise mismatch("None", describe_value(value))
    if is_union_type(t):
        return _encode_union(value, t)
    if t in SCALAR_SCHEMAS:
        return _encode_scalar(value, t)
    if is_enum_type(t):
        if isinstance(value, t):
            return value.value
        raise mismatch(type_name(t), describe_value(value))
    origin, args = typing.get_origin(t), typing.get_args(t)
    if t is list or origin is list:
        if not isinstance(value, list):
            raise mismatch(type_name(t), describe_value(value))
        return [_at(f"[{i}]", encode_json, item, args[0] if args else Any) for i, item in enumerate(value)]
    if t is dict or origin is dict:
        if not isinstance(value, dict):
            raise mismatch(type_name(t), describe_value(value))
        key_type, value_type = args if args else (Any, Any)
        return {
            _encode_key(k, key_type): _at(f"[{k!r}]", encode_json, v, value_type) for k, v in value.items()
        }
    if is_dataclass_type(t):
        if not isinstance(value, t):
            raise mismatch(type_name(t), describe_value(value))
        return {f.name: _at(f".{f.name}", encode_json, getattr(value, f.name), ft) for f, ft in dataclass_fields(t)}
    if file_like_transformer(t) is not None:
        literal = current_engine().to_literal(value, t)
        assert literal.scalar is not None and literal.scalar.blob is not None
        return {"path": literal.scalar.blob.uri}
    raise unsupported(t)


def _at(step: str, fn: Any, value: Any, python_type: Any) -> Any:
    try:
        return fn(value, python_type)
    except TypeConversionError as exc:
        exc.prepend(step)
        raise


def _plain_json(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise mismatch("a JSON value", f"{describe_value(value)}: {exc}") from None


def _encode_scalar(value: Any, t: Any) -> Any:
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        bytes: lambda v: isinstance(v, bytes | bytearray),
        dt.datetime: lambda v: isinstance(v, dt.datetime),
        dt.date: lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        dt.timedelta: lambda v: isinstance(v, dt.timedelta),
        NONE_TYPE: lambda v: v is None,
    }[t](value)
    if not ok:
        raise mismatch(type_name(t), describe_value(value))
    if t is float:
        return float(value)
    if t is str:
        return str.__str__(value)
    if t is bytes:
        return base64.b64encode(bytes(value)).decode("ascii")
    if t in (dt.datetime, dt.date):
        return value.isoformat()
    if t is dt.timedelta:
        return value.total_seconds()
    return value


def _encode_union(value: Any, t: Any) -> Any:
    variants = typing.get_args(t)
    if value is None and NONE_TYPE in variants:
        return None
    # Variants the value is exactly an instance of go first, so 3 in ``float | int`` stays 3.
    exact = [v for v in variants if _is_instance(value, v)]
    for variant in exact + [v for v in variants if v not in exact]:
        try:
            return encode_json(value, variant)
        except TypeConversionError:
            continue
    raise mismatch(type_name(t), describe_value(value))


def _is_instance(value: Any, python_type: Any) -> bool:
    cls = typing.get_origin(strip_annotated(python_type)) or strip_annotated(python_type)
    if cls is int:
        return isinstance(value, int) and not isinstance(value, bool)
    try:
        return isinstance(value, cls)
    except TypeError:
        return False


def _encode_key(key: Any, key_type: Any) -> str:
    if is_enum_type(key_type) and isinstance(key, key_type):
        return str(key.value)
    if isinstance(key, str | int | float | bool):
        return str(key)
    raise mismatch("a str, number or enum dict key", describe_value(key))


# --- decoding ---------------------------------------------------------------------------------


def decode_json(data: Any, python_type: Any) -> Any:
    """The value of declared type ``python_type`` from its JSON form (inverse of
    :func:`encode_json`; also accepts the msgpack forms of bytes and datetimes)."""
    t = strip_annotated(python_type)
    if t is Any or t is object:
        return data
    if t is None or t is NONE_TYPE:
        if data is None:
            return None
        raise mismatch("None", describe_value(data))
    if is_union_type(t):
        variants = typing.get_args(t)
        if data is None and NONE_TYPE in variants:
            return None
        # Variants whose type the JSON value already has go first, so 3 in ``float | int`` is 3.
        exact = [v for v in variants if _is_instance(data, v)]
        for variant in exact + [v for v in variants if v not in exact]:
            try:
                return decode_json(data, variant)
            except TypeConversionError:
                continue
        raise mismatch(type_name(t), describe_value(data))
    if t in SCALAR_SCHEMAS:
        return _decode_scalar(data, t)
    if is_enum_type(t):
        try:
            return t(data)
        except ValueError:
            raise mismatch(f"{type_name(t)} (one of {[m.value for m in t]})", describe_value(data)) from None
    origin, args = typing.get_origin(t), typing.get_args(t)
    if t is list or origin is list:
        if not isinstance(data, list):
            raise mismatch(type_name(t), describe_value(data))
        return [_at(f"[{i}]", decode_json, item, args[0] if args else Any) for i, item in enumerate(data)]
    if t is dict or origin is dict:
        if not isinstance(data, dict):
            raise mismatch(type_name(t), describe_value(data))
        key_type, value_type = args if args else (Any, Any)
        return {_decode_key(k, key_type): _at(f"[{k!r}]", decode_json, v, value_type) for k, v in data.items()}
    if is_dataclass_type(t):
        return _decode_dataclass(data, t)
    if file_like_transformer(t) is not None:
        return _decode_blob(data, t)
    raise unsupported(t)


def _decode_scalar(data: Any, t: Any) -> Any:
    try:
        if t is bool and isinstance(data, bool):
            return data
        if t is int and isinstance(data, int | float) and not isinstance(data, bool) and float(data).is_integer():
            return int(data)
        if t is float and isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        if t is str and isinstance(data, str):
            return data
        if t is bytes:
            return bytes(data) if isinstance(data, bytes | bytearray) else base64.b64decode(data, validate=True)
        if t is dt.datetime:
            return data if isinstance(data, dt.datetime) else dt.datetime.fromisoformat(data)
        if t is dt.date:
            return data if isinstance(data, dt.date) else dt.date.fromisoformat(data)
        if t is dt.timedelta and isinstance(data, int | float) and not isinstance(data, bool):
            return dt.timedelta(seconds=data)
    except (TypeError, ValueError):
        pass
    raise mismatch(type_name(t), describe_value(data))


def _decode_key(key: str, key_type: Any) -> Any:
    key_type = strip_annotated(key_type)
    if key_type in (Any, str) or not isinstance(key, str):
        return key
    try:
        if key_type is bool:
            return {"True": True, "true": True, "False": False, "false": False}[key]
        return key_type(key)
    except (KeyError, TypeError, ValueError):
        raise mismatch(f"a {type_name(key_type)} dict key", describe_value(key)) from None


def _decode_dataclass(data: Any, cls: type) -> Any:
    if not isinstance(data, dict):
        raise mismatch(type_name(cls), describe_value(data))
    kwargs = {}
    for f, field_type in dataclass_fields(cls):
        if f.name in data:
            kwargs[f.name] = _at(f".{f.name}", decode_json, data[f.name], field_type)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise mismatch(type_name(cls), f"an object without field {f.name!r}")
    # Extra keys are ignored (as mashumaro does), so a producer with a newer class still reads.
    return cls(**kwargs)


def _decode_blob(data: Any, t: Any) -> Any:
    uri = data.get("path") if isinstance(data, dict) else data
    if not isinstance(uri, str):
        raise mismatch(f"{type_name(t)} ({{'path': uri}})", describe_value(data))
    engine = current_engine()
    blob_type = engine.to_literal_type(t).blob
    assert blob_type is not None
    literal = Literal(scalar=Scalar(blob=Blob(metadata=BlobMetadata(type=blob_type), uri=uri)))
    return engine.to_python_value(literal, t)

