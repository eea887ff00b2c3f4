"""Parsing ``--name value`` command line inputs into Python values of an entity's input types."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import typing
from typing import Any

from flytecore.errors import UserInputError


def parse_inputs(entity: Any, args: list[str]) -> dict[str, Any]:
    """``["--n", "5", "--names", '["a"]']`` -> ``{"n": 5, "names": ["a"]}`` by the input types."""
    inputs = entity.python_interface.inputs
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        flag = args[i]
        if not flag.startswith("--"):
            raise UserInputError(f"unexpected argument {flag!r}; give inputs as --name value")
        name = flag[2:].replace("-", "_")
        if "=" in name:
            name, raw = name.split("=", 1)
            i += 1
        elif i + 1 < len(args):
            raw = args[i + 1]
            i += 2
        else:
            raise UserInputError(f"input --{name} has no value")
        if name not in inputs:
            raise UserInputError(
                f"{entity.name!r} has no input {name!r}; its inputs are: {entity.python_interface.describe_inputs()}"
            )
        values[name] = parse_value(raw, inputs[name][0], name)
    return values


def parse_value(raw: str, py_type: Any, name: str) -> Any:
    """One command line value as ``py_type``."""
    try:
        return _parse(raw, py_type)
    except (ValueError, TypeError, KeyError) as exc:
        shown = getattr(py_type, "__name__", None) if not typing.get_args(py_type) else None
        raise UserInputError(f"input {name!r}: cannot read {raw!r} as {shown or py_type}: {exc}") from exc


def _parse(raw: str, py_type: Any) -> Any:
    origin = typing.get_origin(py_type)
    if origin is typing.Annotated:
        return _parse(raw, typing.get_args(py_type)[0])
    if py_type is str:
        return raw
    if py_type is bool:
        if raw.lower() in {"true", "1", "yes"}:
            return True
        if raw.lower() in {"false", "0", "no"}:
            return False
        raise ValueError("expected true or false")
    if py_type is int:
        return int(raw)
    if py_type is float:
        return float(raw)
    if py_type is _dt.datetime:
        return _dt.datetime.fromisoformat(raw)
    if py_type is _dt.timedelta:
        return _dt.timedelta(seconds=float(raw))
    if isinstance(py_type, type) and issubclass(py_type, enum.Enum):
        return py_type(raw)
    if isinstance(py_type, type) and dataclasses.is_dataclass(py_type):
        import cattrs

        return cattrs.Converter().structure(json.loads(raw), py_type)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if raw.lower() in {"none", "null"} and type(None) in typing.get_args(py_type):
            return None
        for arg in typing.get_args(py_type):
            if arg is type(None):
                continue
            try:
                return _parse(raw, arg)
            except (ValueError, TypeError, KeyError):
                continue
        raise ValueError("matches no member of the union")
    if origin in (list, dict) or py_type in (list, dict):
        return json.loads(raw)
    # FlyteFile, FlyteDirectory and other path-like types take a path or URL.
    return py_type(raw) if callable(py_type) else raw
