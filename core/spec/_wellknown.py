"""Codecs for the protobuf well-known types the spec uses in place of messages.

Timestamp <-> timezone-aware UTC datetime, Duration <-> timedelta, Struct <-> ``dict[str, Any]``
of JSON values. Encoders fill a message in place (so the caller controls presence); decoders
return the Python value. Used by :mod:`flytecore.spec.idl`.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from flytecore.errors import ConversionError

__all__ = ["enc_timestamp", "dec_timestamp", "enc_duration", "dec_duration", "enc_struct", "dec_struct"]

_MAX_EXACT_INT = 2**53


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def enc_timestamp(value: Any, msg: timestamp_pb2.Timestamp) -> None:
    """Write an aware datetime into ``msg``; naive datetimes are refused rather than guessed.

    What ``Timestamp.FromDatetime`` writes, by exact integer arithmetic on the difference from
    the epoch (a tenth of its cost: every event carries two or three timestamps)."""
    if not isinstance(value, _dt.datetime):
        raise ConversionError(f"expected a datetime, got {value!r}")
    if value.tzinfo is None:
        raise ConversionError(f"naive datetime {value.isoformat()} is ambiguous; use a timezone-aware one (UTC)")
    since = value - _EPOCH
    msg.seconds = since.days * 86400 + since.seconds
    msg.nanos = since.microseconds * 1000


def dec_timestamp(msg: timestamp_pb2.Timestamp) -> _dt.datetime:
    """The instant as an aware UTC datetime (nanoseconds below a microsecond are dropped), as
    ``Timestamp.ToDatetime(tzinfo=UTC)`` gives it."""
    return _EPOCH + _dt.timedelta(seconds=msg.seconds, microseconds=msg.nanos // 1000)


def enc_duration(value: Any, msg: duration_pb2.Duration) -> None:
    """Write a timedelta into ``msg``."""
    if not isinstance(value, _dt.timedelta):
        raise ConversionError(f"expected a timedelta, got {value!r}")
    msg.FromTimedelta(value)


def dec_duration(msg: duration_pb2.Duration) -> _dt.timedelta:
    """The duration as a timedelta."""
    return msg.ToTimedelta()


def enc_struct(value: Any, msg: struct_pb2.Struct) -> None:
    """Write a dict of JSON values (None, bool, numbers, str, lists, dicts) into ``msg``."""
    if not isinstance(value, dict):
        raise ConversionError(f"expected a dict for a protobuf Struct, got {value!r}")
    msg.SetInParent()
    for k, v in value.items():
        if not isinstance(k, str):
            raise ConversionError(f"protobuf Struct keys are strings, got {k!r}")
        _set_value(msg.fields[k], v)


def dec_struct(msg: struct_pb2.Struct) -> dict[str, Any]:
    """The Struct as a dict; integral numbers come back as ``int`` (Struct only has doubles)."""
    return {k: _get_value(v) for k, v in msg.fields.items()}


def _set_value(msg: struct_pb2.Value, value: Any) -> None:
    if value is None:
        msg.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):  # before int: bool is an int
        msg.bool_value = value
    elif isinstance(value, int | float):
        msg.number_value = value
    elif isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, dict):
        enc_struct(value, msg.struct_value)
    elif isinstance(value, list | tuple):
        msg.list_value.SetInParent()  # an empty list is still a list, not null
        for item in value:
            _set_value(msg.list_value.values.add(), item)
    else:
        raise ConversionError(f"{type(value).__name__} value {value!r} cannot go into a protobuf Struct")


def _get_value(msg: struct_pb2.Value) -> Any:
    kind = msg.WhichOneof("kind")
    if kind == "number_value":
        n = msg.number_value
        # Integral doubles were almost always ints (replicas: 3). -0.0 stays a float so that the
        # bytes re-serialize identically.
        if n.is_integer() and abs(n) <= _MAX_EXACT_INT and math.copysign(1.0, n) > 0:
            return int(n)
        return n
    if kind == "struct_value":
        return dec_struct(msg.struct_value)
    if kind == "list_value":
        return [_get_value(v) for v in msg.list_value.values]
    if kind in ("string_value", "bool_value"):
        return getattr(msg, kind)
    return None
