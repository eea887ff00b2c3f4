"""Attribute access into msgpack-encoded values (flytekit >= 1.14 writes dataclasses so), as
FlytePropeller resolves it: a list member becomes a collection of msgpack values, anything else
one msgpack value."""

from __future__ import annotations

import msgpack
import pytest

from flytecore.propeller.bindings import BindingError, resolve_bindings
from flytecore.spec.literals import Binary, Binding, BindingData, Literal, LiteralMap, Scalar
from flytecore.spec.types import OutputReference
from flytecore.spec.workflow import START_NODE_ID


def packed(value: object) -> Literal:
    return Literal(scalar=Scalar(binary=Binary(value=msgpack.packb(value), tag="msgpack")))


INPUTS = LiteralMap(literals={"s": packed({"factor": 3, "tags": ["a", "b"], "inner": {"x": 1.5}})})


def resolve(*path: str | int) -> Literal:
    binding = Binding(var="v", binding=BindingData(promise=OutputReference(node_id="", var="s", attr_path=path)))
    return resolve_bindings([binding], lambda node: INPUTS if node == START_NODE_ID else None).literals["v"]


def test_a_field_is_a_msgpack_value() -> None:
    assert resolve("factor") == packed(3)
    assert resolve("inner", "x") == packed(1.5)


def test_a_list_field_is_a_collection_and_can_be_indexed() -> None:
    assert resolve("tags") == Literal(collection=(packed("a"), packed("b")))
    assert resolve("tags", 1) == packed("b")


def test_a_missing_field_names_the_input_and_the_member() -> None:
    with pytest.raises(BindingError, match=r"input 'v'.*no member 'nosuch'"):
        resolve("nosuch")
