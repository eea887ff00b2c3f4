"""The timestamp codecs give exactly what protobuf's own Timestamp methods give, faster."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from flytecore.errors import ConversionError
from flytecore.spec._wellknown import dec_timestamp, enc_timestamp

ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))])


@given(value=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES))
def test_enc_timestamp_writes_what_from_datetime_writes(value: dt.datetime) -> None:
    ours, theirs = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    enc_timestamp(value, ours)
    theirs.FromDatetime(value)
    assert (ours.seconds, ours.nanos) == (theirs.seconds, theirs.nanos)


@given(
    seconds=st.integers(min_value=-62135596800, max_value=253402300799),
    nanos=st.integers(min_value=0, max_value=999_999_999),
)
def test_dec_timestamp_reads_what_to_datetime_reads(seconds: int, nanos: int) -> None:
    msg = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    decoded = dec_timestamp(msg)
    assert decoded == msg.ToDatetime(tzinfo=dt.UTC) and decoded.tzinfo == dt.UTC


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ConversionError, match="ambiguous"):
        enc_timestamp(dt.datetime(2026, 11, 27), timestamp_pb2.Timestamp())
