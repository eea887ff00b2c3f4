"""Transformers of scalar types: numbers, text, bytes, times, ``None`` and string enums.

Each stores its value in the same ``Primitive`` field as flytekit 1.16 does, under flytekit's
transformer name. ``bytes`` has no flytekit form; it is ``Binary(value, tag="bytes")``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import numbers
from typing import Any

from flytecore.sdk.type_engine import (
    TypeTransformer,
    describe_literal,
    describe_value,
    is_enum_type,
    mismatch,
    type_name,
)
from flytecore.spec.literals import Binary, Literal, Primitive, Scalar, Void
from flytecore.spec.types import EnumType, LiteralType, SimpleType

__all__ = [
    "BoolTransformer",
    "BytesTransformer",
    "DateTransformer",
    "DatetimeTransformer",
    "EnumTransformer",
    "FloatTransformer",
    "IntTransformer",
    "NoneTransformer",
    "StrTransformer",
    "TimedeltaTransformer",
    "simple_transformers",
]

BYTES_TAG = "bytes"
"""``Binary.tag`` of a ``bytes`` value."""


def _primitive(literal: Literal) -> Primitive | None:
    return literal.scalar.primitive if literal.scalar is not None else None


def _of(**primitive: Any) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(**primitive)))


class _SimpleTransformer(TypeTransformer[Any]):
    """A scalar type with one ``SimpleType``; subclasses convert the value."""

    simple: SimpleType
    primitive_field: str | None = None
    """The flyteidl ``Primitive`` field a value of exactly :attr:`python_type` is stored in, for
    :meth:`TypeEngine.primitive_field` (None: this transformer has no such plain form)."""

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``LiteralType(simple=...)`` of this scalar type."""
        return LiteralType(simple=self.simple)

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """This transformer's type for its ``SimpleType``."""
        return self.python_type if literal_type.simple == self.simple else None


class IntTransformer(_SimpleTransformer):
    """``int`` as ``Primitive.integer``. A ``bool`` is not accepted (it is an ``int`` subclass
    only by accident of history; ``True`` for an ``int`` input is almost always a mistake)."""

    name, python_type, simple = "int", int, SimpleType.INTEGER
    primitive_field = "integer"

    def is_instance(self, value: Any, python_type: Any) -> bool:
        """Ints but not bools."""
        return isinstance(value, int) and not isinstance(value, bool)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """Any integral number but a bool."""
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return _of(integer=int(value))
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> int:
        """The integer of an ``integer`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.integer is None:
            raise mismatch("int", describe_literal(literal))
        return primitive.integer


class FloatTransformer(_SimpleTransformer):
    """``float`` as ``Primitive.float_value``; ints (not bools) are accepted and widened."""

    name, python_type, simple = "float", float, SimpleType.FLOAT
    primitive_field = "float_value"

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """Any real number but a bool, as a float."""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return _of(float_value=float(value))
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> float:
        """The float of a ``float_value`` or ``integer`` primitive (flytekit reads both)."""
        primitive = _primitive(literal)
        if primitive is not None and primitive.float_value is not None:
            return primitive.float_value
        if primitive is not None and primitive.integer is not None:
            return float(primitive.integer)
        raise mismatch("float", describe_literal(literal))


class StrTransformer(_SimpleTransformer):
    """``str`` as ``Primitive.string_value``."""

    name, python_type, simple = "str", str, SimpleType.STRING
    primitive_field = "string_value"

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A str (a str subclass such as a str enum member is stored as its plain text)."""
        if isinstance(value, str):
            return _of(string_value=str.__str__(value))
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> str:
        """The text of a ``string_value`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.string_value is None:
            raise mismatch("str", describe_literal(literal))
        return primitive.string_value


class BoolTransformer(_SimpleTransformer):
    """``bool`` as ``Primitive.boolean``; ints are not accepted."""

    name, python_type, simple = "bool", bool, SimpleType.BOOLEAN
    primitive_field = "boolean"

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A bool."""
        if isinstance(value, bool):
            return _of(boolean=value)
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> bool:
        """The bool of a ``boolean`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.boolean is None:
            raise mismatch("bool", describe_literal(literal))
        return primitive.boolean


class BytesTransformer(_SimpleTransformer):
    """``bytes`` as ``Binary(value, tag="bytes")`` (flytekit has no bytes transformer)."""

    name, python_type, simple = "bytes", bytes, SimpleType.BINARY

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """bytes, bytearray or memoryview, stored as bytes."""
        if isinstance(value, bytes | bytearray | memoryview):
            return Literal(scalar=Scalar(binary=Binary(value=bytes(value), tag=BYTES_TAG)))
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> bytes:
        """The bytes of a ``Binary`` literal."""
        if literal.scalar is None or literal.scalar.binary is None:
            raise mismatch("bytes", describe_literal(literal))
        return literal.scalar.binary.value


class DatetimeTransformer(_SimpleTransformer):
    """``datetime.datetime`` as ``Primitive.datetime`` in UTC (flytekit's wire form is a UTC
    protobuf Timestamp). Naive values are taken as UTC; values come back timezone-aware in UTC,
    equal to the aware value that went in."""

    name, python_type, simple = "datetime", dt.datetime, SimpleType.DATETIME

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A datetime, normalised to UTC."""
        if not isinstance(value, dt.datetime):
            raise mismatch(expected, describe_value(value))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return _of(datetime=value.astimezone(dt.UTC))

    def to_python_value(self, literal: Literal, python_type: Any) -> dt.datetime:
        """The UTC datetime of a ``datetime`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.datetime is None:
            raise mismatch("datetime", describe_literal(literal))
        value = primitive.datetime
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class DateTransformer(_SimpleTransformer):
    """``datetime.date`` as the UTC midnight of that day in ``Primitive.datetime`` (flytekit)."""

    name, python_type, simple = "date", dt.date, SimpleType.DATETIME

    def is_instance(self, value: Any, python_type: Any) -> bool:
        """Dates but not datetimes (a datetime is a date subclass)."""
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A date; a datetime is refused rather than silently losing its time."""
        if not self.is_instance(value, python_type):
            raise mismatch("date", describe_value(value))
        return _of(datetime=dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC))

    def to_python_value(self, literal: Literal, python_type: Any) -> dt.date:
        """The UTC date of a ``datetime`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.datetime is None:
            raise mismatch("date", describe_literal(literal))
        value = primitive.datetime
        return (value.astimezone(dt.UTC) if value.tzinfo is not None else value).date()

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """None: a ``DATETIME`` literal type is guessed as ``datetime``."""
        return None


class TimedeltaTransformer(_SimpleTransformer):
    """``datetime.timedelta`` as ``Primitive.duration``."""

    name, python_type, simple = "timedelta", dt.timedelta, SimpleType.DURATION

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A timedelta."""
        if isinstance(value, dt.timedelta):
            return _of(duration=value)
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> dt.timedelta:
        """The timedelta of a ``duration`` primitive."""
        primitive = _primitive(literal)
        if primitive is None or primitive.duration is None:
            raise mismatch("timedelta", describe_literal(literal))
        return primitive.duration


