"""is_castable: Flyte's type compatibility rules."""

from __future__ import annotations

import pytest

from flytecore.compiler.typing import is_castable, is_optional, literal_type_of_scalar
from flytecore.spec.literals import Binary, Scalar
from flytecore.spec.types import LiteralType

from .builders import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    STRUCT,
    blob,
    dict_of,
    enum,
    list_of,
    lit,
    optional,
    struct,
    tagged,
    union,
)

CASTABLE = [
    (INT, INT, "same simple type"),
    (STR, STR, "same simple type"),
    (NONE, optional(INT), "None into Optional"),
    (INT, optional(INT), "value into Optional"),
    (INT, union(STR, INT), "value into a union with a matching variant"),
    (optional(INT), optional(INT), "union into the same union"),
    (union(tagged(INT, "int")), INT, "a one-variant union is its variant"),
    (
        union(tagged(INT, "int"), tagged(STR, "str")),
        union(tagged(STR, "str"), tagged(INT, "int"), tagged(BOOL, "bool")),
        "union into a wider union",
    ),
    (list_of(INT), list_of(INT), "lists element-wise"),
    (list_of(NONE), list_of(STR), "empty list into any list"),
    (dict_of(NONE), dict_of(FLOAT), "empty map into any map"),
    (list_of(list_of(INT)), list_of(list_of(optional(INT))), "nested lists element-wise"),
    (dict_of(INT), dict_of(optional(INT)), "maps element-wise"),
    (blob("csv"), blob("csv"), "same blob format"),
    (blob(""), blob("csv"), "generic blob into formatted blob"),
    (blob("csv"), blob(""), "formatted blob into generic blob"),
    (blob(directory=True), blob(directory=True), "directory into directory"),
    (enum("a", "b"), enum("a", "b", "c"), "enum into an enum with more values"),
    (enum("a"), STR, "enum into string"),
    (STR, enum("a"), "string into enum (the value is checked at run time)"),
    (struct("A"), struct("B"), "struct metadata is not compared"),
    (STRUCT, struct("A"), "generic struct into dataclass"),
    (struct("A"), union(INT, struct("A")), "dataclass into a union with a struct variant"),
    (tagged(INT, "x"), INT, "tags outside unions do not matter"),
]

NOT_CASTABLE = [
    (INT, FLOAT, "Flyte never widens int to float"),
    (FLOAT, INT, "float into int"),
    (STR, INT, "different simple types"),
    (NONE, INT, "None into a non-optional"),
    (INT, NONE, "a value into None"),
    (optional(INT), INT, "Optional into its non-optional type"),
    (union(tagged(INT, "int"), tagged(STR, "str")), union(tagged(INT, "int")), "union into a narrower union"),
    (union(tagged(INT, "a")), union(tagged(INT, "b"), tagged(STR, "s")), "same variant type, different tags"),
    (FLOAT, union(STR, INT), "value into a union without a matching variant"),
    (list_of(INT), list_of(FLOAT), "list elements must be castable"),
    (INT, list_of(INT), "scalar into list"),
    (list_of(INT), INT, "list into scalar"),
    (dict_of(INT), list_of(INT), "map into list"),
    (list_of(INT), dict_of(INT), "list into map"),
    (blob("csv"), blob("parquet"), "different blob formats"),
    (blob(), blob(directory=True), "file into directory"),
    (STR, blob(), "string into blob"),
    (enum("a", "z"), enum("a", "b"), "enum with values the other lacks"),
    (enum("a"), INT, "enum into int"),
    (INT, enum("a"), "int into enum"),
    (STRUCT, INT, "struct into int"),
]


@pytest.mark.parametrize(("up", "down", "why"), CASTABLE, ids=[c[2] for c in CASTABLE])
def test_castable(up: LiteralType, down: LiteralType, why: str) -> None:
    assert is_castable(up, down), why


@pytest.mark.parametrize(("up", "down", "why"), NOT_CASTABLE, ids=[c[2] for c in NOT_CASTABLE])
def test_not_castable(up: LiteralType, down: LiteralType, why: str) -> None:
    assert not is_castable(up, down), why


def test_is_optional() -> None:
    assert is_optional(optional(INT))
    assert not is_optional(union(INT, STR))
    assert not is_optional(INT)


def test_literal_type_of_scalar() -> None:
    assert literal_type_of_scalar(lit(3).scalar) == INT  # type: ignore[arg-type]
    assert literal_type_of_scalar(lit(3.5).scalar) == FLOAT  # type: ignore[arg-type]
    assert literal_type_of_scalar(lit(None).scalar) == NONE  # type: ignore[arg-type]
    assert literal_type_of_scalar(Scalar(generic={"a": 1})) == STRUCT
    # An encoded binary (e.g. a msgpack dataclass) has no type the compiler can tell.
    assert literal_type_of_scalar(Scalar(binary=Binary(value=b"\x80", tag="msgpack"))) is None
