"""The type engine: how Python values become literals (flyteidl's values) and back.

A :class:`TypeTransformer` handles one family of Python types (``int``, ``list[T]``, dataclasses,
``FlyteFile`` …). A :class:`TypeEngine` is built from a list of transformers, the later ones
taking precedence, and dispatches on the declared Python type. The transformers come from the
plugin host: the built-in ``core_types`` plugin registers :func:`builtin_transformers` through the
``flytecore_register_type_transformers`` hook, which is also how third-party plugins add theirs.
:func:`get_type_engine` gives the engine of the current plugin host.

Literal forms follow flytekit 1.16 so that flytekit task containers read the ``inputs.pb`` that
flytecore writes and the other way round; where flytekit has no form (``bytes``) flytecore
defines one. Union variants are tagged with the transformer's ``name``, as flytekit does, so
built-in transformers carry flytekit's transformer names.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import enum
import typing
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, Generic, TypeVar

from flytecore.errors import TypeTransformerError, UserInputError
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.types import LiteralType

if typing.TYPE_CHECKING:
    from flytecore.plugin.manager import PluginHost

__all__ = [
    "PickleFallbackWarning",
    "TypeConversionError",
    "TypeEngine",
    "TypeTransformer",
    "builtin_transformers",
    "current_engine",
    "describe_literal",
    "describe_value",
    "get_type_engine",
    "mismatch",
    "strip_annotated",
    "type_name",
    "value_is_instance",
]

T = TypeVar("T")


class PickleFallbackWarning(UserWarning):
    """A type has no transformer and its values travel as pickle files (like flytekit's
    ``FlytePickle``): readable only by the same Python and library versions, opaque to the UI."""


class TypeConversionError(TypeTransformerError):
    """A value or literal does not fit the declared type.

    The message reads ``<where>: <problem>``, e.g. ``input 'x' at [2]: expected int, got str
    'abc'``; containers add the location (``[2]``, ``['key']``, ``.field``) on the way out and the
    engine's boundary functions add the input or output name.
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: tuple[str, ...] = ()
        self.var: str | None = None
        self.kind = "input"
        super().__init__(problem)

    @property
    def where(self) -> str:
        """The location part of the message ("" when there is none)."""
        parts = []
        if self.var is not None:
            parts.append(f"{self.kind} {self.var!r}")
        if self.path:
            parts.append("at " + "".join(self.path))
        return " ".join(parts)

    def prepend(self, step: str) -> TypeConversionError:
        """Record that the problem lies inside ``step`` (``[2]``, ``['k']``, ``.field``)."""
        self.path = (step, *self.path)
        self._refresh()
        return self

    def named(self, var: str | None, kind: str) -> TypeConversionError:
        """Record the input or output name the problem belongs to."""
        if var is not None and self.var is None:
            self.var, self.kind = var, kind
            self._refresh()
        return self

    def _refresh(self) -> None:
        self.args = (f"{self.where}: {self.problem}" if self.where else self.problem,)


# --- describing values and types in messages -------------------------------------------------


def type_name(python_type: Any) -> str:
    """A short readable name of a Python type: ``int``, ``list[int]``, ``Point``, ``int | None``."""
    if python_type is type(None) or python_type is None:
        return "None"
    if isinstance(python_type, type) and not typing.get_args(python_type):
        return _class_name(python_type)
    return repr(python_type).replace("typing.", "")


def _class_name(cls: type) -> str:
    # ``Outer.Inner`` reads well; ``test_x.<locals>.Point`` does not.
    return cls.__name__ if "<locals>" in cls.__qualname__ else cls.__qualname__


def describe_value(value: Any, limit: int = 60) -> str:
    """``str 'abc'``, ``bool True``, ``None``: the type and a truncated repr of a value."""
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{_class_name(type(value))} {text}"


def describe_literal(literal: Literal) -> str:
    """A short description of a literal's kind and value, for error messages."""
    if literal.collection is not None:
        return f"a collection of {len(literal.collection)}"
    if literal.map is not None:
        return f"a map of {len(literal.map)}"
    scalar = literal.scalar
    assert scalar is not None
    if scalar.primitive is not None:
        return "literal " + describe_value(scalar.primitive.value)
    if scalar.none_type is not None:
        return "literal None"
    if scalar.blob is not None:
        return f"a blob {scalar.blob.uri!r} (format {scalar.blob.metadata.type.format!r})"
    if scalar.binary is not None:
        return f"binary data (tag {scalar.binary.tag!r})"
    if scalar.generic is not None:
        return "a struct (JSON object)"
    if scalar.union is not None:
        return f"a union value stored as {scalar.union.type.short()}"
    return "an error literal"