class NoneTransformer(_SimpleTransformer):
    """``None`` as ``Scalar.none_type`` (``Void``)."""

    name, python_type, simple = "none", type(None), SimpleType.NONE

    def matches(self, python_type: Any) -> bool:
        """``None`` and ``NoneType``."""
        return python_type is None or python_type is type(None)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """None."""
        if value is None:
            return Literal(scalar=Scalar(none_type=Void()))
        raise mismatch(expected, describe_value(value))

    def to_python_value(self, literal: Literal, python_type: Any) -> None:
        """None, from a ``Void`` literal."""
        if literal.scalar is None or literal.scalar.none_type is None:
            raise mismatch("None", describe_literal(literal))
        return None


def simple_transformers() -> list[TypeTransformer[Any]]:
    """The scalar transformers, date before datetime so a guess of ``DATETIME`` is datetime."""
    return [
        IntTransformer(),
        FloatTransformer(),
        StrTransformer(),
        BoolTransformer(),
        BytesTransformer(),
        DateTransformer(),
        DatetimeTransformer(),
        TimedeltaTransformer(),
        NoneTransformer(),
    ]


class EnumTransformer(TypeTransformer[enum.Enum]):
    """``enum.Enum`` subclasses with str values, as ``EnumType`` and the member's value in
    ``Primitive.string_value`` (flytekit's form)."""

    name, python_type = "DefaultEnumTransformer", enum.Enum

    def matches(self, python_type: Any) -> bool:
        """Any Enum subclass (also ``class C(str, Enum)``, which must not be taken as ``str``)."""
        return is_enum_type(python_type)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``EnumType`` of the member values; non-str values are refused."""
        values = [member.value for member in python_type]
        bad = [f"{m.name}={m.value!r}" for m in python_type if not isinstance(m.value, str)]
        if bad:
            raise mismatch(
                "an enum with str values", f"{type_name(python_type)} with values {', '.join(bad)}"
            )
        return LiteralType(enum_type=EnumType(values=tuple(values)))

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A member of the declared enum class."""
        if not isinstance(value, python_type):
            raise mismatch(f"{type_name(python_type)} ({expected.short()})", describe_value(value))
        return _of(string_value=value.value)

    def to_python_value(self, literal: Literal, python_type: Any) -> enum.Enum:
        """The member whose value is the literal's string."""
        primitive = _primitive(literal)
        if primitive is None or primitive.string_value is None:
            raise mismatch(type_name(python_type), describe_literal(literal))
        try:
            return python_type(primitive.string_value)  # type: ignore[no-any-return]
        except ValueError:
            values = ", ".join(repr(m.value) for m in python_type)
            raise mismatch(f"{type_name(python_type)} (one of {values})", describe_literal(literal)) from None

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """A generated Enum whose member names are the values."""
        if literal_type.enum_type is None:
            return None
        return _dynamic_enum(literal_type.enum_type.values)


@functools.lru_cache(maxsize=256)
def _dynamic_enum(values: tuple[str, ...]) -> type[enum.Enum]:
    # Cached so two guesses of one literal type give the same class (values then compare equal).
    return enum.Enum("DynamicEnum", {v: v for v in values})  # type: ignore[return-value]
