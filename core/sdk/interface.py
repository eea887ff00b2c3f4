"""Python signatures as Flyte interfaces: named, typed inputs (with defaults) and outputs."""

from __future__ import annotations

import collections
import inspect
import typing
from collections.abc import Callable
from typing import Any

import attrs

from flytecore.errors import AuthoringError
from flytecore.spec.interface import TypedInterface, Variable

_NO_DEFAULT = inspect.Parameter.empty


@attrs.define(frozen=True)
class Interface:
    """Inputs (name -> (type, default or ``inspect.Parameter.empty``)) and outputs
    (name -> type) of a task or workflow, in declaration order.

    ``output_tuple`` is the NamedTuple class of named outputs, if the function declared one.
    """

    inputs: dict[str, tuple[Any, Any]]
    outputs: dict[str, Any]
    output_tuple: type | None = None
    docstring: str = ""

    @property
    def input_types(self) -> dict[str, Any]:
        """Input name -> Python type."""
        return {k: v[0] for k, v in self.inputs.items()}

    @property
    def defaults(self) -> dict[str, Any]:
        """Input name -> default, for inputs that have one."""
        return {k: v[1] for k, v in self.inputs.items() if v[1] is not _NO_DEFAULT}

    @property
    def required(self) -> list[str]:
        """Inputs without a default."""
        return [k for k, v in self.inputs.items() if v[1] is _NO_DEFAULT]

    def describe_inputs(self) -> str:
        """``a (int), b (str = 'x')`` for error messages."""
        return ", ".join(
            f"{n} ({_type_name(t)}{'' if d is _NO_DEFAULT else ' = ' + repr(d)})"
            for n, (t, d) in self.inputs.items()
        ) or "none"

    def to_typed_interface(self, engine: Any) -> TypedInterface:
        """The spec interface, with literal types from ``engine``."""
        return TypedInterface(
            inputs={n: Variable(type=engine.to_literal_type(t), description="") for n, (t, _) in self.inputs.items()},
            outputs={n: Variable(type=engine.to_literal_type(t), description="") for n, t in self.outputs.items()},
        )


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def kwtypes(**kwargs: Any) -> collections.OrderedDict[str, Any]:
    """Name -> type pairs in order (flytekit's ``kwtypes``), e.g. for ``outputs=kwtypes(x=int)``."""
    return collections.OrderedDict(kwargs)


def single_output_value(result: Any, interface: Interface) -> Any:
    """A one-output NamedTuple may be returned as the bare value or as the tuple; both mean the
    same output (flytekit accepts both)."""
    if interface.output_tuple is not None and isinstance(result, tuple) and len(result) == 1:
        return result[0]
    return result


def is_named_tuple(t: Any) -> bool:
    """True for classes made with ``typing.NamedTuple``."""
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields") and hasattr(t, "__annotations__")


def output_names_and_types(return_type: Any, where: str) -> tuple[dict[str, Any], type | None]:
    """Outputs of a function from its return annotation: NamedTuple fields by name, a tuple's
    members as ``o0, o1, ...``, one value as ``o0`` and ``None`` as no output."""
    if return_type is None or return_type is type(None) or return_type is _NO_DEFAULT:
        return {}, None
    if isinstance(return_type, tuple):
        # flytekit accepts a bare tuple of types as annotation: ``-> (int, str)``.
        return {f"o{i}": a for i, a in enumerate(return_type)}, None
    if is_named_tuple(return_type):
        hints = typing.get_type_hints(return_type, include_extras=True)
        return {f: hints[f] for f in return_type._fields}, return_type
    origin = typing.get_origin(return_type)
    if origin is tuple:
        args = typing.get_args(return_type)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            raise AuthoringError(
                f"{where}: a tuple return type must list each output's type, e.g. tuple[int, str]; "
                f"got {return_type}"
            )
        return {f"o{i}": a for i, a in enumerate(args)}, None
    return {"o0": return_type}, None


def transform_function_to_interface(fn: Callable[..., Any], where: str) -> Interface:
    """The interface of a Python function from its type hints.

    :param where: the entity's name, for error messages.
    """
    # Decorated functions (functools.wraps) describe the function they wrap.
    fn = inspect.unwrap(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise AuthoringError(f"{where}: cannot resolve a type hint: {exc}") from exc
    sig = inspect.signature(fn)
    inputs: dict[str, tuple[Any, Any]] = {}
    for name, param in sig.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise AuthoringError(f"{where}: *args and **kwargs are not supported (parameter {name!r})")
        if name not in hints:
            raise AuthoringError(
                f"{where}: input {name!r} has no type hint; every input needs one, e.g. {name}: int"
            )
        inputs[name] = (hints[name], param.default)
    outputs, output_tuple = output_names_and_types(hints.get("return", None), where)
    return Interface(inputs=inputs, outputs=outputs, output_tuple=output_tuple, docstring=inspect.getdoc(fn) or "")
