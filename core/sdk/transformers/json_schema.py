"""JSON schemas of dataclasses (``LiteralType.metadata``) and dataclasses made from them.

The schema is shaped like mashumaro's ``build_json_schema``, which flytekit writes and reads
back in ``guess_python_type``: ``title`` is the class name, nested dataclasses are inline,
``Optional[T]`` is ``anyOf`` with ``null``, enums list their values. Also home of the helpers the
struct codec shares: the resolved field types of a dataclass and the check for file-like types.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import types
import typing
from typing import Any

from flytecore.sdk.transformers.containers import is_union_type
from flytecore.sdk.type_engine import (
    TypeConversionError,
    TypeTransformer,
    current_engine,
    is_dataclass_type,
    is_enum_type,
    strip_annotated,
    type_name,
)
from flytecore.spec.types import BlobDimensionality

__all__ = ["dataclass_fields", "dataclass_from_schema", "file_like_transformer", "json_schema", "unsupported"]

NONE_TYPE = type(None)
SCALAR_SCHEMAS: dict[Any, dict[str, Any]] = {
    NONE_TYPE: {"type": "null"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bytes: {"type": "string", "format": "base64"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.timedelta: {"type": "number", "format": "time-delta"},
}


@functools.lru_cache(maxsize=1024)
def dataclass_fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    """``(field, resolved type)`` of the fields a dataclass's ``__init__`` takes."""
    try:
        # get_type_hints resolves string annotations (``from __future__ import annotations``).
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        raise TypeConversionError(
            f"the field types of {type_name(cls)} cannot be resolved ({exc}); define the types its "
            "fields use at module level"
        ) from exc
    return tuple((f, hints.get(f.name, f.type)) for f in dataclasses.fields(cls) if f.init)


def file_like_transformer(python_type: Any) -> TypeTransformer[Any] | None:
    """The transformer of a file-like type (FlyteFile, FlyteDirectory, a plugin's blob type),
    found without falling back to pickle."""
    engine = current_engine()
    for transformer in engine.transformers:
        if transformer.matches(python_type):
            return transformer if engine.to_literal_type(python_type).blob is not None else None
    return None


def unsupported(python_type: Any) -> TypeConversionError:
    return TypeConversionError(
        f"type {type_name(python_type)} is not supported inside a dataclass; use JSON-like types, "
        "enums, dataclasses, FlyteFile or FlyteDirectory"
    )



def json_schema(python_type: Any, _seen: tuple[type, ...] = ()) -> dict[str, Any]:
    """A JSON schema of ``python_type`` shaped like mashumaro's ``build_json_schema`` (which
    flytekit uses for ``LiteralType.metadata`` and reads back in ``guess_python_type``).

    :raises TypeConversionError: a dataclass field's type cannot live in a struct.
    """
    t = strip_annotated(python_type)
    if t is Any or t is object:
        return {}
    if t is None:
        t = NONE_TYPE
    if t in SCALAR_SCHEMAS:
        return dict(SCALAR_SCHEMAS[t])
    if is_union_type(t):
        return {"anyOf": [json_schema(v, _seen) for v in typing.get_args(t)]}
    if is_enum_type(t):
        return {"type": "string", "enum": [m.value for m in t]}
    origin, args = typing.get_origin(t), typing.get_args(t)
    if t is list or origin is list:
        return {"type": "array", "items": json_schema(args[0], _seen) if args else {}}
    if t is dict or origin is dict:
        if not args:
            return {"type": "object"}
        return {
            "type": "object",
            "additionalProperties": json_schema(args[1], _seen),
            "propertyNames": json_schema(args[0], _seen),
        }
    if is_dataclass_type(t):
        if t in _seen:  # a recursive dataclass: stop at the second visit
            return {"type": "object", "title": t.__name__}
        return _dataclass_schema(t, (*_seen, t))
    if file_like_transformer(t) is not None:
        title = "FlyteDirectory" if _is_directory(t) else "FlyteFile"
        return {
            "type": "object",
            "title": title,
            "properties": {"path": {"type": "string"}},
            "additionalProperties": False,
            "required": ["path"],
        }
    raise unsupported(t)


def _is_directory(python_type: Any) -> bool:
    blob = current_engine().to_literal_type(python_type).blob
    return blob is not None and blob.dimensionality == BlobDimensionality.MULTIPART


def _dataclass_schema(cls: type, seen: tuple[type, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    for f, field_type in dataclass_fields(cls):
        try:
            prop = json_schema(field_type, seen)
        except TypeConversionError as exc:
            exc.prepend(f"{type_name(cls)}.{f.name}")
            raise
        if f.default is not dataclasses.MISSING:
            default = f.default.value if isinstance(f.default, enum.Enum) else f.default
            # Only plain JSON defaults: encoding others (files) could have side effects.
            if default is None or isinstance(default, str | int | float | bool):
                prop = {**prop, "default": default}
        elif f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        properties[f.name] = prop
    return {
        "type": "object",
        "title": cls.__name__,
        "properties": properties,
        "additionalProperties": False,
        "required": required,
    }


def dataclass_from_schema(schema: dict[str, Any]) -> type:
    """A dataclass generated from a dataclass JSON schema (for ``guess_python_type``); the same
    schema gives the same class."""
    return _class_from_schema(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _class_from_schema(schema_json: str) -> type:
    schema = json.loads(schema_json)
    required = set(schema.get("required", ()))
    mandatory, optional = [], []
    for name, prop in schema.get("properties", {}).items():
        field_type = _type_from_schema(prop)
        if name in required:
            mandatory.append((name, field_type))
        else:
            optional.append((name, field_type, dataclasses.field(default=prop.get("default"))))
    return dataclasses.make_dataclass(str(schema.get("title", "Struct")), mandatory + optional)


def _type_from_schema(schema: dict[str, Any]) -> Any:
    if "anyOf" in schema:
        return typing.Union[tuple(_type_from_schema(s) for s in schema["anyOf"])]  # noqa: UP007
    if "enum" in schema:
        return str
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "object":
        title, props = schema.get("title"), schema.get("properties")
        if title in ("FlyteFile", "FlyteDirectory") and set(props or ()) == {"path"}:
            from flytecore.sdk.types import files

            return getattr(files, title)
        if props is not None:
            return dataclass_from_schema(schema)
        if isinstance(schema.get("additionalProperties"), dict):
            return dict[str, _type_from_schema(schema["additionalProperties"])]  # type: ignore[misc]
        return dict
    if kind == "array":
        return list[_type_from_schema(schema.get("items", {}))]  # type: ignore[misc]
    simple = {
        ("null", None): types.NoneType,
        ("boolean", None): bool,
        ("integer", None): int,
        ("number", None): float,
        ("number", "time-delta"): dt.timedelta,
        ("string", None): str,
        ("string", "date-time"): dt.datetime,
        ("string", "date"): dt.date,
        ("string", "base64"): bytes,
    }
    return simple.get((kind, fmt), simple.get((kind, None), Any))