def mismatch(expected: LiteralType | str, got: str) -> TypeConversionError:
    """The standard error: ``expected <type>, got <what>``."""
    text = expected.short() if isinstance(expected, LiteralType) else expected
    return TypeConversionError(f"expected {text}, got {got}")


# --- transformers ----------------------------------------------------------------------------


class TypeTransformer(Generic[T]):
    """Turns values of one family of Python types into literals and back.

    Subclasses set ``name`` (unique among registered transformers; it is also the tag of union
    variants, so flytekit's transformer names are kept for the built-in types) and implement
    :meth:`get_literal_type`, :meth:`to_literal` and :meth:`to_python_value`. Nested values
    (list items, dataclass fields) are converted through :func:`current_engine`, so that a
    plugin's transformer for the item type is used inside containers too.

    :param name: the transformer's name; defaults to the class attribute ``name``.
    :param python_type: the type this transformer is for; :meth:`matches` compares with it.
    """

    name: str = ""
    python_type: Any = None
    is_fallback: bool = False
    """A fallback is used only when no other transformer matches (the pickle transformer)."""

    def __init__(self, name: str | None = None, python_type: Any = None) -> None:
        if name is not None:
            self.name = name
        if python_type is not None:
            self.python_type = python_type
        if not self.name:
            raise TypeError(f"{type(self).__name__} needs a name")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def matches(self, python_type: Any) -> bool:
        """Whether this transformer handles ``python_type`` (``Annotated`` already removed)."""
        return bool(python_type is self.python_type)

    def is_instance(self, value: Any, python_type: Any) -> bool:
        """Whether ``value`` is exactly of ``python_type``, without conversion (a union uses it
        to choose among variants that would all accept a value, e.g. ``3`` for ``int | float``)."""
        cls = typing.get_origin(python_type) or python_type
        try:
            return isinstance(value, cls)
        except TypeError:
            return False

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """The literal type of ``python_type``."""
        raise NotImplementedError

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """The literal of ``value`` declared as ``python_type`` (of literal type ``expected``);
        raises :class:`TypeConversionError` when the value does not fit."""
        raise NotImplementedError

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        """The Python value of ``literal`` as ``python_type``; raises
        :class:`TypeConversionError` when the literal does not fit."""
        raise NotImplementedError

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """A Python type for ``literal_type`` (when only the literal type is known, e.g. the
        interface of a remote task), or None if this transformer does not recognise it."""
        return None


# --- the engine ------------------------------------------------------------------------------

_active: contextvars.ContextVar[TypeEngine | None] = contextvars.ContextVar("flytecore_type_engine", default=None)


