"""Task inputs and outputs of ``int``, ``float``, ``str`` and ``bool`` go straight between
flyteidl messages and Python (``inputs_from_idl`` / ``outputs_to_idl``): the same values and the
same bytes as the general path (spec literals and the type engine), which everything else takes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any
from unittest import mock

import pytest
from flyteidl.core import errors_pb2, literals_pb2
from hypothesis import given
from hypothesis import strategies as st

from flytecore import task
from flytecore.errors import UserInputError
from flytecore.plugin import hookimpl, make_plugin_host, use_host
from flytecore.sdk.entrypoint import main
from flytecore.sdk.task import PythonFunctionTask
from flytecore.sdk.transformers.simple import IntTransformer
from flytecore.sdk.type_engine import TypeEngine, builtin_transformers, get_type_engine
from flytecore.spec import idl
from flytecore.spec.literals import LiteralMap
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import NON_RECOVERABLE, SYSTEM, USER, run_task
from tests.sdk.test_type_engine import MyTypesPlugin


@task
def mixed(i: int, f: float, s: str, b: bool) -> tuple[int, float, str, bool]:
    return i, f, s, b


@task
def as_float(x: float) -> float:
    return x


@task
def maybe(x: int | None = None) -> int | None:
    return x


@task
def huge() -> int:
    return 2**70


@task
def flag_for_int() -> int:
    return True


@task
def number_for_flag() -> bool:
    return 1  # type: ignore[return-value]


def _general_bytes(t: Any, result: Any) -> bytes:
    return idl.literal_map_to_bytes(LiteralMap(literals=t.outputs_to_literals(result)))


def _message(**literals: literals_pb2.Literal) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals=literals)


def _primitive(**value: Any) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**value)))


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(i=_INT64, f=st.floats(allow_nan=False), s=st.text(), b=st.booleans())
def test_outputs_are_the_bytes_the_general_path_writes(i: int, f: float, s: str, b: bool) -> None:
    fast = mixed.outputs_to_idl((i, f, s, b)).SerializeToString(deterministic=True)
    assert fast == _general_bytes(mixed, (i, f, s, b))


@given(i=_INT64, f=st.floats(allow_nan=False), s=st.text(), b=st.booleans())
def test_inputs_are_the_values_the_general_path_reads(i: int, f: float, s: str, b: bool) -> None:
    message = literals_pb2.LiteralMap.FromString(_general_bytes(mixed, (i, f, s, b)))
    renamed = _message(i=message.literals["o0"], f=message.literals["o1"], s=message.literals["o2"],
                       b=message.literals["o3"])
    fast = mixed.inputs_from_idl(renamed)
    assert fast == mixed.inputs_to_python(idl.from_idl(renamed, LiteralMap).literals) == {"i": i, "f": f, "s": s, "b": b}
    assert type(fast["b"]) is bool and type(fast["i"]) is int  # type: ignore[index]


def test_a_nan_output_is_written_as_the_general_path_writes_it() -> None:
    assert as_float.outputs_to_idl(math.nan).SerializeToString(deterministic=True) == _general_bytes(as_float, math.nan)


def test_an_integer_for_a_float_is_read_and_written_widened_as_the_transformer_does() -> None:
    read = as_float.inputs_from_idl(_message(x=_primitive(integer=3)))
    assert read == {"x": 3.0} and type(read["x"]) is float  # type: ignore[index]
    # An int returned for a float output takes the general path (which widens it): same bytes.
    written = as_float.outputs_to_idl(3)
    assert written.literals["o0"].scalar.primitive.float_value == 3.0
    assert written.SerializeToString(deterministic=True) == _general_bytes(as_float, 3)


@pytest.mark.parametrize(
    "message",
    [
        _message(i=_primitive(string_value="7")),  # a literal of another primitive
        _message(i=literals_pb2.Literal(collection=literals_pb2.LiteralCollection())),  # not a scalar
        _message(i=literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))),
        _message(nope=_primitive(integer=1)),  # not an input of the task
    ],
    ids=["other-primitive", "collection", "none", "unknown-input"],
)
def test_anything_but_a_plain_primitive_of_the_declared_type_is_left_to_the_general_path(
    message: literals_pb2.LiteralMap,
) -> None:
    assert mixed.inputs_from_idl(message) is None


def test_inputs_and_outputs_of_other_types_take_the_general_path() -> None:
    assert maybe.inputs_from_idl(_message(x=_primitive(integer=1))) is None  # int | None is not int
    assert maybe.outputs_to_idl(5).SerializeToString(deterministic=True) == _general_bytes(maybe, 5)
    assert maybe.outputs_to_idl(None).SerializeToString(deterministic=True) == _general_bytes(maybe, None)
    summary = tasks.summarize.outputs_to_idl(([2, 1], {"a": 1.5}))
    assert summary.SerializeToString(deterministic=True) == _general_bytes(tasks.summarize, ([2, 1], {"a": 1.5}))


def test_the_checks_and_errors_of_the_general_path_stay() -> None:
    with pytest.raises(Exception, match="declares 4 outputs"):
        mixed.outputs_to_idl((1, 2.0))
    with pytest.raises(Exception, match="output 'o0': expected int, got str"):
        tasks.wrong_output.outputs_to_idl("not a number")
    with pytest.raises(Exception, match="out of range"):
        huge.outputs_to_idl(2**70)
    with pytest.raises(Exception, match="output 'o0': expected int, got bool"):  # a bool is an int to Python
        flag_for_int.outputs_to_idl(True)
    with pytest.raises(Exception, match="output 'o0': expected bool, got int"):  # flyteidl would take 1
        number_for_flag.outputs_to_idl(1)


def test_an_integer_beyond_64_bits_is_the_tasks_error(tmp_path: Path) -> None:
    error = run_task(tmp_path, huge).error()
    assert (error.origin, error.kind) == (USER, NON_RECOVERABLE)
    assert "out of range" in error.message


def test_the_primitive_field_is_the_built_in_transformers_of_exactly_these_types() -> None:
    engine = TypeEngine(builtin_transformers())
    fields = {t: engine.primitive_field(t) for t in (int, float, str, bool)}
    assert fields == {int: "integer", float: "float_value", str: "string_value", bool: "boolean"}
    for other in (int | None, list[int], bytes, Annotated[int, "note"], dict[str, int]):
        assert engine.primitive_field(other) is None, other

    class Counting(IntTransformer):  # a subclass may convert differently: it has no plain form
        name = "counting-int"

    assert TypeEngine([*builtin_transformers(), Counting()]).primitive_field(int) is None


def test_a_plugins_transformer_for_a_primitive_type_is_used(tmp_path: Path) -> None:
    host = make_plugin_host(entry_points=False, extra_plugins=[("shouting", MyTypesPlugin())])
    with use_host(host):
        assert get_type_engine().primitive_field(str) is None
        assert tasks.greet.outputs_to_idl("hi").literals["o0"].scalar.primitive.string_value == "HI"
        assert tasks.greet.inputs_from_idl(_message(name=_primitive(string_value="x"))) is None


def test_the_entrypoint_writes_what_the_task_returned(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, mixed, i=-3, f=0.5, s="é", b=True)
    assert attempt.code == 0
    primitive = {k: v.scalar.primitive for k, v in attempt.outputs().literals.items()}
    assert (primitive["o0"].integer, primitive["o1"].float_value, primitive["o2"].string_value, primitive["o3"].boolean) == (
        -3, 0.5, "é", True)


class _Doubling(PythonFunctionTask):
    """A plugin's task class that converts inputs and outputs its own way."""

    def inputs_to_python(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {k: v * 2 for k, v in super().inputs_to_python(inputs).items()}

    def outputs_to_literals(self, result: Any) -> dict[str, Any]:
        return super().outputs_to_literals(result * 2)


def _plus_one(x: int) -> int:
    return x + 1


def test_a_subclass_that_converts_its_own_way_is_never_bypassed() -> None:
    doubling = _Doubling(_plus_one, name="doubling")
    assert doubling.inputs_from_idl(_message(x=_primitive(integer=3))) is None
    assert doubling.outputs_to_idl(5).literals["o0"].scalar.primitive.integer == 10


def test_an_instance_whose_conversion_was_replaced_is_never_bypassed() -> None:
    with mock.patch.object(mixed, "outputs_to_literals", side_effect=RuntimeError("patched")):
        with pytest.raises(RuntimeError, match="patched"):
            mixed.outputs_to_idl((1, 2.0, "s", True))
    with mock.patch.object(mixed, "inputs_to_python", return_value={}):
        assert mixed.inputs_from_idl(_message(i=_primitive(integer=1))) is None


class _Refusing(IntTransformer):
    name = "refusing"

    def matches(self, python_type: Any) -> bool:
        raise UserInputError("this transformer refuses to be asked")


class _RefusingPlugin:
    @hookimpl
    def flytecore_register_type_transformers(self, register: Any) -> None:
        register.register(_Refusing())


def test_a_transformer_that_fails_when_asked_fails_where_the_general_path_reports_it(tmp_path: Path) -> None:
    assert TypeEngine([*builtin_transformers(), _Refusing()]).primitive_field(int) is None
    host = make_plugin_host(entry_points=False, extra_plugins=[("refusing", _RefusingPlugin())])
    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(_message(a=_primitive(integer=1)).SerializeToString())
    args = ["--inputs", str(inputs), "--output-prefix", str(tmp_path / "out"), "--",
            "task-module", "tests.sdk.entrypoint_tasks", "task-name", "add"]
    with use_host(host):
        assert main(args, environ={}) == 0
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "out" / "error.pb").read_bytes()).error
    assert (error.code, error.origin) == ("SYSTEM:InputsMismatch", SYSTEM)
    assert "refuses to be asked" in error.message
