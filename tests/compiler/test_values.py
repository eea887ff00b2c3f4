"""literal_mismatch: literal values against literal types, with messages naming the element."""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass

import pytest

from flytecore.compiler.values import literal_mismatch
from flytecore.sdk.type_engine import get_type_engine


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int = 0


FITS = [
    (3, int),
    (1.5, float),
    ("s", str),
    (True, bool),
    (None, typing.Optional[int]),  # noqa: UP045
    (4, typing.Optional[int]),  # noqa: UP045
    ([1, 2], list[int]),
    ([], list[int]),
    ({"a": [1.0]}, dict[str, list[float]]),
    (Color.RED, Color),
    (Point(1), Point),
    ("x", typing.Union[int, str]),  # noqa: UP007
]


@pytest.mark.parametrize(("value", "py_type"), FITS)
def test_values_fit_their_own_types(value: object, py_type: object) -> None:
    engine = get_type_engine()
    assert literal_mismatch(engine.to_literal(value, py_type), engine.to_literal_type(py_type)) is None


@pytest.mark.parametrize(
    ("value", "value_type", "expected_type", "message"),
    [
        ("3", str, int, "x: expected int, got str"),
        (3, int, float, "x: expected float, got int"),
        ([1, 2], list[int], list[str], "x[0]: expected str, got int"),
        ({"k": 1}, dict[str, int], dict[str, bool], "x['k']: expected bool, got int"),
        ([1], list[int], int, "x: expected int, got a list"),
        (None, type(None), int, "x: expected int, got None"),
        ("green", str, Color, "x: 'green' is not one of red, blue"),
        (1.5, float, typing.Optional[int], "x: expected int | None, got float"),  # noqa: UP045
    ],
)
def test_mismatches_name_element_and_types(value: object, value_type: object, expected_type: object, message: str) -> None:
    engine = get_type_engine()
    literal = engine.to_literal(value, value_type)
    assert literal_mismatch(literal, engine.to_literal_type(expected_type), "x") == message
