"""One converter factory for the spec's JSON/YAML form.

There is no global converter: callers build one with :func:`make_converter` (after plugins are
loaded, so plugin-provided models can register hooks on it). Enums are written by name, which
keeps YAML readable; bytes as base64; datetimes as ISO 8601; timedeltas as seconds. Fields
left at their default are omitted so that a closure reads like the workflow that produced it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import functools
import json
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn

T = TypeVar("T")


def make_converter(*, omit_defaults: bool = True) -> cattrs.Converter:
    """Build a converter between spec models and plain JSON-able dicts.

    :param omit_defaults: leave out fields equal to their default (compact output). Structuring
        accepts both forms.
    """
    conv = cattrs.Converter(forbid_extra_keys=True)

    conv.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    conv.register_structure_hook(bytes, lambda v, _: base64.b64decode(v) if isinstance(v, str) else bytes(v))
    conv.register_unstructure_hook(_dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(
        _dt.datetime, lambda v, _: v if isinstance(v, _dt.datetime) else _dt.datetime.fromisoformat(v)
    )
    conv.register_unstructure_hook(_dt.timedelta, lambda d: d.total_seconds())
    conv.register_structure_hook(
        _dt.timedelta, lambda v, _: v if isinstance(v, _dt.timedelta) else _dt.timedelta(seconds=float(v))
    )
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda e: e.name
    )
    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _structure_enum
    )
    # cattrs dispatches on class before predicates, so IntEnums would hit its int hook (values
    # only) and names would not load; IntEnum precedes int in their MRO, so this hook wins.
    conv.register_structure_hook(enum.IntEnum, _structure_enum)
    # OutputReference.attr_path: cattrs has no default hook for a union of primitives.
    conv.register_structure_hook(str | int, _structure_str_or_int)
    # Struct-like fields (``dict[str, Any]``) hold JSON values as they are.
    conv.register_structure_hook(Any, lambda v, _: v)

    _fast_literals(conv)
    if omit_defaults:
        conv.register_unstructure_hook_factory(
            attrs.has,
            lambda cls: make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True),
        )
    return conv


_PRIMITIVE_TYPES = {"integer": int, "float_value": float, "string_value": str, "boolean": bool}


def _fast_literals(conv: cattrs.Converter) -> None:
    """Read the most common literal, a plain integer, float, string or boolean, without the
    general structuring (a wide map's list holds thousands, read back with every workflow object,
    status and event that carries them); any other literal takes the general way."""
    from cattrs.gen import make_dict_structure_fn

    from flytecore.spec.literals import Literal, Primitive, Scalar

    general = make_dict_structure_fn(Literal, conv, _cattrs_forbid_extra_keys=True)

    def structure(value: Any, cls: Any) -> Literal:
        if type(value) is dict and len(value) == 1:
            scalar = value.get("scalar")
            if type(scalar) is dict and len(scalar) == 1:
                primitive = scalar.get("primitive")
                if type(primitive) is dict and len(primitive) == 1:
                    fields: dict[str, Any] = primitive
                    ((kind, item),) = fields.items()
                    if type(item) is _PRIMITIVE_TYPES.get(kind):
                        return Literal(scalar=Scalar(primitive=Primitive(**fields)))
        literal: Literal = general(value, cls)
        return literal

    conv.register_structure_hook(Literal, structure)


def _structure_str_or_int(value: Any, _: Any) -> str | int:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is neither a str nor an int")


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls[value]
        except KeyError:
            pass
    try:
        return cls(value)
    except ValueError:
        names = ", ".join(m.name for m in cls)
        raise ValueError(f"{value!r} is not a {cls.__name__} (one of {names})") from None


@functools.cache
def default_converter() -> cattrs.Converter:
    """The shared converter of :func:`to_json` and friends (one per process: cattrs builds and
    caches a function per class on first use, which costs milliseconds each time it is redone).
    Do not register hooks on it; call :func:`make_converter` for a converter of your own."""
    return make_converter()


def to_json(obj: Any, converter: cattrs.Converter | None = None, **kwargs: Any) -> str:
    """Serialize a spec model to JSON text."""
    conv = converter or default_converter()
    return json.dumps(conv.unstructure(obj), **kwargs)


def from_json(text: str | bytes, cls: type[T], converter: cattrs.Converter | None = None) -> T:
    """Parse JSON text into spec model ``cls``."""
    conv = converter or default_converter()
    return conv.structure(json.loads(text), cls)


def to_yaml(obj: Any, converter: cattrs.Converter | None = None) -> str:
    """Serialize a spec model to YAML text."""
    import yaml

    conv = converter or default_converter()
    return yaml.safe_dump(conv.unstructure(obj), sort_keys=False)


def from_yaml(text: str, cls: type[T], converter: cattrs.Converter | None = None) -> T:
    """Parse YAML text into spec model ``cls``."""
    import yaml

    conv = converter or default_converter()
    return conv.structure(yaml.safe_load(text), cls)