class TypeEngine:
    """Converts between Python values and literals with a list of transformers.

    :param transformers: in registration order; a later transformer that matches a type wins
        over an earlier one. Transformers marked ``is_fallback`` are tried only when no other
        matches.
    """

    def __init__(self, transformers: Iterable[TypeTransformer[Any]]) -> None:
        ordered = list(transformers)
        # Plugins may register duck-typed transformers (the registry checks only the required
        # methods), so the optional attributes are read with defaults here and below.
        fallback = [bool(getattr(t, "is_fallback", False)) for t in ordered]
        self.transformers: list[TypeTransformer[Any]] = [t for t, f in zip(ordered, fallback, strict=True) if not f][::-1]
        self.fallbacks: list[TypeTransformer[Any]] = [t for t, f in zip(ordered, fallback, strict=True) if f][::-1]
        self._transformer_cache: dict[Any, TypeTransformer[Any]] = {}
        self._literal_type_cache: dict[Any, LiteralType] = {}

    def __repr__(self) -> str:
        return f"TypeEngine({', '.join(t.name for t in self.transformers + self.fallbacks)})"

    @contextlib.contextmanager
    def activated(self) -> Iterator[TypeEngine]:
        """Make this engine the one nested conversions use (see :func:`current_engine`)."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    # -- lookup ----------------------------------------------------------------------------------

    def get_transformer(self, python_type: Any) -> TypeTransformer[Any]:
        """The transformer for ``python_type``: one given in ``Annotated[T, transformer]``, else
        the latest registered that matches, else a fallback (with a
        :class:`PickleFallbackWarning`, once per type and engine)."""
        try:
            return self._transformer_cache[python_type]
        except (KeyError, TypeError):
            pass
        transformer = self._find_transformer(python_type)
        with contextlib.suppress(TypeError):
            self._transformer_cache[python_type] = transformer
        return transformer

    def primitive_field(self, python_type: Any) -> str | None:
        """The flyteidl ``Primitive`` field (``integer``, ``float_value``, ``string_value``,
        ``boolean``) that values of ``python_type`` are stored in when its transformer is the
        built-in one of exactly that type (``int``, ``float``, ``str``, ``bool``); None for any
        other type or transformer (a subclass of a built-in one has none unless it declares it
        itself: it may convert differently). Tasks convert such values straight between
        flyteidl messages and Python (``PythonFunctionTask.inputs_from_idl``)."""
        try:
            transformer = self.get_transformer(python_type)
        except Exception:  # the general path meets it again, and says so where it belongs
            return None
        field: str | None = type(transformer).__dict__.get("primitive_field")
        return field if field is not None and transformer.python_type is python_type else None

    def _find_transformer(self, python_type: Any) -> TypeTransformer[Any]:
        if typing.get_origin(python_type) is Annotated:
            for extra in python_type.__metadata__:
                if isinstance(extra, TypeTransformer):
                    return extra
            python_type = python_type.__origin__
        for transformer in self.transformers:
            if transformer.matches(python_type):
                return transformer
        for transformer in self.fallbacks:
            if transformer.matches(python_type):
                warnings.warn(
                    f"type {type_name(python_type)} has no type transformer; its values are stored as "
                    f"pickle files ({transformer.name}), readable only by the same Python and library "
                    "versions. Use a dataclass or a supported type, or register a transformer.",
                    PickleFallbackWarning,
                    stacklevel=4,
                )
                return transformer
        raise TypeConversionError(f"no type transformer handles {type_name(python_type)}")

    def to_literal_type(self, python_type: Any) -> LiteralType:
        """The literal type of ``python_type`` (cached per type)."""
        try:
            return self._literal_type_cache[python_type]
        except (KeyError, TypeError):
            pass
        transformer = self.get_transformer(python_type)
        with self.activated():
            literal_type = transformer.get_literal_type(strip_annotated(python_type))
        with contextlib.suppress(TypeError):
            self._literal_type_cache[python_type] = literal_type
        return literal_type

    # -- values ----------------------------------------------------------------------------------

    def to_literal(self, value: Any, python_type: Any, *, name: str | None = None, kind: str = "input") -> Literal:
        """The literal of ``value`` declared as ``python_type``.

        :param name: the input or output name, for error messages (``input 'x': expected int,
            got str 'abc'``).
        :param kind: what ``name`` names: ``"input"`` or ``"output"``.
        :raises TypeConversionError: the value does not fit the type.
        """
        try:
            with self.activated():
                return self.literal_converter(python_type)(value)
        except TypeConversionError as exc:
            raise exc.named(name, kind) from exc.__cause__

    def literal_converter(self, python_type: Any) -> Callable[[Any], Literal]:
        """:meth:`to_literal` (without a name) for many values of ``python_type``, its
        transformer and literal type looked up once: a list's items, a dict's values. For
        transformers, which run while this engine is active."""
        transformer = self.get_transformer(python_type)
        bare = strip_annotated(python_type)
        failed: Exception | None = None
        try:
            expected = self.to_literal_type(python_type)
        except (TypeTransformerError, TypeError, ValueError, AssertionError) as exc:
            failed = exc  # reported for the value, as a conversion of it

        def convert(value: Any) -> Literal:
            try:
                if failed is not None:
                    raise failed
                return transformer.to_literal(value, bare, expected)
            except TypeConversionError:
                raise
            except (TypeTransformerError, TypeError, ValueError, AssertionError) as exc:
                raise TypeConversionError(
                    f"cannot convert {describe_value(value)} to {type_name(bare)} ({transformer.name}): {exc}"
                ) from exc

        return convert

    def to_python_value(self, literal: Literal, python_type: Any, *, name: str | None = None, kind: str = "input") -> Any:
        """The Python value of ``literal`` as ``python_type``.

        :param name: the input or output name, for error messages.
        :param kind: what ``name`` names: ``"input"`` or ``"output"``.
        :raises TypeConversionError: the literal does not fit the type.
        """
        try:
            with self.activated():
                return self.python_converter(python_type)(literal)
        except TypeConversionError as exc:
            raise exc.named(name, kind) from exc.__cause__

    def python_converter(self, python_type: Any) -> Callable[[Literal], Any]:
        """:meth:`to_python_value` (without a name) for many literals of ``python_type``, its
        transformer looked up once (see :meth:`literal_converter`)."""
        transformer = self.get_transformer(python_type)
        bare = strip_annotated(python_type)

        def convert(literal: Literal) -> Any:
            try:
                return transformer.to_python_value(literal, bare)
            except TypeConversionError:
                raise
            except (TypeTransformerError, TypeError, ValueError, AttributeError, AssertionError) as exc:
                raise TypeConversionError(
                    f"cannot convert {describe_literal(literal)} to {type_name(bare)} ({transformer.name}): {exc}"
                ) from exc

        return convert

    def literal_map_from_python(
        self, values: dict[str, Any], types: dict[str, Any], *, kind: str = "input"
    ) -> LiteralMap:
        """A literal map of ``values``, each converted with its type in ``types``.

        Names in ``types`` without a value are left out (defaults and required-input checks are
        the caller's); a value without a type is an error.

        :param kind: ``"input"`` or ``"output"``, for error messages.
        :raises UserInputError: a value has no declared type.
        :raises TypeConversionError: a value does not fit its type (the message names it).
        """
        unknown = sorted(set(values) - set(types))
        if unknown:
            known = ", ".join(sorted(types)) or "none"
            raise UserInputError(
                f"unknown {kind}{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"declared {kind}s: {known}"
            )
        return LiteralMap(
            literals={k: self.to_literal(v, types[k], name=k, kind=kind) for k, v in values.items()}
        )

    def python_from_literal_map(self, literal_map: LiteralMap, types: dict[str, Any], *, kind: str = "input") -> dict[str, Any]:
        """The Python values of a literal map, each converted with its type in ``types``.

        :param kind: ``"input"`` or ``"output"``, for error messages.
        :raises UserInputError: a literal has no declared type.
        :raises TypeConversionError: a literal does not fit its type (the message names it).
        """
        unknown = sorted(set(literal_map.literals) - set(types))
        if unknown:
            known = ", ".join(sorted(types)) or "none"
            raise UserInputError(
                f"unknown {kind}{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"declared {kind}s: {known}"
            )
        return {
            k: self.to_python_value(lit, types[k], name=k, kind=kind) for k, lit in literal_map.literals.items()
        }

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        """A Python type for ``literal_type``: the first transformer (latest registered first)
        that recognises it decides.

        :raises TypeConversionError: no transformer recognises the literal type.
        """
        with self.activated():
            for transformer in self.transformers + self.fallbacks:
                guess = getattr(transformer, "guess_python_type", None)
                guessed = guess(literal_type) if guess is not None else None
                if guessed is not None:
                    return guessed
        raise TypeConversionError(f"no type transformer can give a Python type for {literal_type.short()}")


def value_is_instance(transformer: TypeTransformer[Any], value: Any, python_type: Any) -> bool:
    """``transformer.is_instance(value, python_type)``, with the default check for transformers
    that do not derive from :class:`TypeTransformer`."""
    check = getattr(transformer, "is_instance", None)
    if check is None:
        return TypeTransformer.is_instance(transformer, value, python_type)
    return bool(check(value, python_type))


def strip_annotated(python_type: Any) -> Any:
    """``T`` for ``Annotated[T, ...]``; other types as they are."""
    while typing.get_origin(python_type) is Annotated:
        python_type = python_type.__origin__
    return python_type


# --- engines of plugin hosts -------------------------------------------------------------------

_engines: weakref.WeakKeyDictionary[PluginHost, TypeEngine] = weakref.WeakKeyDictionary()


def get_type_engine(host: PluginHost | None = None) -> TypeEngine:
    """The type engine of ``host`` (default: the current plugin host), built once per host from
    the transformers its plugins registered."""
    if host is None:
        from flytecore.plugin import get_host

        host = get_host()
    engine = _engines.get(host)
    if engine is None:
        engine = TypeEngine(transformer for _name, transformer in host.type_transformers.items())  # type: ignore[misc]
        _engines[host] = engine
    return engine


def current_engine() -> TypeEngine:
    """The engine converting right now (so nested values use the same transformers), else the
    engine of the current plugin host."""
    return _active.get() or get_type_engine()


def builtin_transformers() -> list[TypeTransformer[Any]]:
    """The core transformers, in registration order (registered by the ``core_types`` plugin)."""
    from flytecore.sdk.transformers.containers import DictTransformer, ListTransformer, UnionTransformer
    from flytecore.sdk.transformers.error import ErrorTransformer
    from flytecore.sdk.transformers.files import FlyteDirectoryTransformer, FlyteFileTransformer
    from flytecore.sdk.transformers.pickled import PickleTransformer
    from flytecore.sdk.transformers.simple import EnumTransformer, simple_transformers
    from flytecore.sdk.transformers.structs import DataclassTransformer

    return [
        PickleTransformer(),
        *simple_transformers(),
        EnumTransformer(),
        ListTransformer(),
        DictTransformer(),
        UnionTransformer(),
        DataclassTransformer(),
        ErrorTransformer(),  # after the dataclass transformer: FlyteError is a dataclass
        FlyteFileTransformer(),
        FlyteDirectoryTransformer(),
    ]


def is_dataclass_type(python_type: Any) -> bool:
    """Whether ``python_type`` is a dataclass class (not an instance)."""
    return isinstance(python_type, type) and dataclasses.is_dataclass(python_type)


def is_enum_type(python_type: Any) -> bool:
    """Whether ``python_type`` is an ``enum.Enum`` subclass."""
    return isinstance(python_type, type) and issubclass(python_type, enum.Enum)
