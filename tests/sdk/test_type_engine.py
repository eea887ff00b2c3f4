"""The type engine: literal forms (flytekit-compatible), round trips, errors, unions, dataclasses,
the pickle fallback and transformers contributed by plugins."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import typing
from typing import Annotated, Any

import pytest

from flytecore.errors import TypeTransformerError, UserInputError
from flytecore.plugin import hookimpl, make_plugin_host, use_host
from flytecore.sdk.data import FileAccess, using_file_access
from flytecore.sdk.type_engine import (
    PickleFallbackWarning,
    TypeEngine,
    TypeTransformer,
    builtin_transformers,
    get_type_engine,
)
from flytecore.spec.literals import Binary, Literal, LiteralMap, Primitive, Scalar
from flytecore.spec.types import BlobDimensionality, EnumType, LiteralType, SimpleType, TypeStructure

UTC = dt.UTC


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class Inner:
    a: int
    color: Color = Color.RED
    note: str | None = None


@dataclasses.dataclass
class Outer:
    name: str
    inners: list[Inner]
    by_key: dict[str, Inner] = dataclasses.field(default_factory=dict)
    ratio: float = 0.5
    when: dt.datetime | None = None
    span: dt.timedelta = dt.timedelta(seconds=90)
    raw: bytes = b""
    tags: dict[int, str] = dataclasses.field(default_factory=dict)
    maybe: Inner | None = None


@dataclasses.dataclass
class PointA:
    x: int


@dataclasses.dataclass
class PointB:
    x: int


class Opaque:
    """A type without a transformer: it travels as a pickle."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.payload == self.payload


@pytest.fixture
def engine(tmp_path: Any) -> typing.Iterator[TypeEngine]:
    """A fresh engine (so once-per-engine warnings fire) with a private file access."""
    with using_file_access(FileAccess(tmp_path / "raw", tmp_path / "sandbox")):
        yield TypeEngine(builtin_transformers())


def through_protobuf(literal: Literal) -> Literal:
    """The literal after a trip through flyteidl bytes, as in inputs.pb."""
    idl = pytest.importorskip("flytecore.spec.idl", reason="the flyteidl bridge is not built yet")
    data = idl.literal_map_to_bytes(LiteralMap(literals={"x": literal}))
    return idl.literal_map_from_bytes(data).literals["x"]


ROUND_TRIPS: list[tuple[Any, Any]] = [
    (int, 3),
    (int, -(2**40)),
    (float, 1.25),
    (str, "héllo"),
    (bool, True),
    (bool, False),
    (bytes, b"\x00\xffdata"),
    (dt.datetime, dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    (dt.date, dt.date(2021, 12, 31)),
    (dt.timedelta, dt.timedelta(days=1, seconds=3, microseconds=500)),
    (type(None), None),
    (typing.Optional[int], 4),  # noqa: UP045 - the typing spelling must work too
    (typing.Optional[int], None),  # noqa: UP045
    (int | str, "a"),
    (int | str, 7),
    (list[int], [1, 2, 3]),
    (list[list[str]], [["a"], [], ["b", "c"]]),
    (list[int | None], [1, None]),
    (dict[str, float], {"a": 1.5, "b": -2.0}),
    (dict[str, list[int]], {"a": [1], "b": []}),
    (dict, {"a": [1, "b"], "c": {"d": None, "e": True}}),
    (dict[int, str], {1: "one", 2: "two"}),
    (Color, Color.GREEN),
    (Annotated[int, "some metadata"], 5),
    (Inner, Inner(3)),
    (list[Inner], [Inner(1, Color.GREEN, "n"), Inner(2)]),
    (Inner | None, Inner(9)),
    (
        Outer,
        Outer(
            name="o",
            inners=[Inner(1), Inner(2, Color.GREEN)],
            by_key={"k": Inner(3, note="x")},
            ratio=2.0,
            when=dt.datetime(2020, 1, 1, tzinfo=UTC),
            raw=b"\x01\x02",
            tags={7: "seven"},
            maybe=Inner(4),
        ),
    ),
]


@pytest.mark.parametrize(("python_type", "value"), ROUND_TRIPS, ids=lambda v: repr(v)[:40])
def test_round_trip(engine: TypeEngine, python_type: Any, value: Any) -> None:
    literal = engine.to_literal(value, python_type)
    assert engine.to_python_value(literal, python_type) == value


@pytest.mark.parametrize(("python_type", "value"), ROUND_TRIPS, ids=lambda v: repr(v)[:40])
def test_round_trip_through_protobuf(engine: TypeEngine, python_type: Any, value: Any) -> None:
    idl = pytest.importorskip("flytecore.spec.idl", reason="the flyteidl bridge is not built yet")
    literal_type = engine.to_literal_type(python_type)
    assert idl.from_idl(idl.to_idl(literal_type), LiteralType) == literal_type
    literal = through_protobuf(engine.to_literal(value, python_type))
    assert engine.to_python_value(literal, python_type) == value


# --- literal forms: what a flytekit container reads ------------------------------------------


def test_scalar_literal_forms(engine: TypeEngine) -> None:
    assert engine.to_literal(3, int).scalar.primitive == Primitive(integer=3)
    assert engine.to_literal(1.5, float).scalar.primitive == Primitive(float_value=1.5)
    assert engine.to_literal("s", str).scalar.primitive == Primitive(string_value="s")
    assert engine.to_literal(True, bool).scalar.primitive == Primitive(boolean=True)
    assert engine.to_literal(b"ab", bytes).scalar.binary == Binary(value=b"ab", tag="bytes")
    assert engine.to_literal(None, type(None)).scalar.none_type is not None
    assert engine.to_literal_type(bytes) == LiteralType(simple=SimpleType.BINARY)
    assert engine.to_literal_type(dt.timedelta) == LiteralType(simple=SimpleType.DURATION)
    assert engine.to_literal_type(type(None)) == LiteralType(simple=SimpleType.NONE)


def test_datetimes_are_stored_in_utc(engine: TypeEngine) -> None:
    plus_two = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    stored = engine.to_literal(plus_two, dt.datetime).scalar.primitive.datetime
    assert stored.utcoffset() == dt.timedelta(0) and stored.hour == 10
    naive = dt.datetime(2024, 1, 1, 12)
    assert engine.to_python_value(engine.to_literal(naive, dt.datetime), dt.datetime) == naive.replace(tzinfo=UTC)
    midnight = engine.to_literal(dt.date(2024, 2, 3), dt.date).scalar.primitive.datetime
    assert midnight == dt.datetime(2024, 2, 3, tzinfo=UTC)


def test_int_is_widened_to_float_but_bool_is_not(engine: TypeEngine) -> None:
    literal = engine.to_literal(2, float)
    assert literal.scalar.primitive == Primitive(float_value=2.0)
    assert isinstance(engine.to_python_value(literal, float), float)
    # flytekit reads an integer primitive as a float input too.
    assert engine.to_python_value(engine.to_literal(2, int), float) == 2.0
    with pytest.raises(TypeTransformerError, match="expected float, got bool True"):
        engine.to_literal(True, float)


def test_container_literal_forms(engine: TypeEngine) -> None:
    assert engine.to_literal_type(list[int]) == LiteralType(collection_type=LiteralType(simple=SimpleType.INTEGER))
    assert engine.to_literal_type(dict[str, int]) == LiteralType(map_value_type=LiteralType(simple=SimpleType.INTEGER))
    assert engine.to_literal([1, 2], list[int]).collection == (
        Literal(scalar=Scalar(primitive=Primitive(integer=1))),
        Literal(scalar=Scalar(primitive=Primitive(integer=2))),
    )
    assert set(engine.to_literal({"a": 1}, dict[str, int]).map) == {"a"}
    untyped = engine.to_literal({"a": 1}, dict)
    assert engine.to_literal_type(dict) == LiteralType(simple=SimpleType.STRUCT)
    assert untyped.scalar.generic == {"a": 1} and untyped.metadata == {"format": "json"}


def test_union_literal_form_tags_variants_with_transformer_names(engine: TypeEngine) -> None:
    union = engine.to_literal_type(typing.Optional[list[int]]).union_type  # noqa: UP045
    assert [v.structure for v in union.variants] == [TypeStructure(tag="Typed List"), TypeStructure(tag="none")]
    stored = engine.to_literal([1], list[int] | None).scalar.union
    assert stored.type.structure.tag == "Typed List" and stored.value.collection is not None
    none = engine.to_literal(None, int | None).scalar.union
    assert none.type == LiteralType(simple=SimpleType.NONE, structure=TypeStructure(tag="none"))
    assert none.value.scalar.none_type is not None


def test_enum_literal_form(engine: TypeEngine) -> None:
    assert engine.to_literal_type(Color) == LiteralType(enum_type=EnumType(values=("red", "green")))
    assert engine.to_literal(Color.RED, Color).scalar.primitive == Primitive(string_value="red")


def test_dataclass_literal_form(engine: TypeEngine) -> None:
    literal_type = engine.to_literal_type(Inner)
    assert literal_type.simple == SimpleType.STRUCT
    assert literal_type.structure == TypeStructure()
    schema = literal_type.metadata
    assert schema["title"] == "Inner" and schema["required"] == ["a"]
    assert schema["properties"]["a"] == {"type": "integer"}
    assert schema["properties"]["color"] == {"type": "string", "enum": ["red", "green"], "default": "red"}
    assert schema["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert literal_type.short() == "Inner"
    assert engine.to_literal(Inner(2), Inner).scalar.generic == {"a": 2, "color": "red", "note": None}


# --- errors -----------------------------------------------------------------------------------


def test_error_names_input_expected_and_given_type(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError) as info:
        engine.to_literal("abc", int, name="x")
    assert str(info.value) == "input 'x': expected int, got str 'abc'"
    with pytest.raises(TypeTransformerError, match="^output 'o0': expected str, got int 3$"):
        engine.to_literal(3, str, name="o0", kind="output")


def test_bool_is_not_an_int(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="expected int, got bool True"):
        engine.to_literal(True, int)


def test_error_for_none_where_a_value_is_required(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="input 'n': expected int, got None"):
        engine.to_literal(None, int, name="n")


def test_errors_inside_containers_say_where(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match=r"^input 'xs' at \[2\]: expected int, got str 'c'$"):
        engine.to_literal([1, 2, "c"], list[int], name="xs")
    with pytest.raises(TypeTransformerError, match=r"at \['b'\]: expected float, got str 'no'"):
        engine.to_literal({"a": 1.0, "b": "no"}, dict[str, float])
    with pytest.raises(TypeTransformerError, match=r"at \.inners\[0\]\.a: expected int, got str 'x'"):
        engine.to_literal(Outer(name="o", inners=[Inner("x")]), Outer)  # type: ignore[arg-type]
    with pytest.raises(TypeTransformerError, match="dict with key int 1"):
        engine.to_literal({1: 2}, dict[str, int])


def test_long_values_are_truncated_in_messages(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError) as info:
        engine.to_literal("y" * 500, int)
    message = str(info.value)
    assert message.startswith("expected int, got str 'yyy") and message.endswith("...") and len(message) < 100


def test_literal_of_wrong_kind_is_an_error(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="input 'x': expected str, got literal int 3"):
        engine.to_python_value(engine.to_literal(3, int), str, name="x")
    with pytest.raises(TypeTransformerError, match=r"expected list\[int\], got literal int 3"):
        engine.to_python_value(engine.to_literal(3, int), list[int])


def test_enum_errors(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="expected Color .*, got str 'red'"):
        engine.to_literal("red", Color)
    bad = Literal(scalar=Scalar(primitive=Primitive(string_value="blue")))
    with pytest.raises(TypeTransformerError, match="'red', 'green'.*got literal str 'blue'"):
        engine.to_python_value(bad, Color)
    with pytest.raises(TypeTransformerError, match="str values.*LOW=1"):
        engine.to_literal_type(Level)


def test_a_list_needs_an_item_type(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match=r"list\[T\]"):
        engine.to_literal_type(list)


def test_date_refuses_a_datetime(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="expected date, got datetime"):
        engine.to_literal(dt.datetime(2020, 1, 1), dt.date)


def test_unsupported_dataclass_field_fails_at_declaration(engine: TypeEngine) -> None:
    @dataclasses.dataclass
    class HasOpaque:
        thing: Opaque

    with pytest.raises(TypeTransformerError, match=r"HasOpaque\.thing: type Opaque is not supported inside a dataclass"):
        engine.to_literal_type(HasOpaque)


def test_literal_maps(engine: TypeEngine) -> None:
    types = {"a": int, "b": list[str]}
    literal_map = engine.literal_map_from_python({"a": 1, "b": ["x"]}, types)
    assert engine.python_from_literal_map(literal_map, types) == {"a": 1, "b": ["x"]}
    with pytest.raises(TypeTransformerError, match=r"^input 'b' at \[0\]: expected str, got int 1$"):
        engine.literal_map_from_python({"a": 1, "b": [1]}, types)
    with pytest.raises(UserInputError, match="unknown input 'c'; declared inputs: a, b"):
        engine.literal_map_from_python({"c": 1}, types)
    with pytest.raises(UserInputError, match="unknown output 'z'"):
        engine.python_from_literal_map(LiteralMap(literals={"z": literal_map.literals["a"]}), types, kind="output")


# --- unions -----------------------------------------------------------------------------------


def test_union_prefers_the_exact_variant(engine: TypeEngine) -> None:
    assert engine.to_literal(3, int | float).scalar.union.type.structure.tag == "int"
    assert engine.to_literal(3.0, int | float).scalar.union.type.structure.tag == "float"
    assert engine.to_python_value(engine.to_literal(3, float | int), float | int) == 3
    # No exact variant: the one variant that accepts the value (a widened int) is taken.
    assert engine.to_literal(3, float | str).scalar.union.type.structure.tag == "float"


def test_ambiguous_union_value_is_an_error(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match=r"input 'v': ambiguous value for list\[int\] \| list\[str\]"):
        engine.to_literal([], list[int] | list[str], name="v")
    assert engine.to_python_value(engine.to_literal(["a"], list[int] | list[str]), list[int] | list[str]) == ["a"]


def test_union_value_that_fits_no_variant(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match=r"^input 'v': expected int \| None, got str 'x'$"):
        engine.to_literal("x", typing.Optional[int], name="v")  # noqa: UP045


def test_union_of_same_shaped_dataclasses_reads_back_the_stored_class(engine: TypeEngine) -> None:
    literal = engine.to_literal(PointB(1), PointA | PointB)
    assert literal.scalar.union.type.metadata["title"] == "PointB"
    assert engine.to_python_value(literal, PointA | PointB) == PointB(1)
    assert engine.to_python_value(engine.to_literal(PointA(2), PointA | PointB), PointA | PointB) == PointA(2)


def test_union_reads_a_plain_literal(engine: TypeEngine) -> None:
    assert engine.to_python_value(engine.to_literal(3, int), typing.Optional[int]) == 3  # noqa: UP045
    assert engine.to_python_value(engine.to_literal(None, type(None)), int | None) is None


def test_union_value_stored_as_a_variant_the_reader_lacks(engine: TypeEngine) -> None:
    literal = engine.to_literal("s", int | str)
    with pytest.raises(TypeTransformerError, match=r"expected int \| float, got a union value stored as str"):
        engine.to_python_value(literal, int | float)


# --- dataclasses ------------------------------------------------------------------------------


def test_dataclass_defaults_fill_missing_fields_and_extra_keys_are_ignored(engine: TypeEngine) -> None:
    literal = Literal(scalar=Scalar(generic={"a": 4, "unknown": "ignored"}))
    assert engine.to_python_value(literal, Inner) == Inner(4, Color.RED, None)
    with pytest.raises(TypeTransformerError, match="expected Inner, got an object without field 'a'"):
        engine.to_python_value(Literal(scalar=Scalar(generic={"color": "red"})), Inner)


def test_dataclass_ints_survive_struct_doubles(engine: TypeEngine) -> None:
    # A protobuf Struct holds only doubles: integral ones are read back into int fields.
    value = engine.to_python_value(Literal(scalar=Scalar(generic={"a": 3.0})), Inner)
    assert value.a == 3 and type(value.a) is int
    with pytest.raises(TypeTransformerError, match=r"at \.a: expected int, got float 3.5"):
        engine.to_python_value(Literal(scalar=Scalar(generic={"a": 3.5})), Inner)


def test_dataclass_reads_flytekit_msgpack(engine: TypeEngine) -> None:
    msgpack = pytest.importorskip("msgpack", reason="msgpack is optional; flytekit >= 1.14 writes it")
    data = msgpack.packb({"name": "m", "inners": [{"a": 1, "color": "green", "note": None}], "raw": b"\x07"})
    literal = Literal(scalar=Scalar(binary=Binary(value=data, tag="msgpack")))
    assert engine.to_python_value(literal, Outer) == Outer(name="m", inners=[Inner(1, Color.GREEN)], raw=b"\x07")
    untyped = Literal(scalar=Scalar(binary=Binary(value=msgpack.packb({"k": [1, 2]}), tag="msgpack")))
    assert engine.to_python_value(untyped, dict) == {"k": [1, 2]}


def test_dataclass_of_another_class_is_refused(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match="expected PointA, got PointB"):
        engine.to_literal(PointB(1), PointA)


# --- guessing Python types from literal types -----------------------------------------------------


def test_guess_python_type(engine: TypeEngine) -> None:
    for python_type in (int, float, str, bool, bytes, dt.datetime, dt.timedelta, list[int], dict[str, float], dict):
        assert engine.guess_python_type(engine.to_literal_type(python_type)) == python_type
    assert engine.guess_python_type(engine.to_literal_type(int | None)) == typing.Optional[int]  # noqa: UP045
    guessed_enum = engine.guess_python_type(engine.to_literal_type(Color))
    assert [m.value for m in guessed_enum] == ["red", "green"]


def test_guessed_dataclass_reads_the_original_literal(engine: TypeEngine) -> None:
    guessed = engine.guess_python_type(engine.to_literal_type(Inner))
    assert dataclasses.is_dataclass(guessed) and guessed.__name__ == "Inner"
    assert guessed is engine.guess_python_type(engine.to_literal_type(Inner))
    value = engine.to_python_value(engine.to_literal(Inner(5, Color.GREEN), Inner), guessed)
    assert (value.a, value.color, value.note) == (5, "green", None)


# --- pickle fallback --------------------------------------------------------------------------


def test_pickle_fallback_warns_and_round_trips(engine: TypeEngine, tmp_path: Any) -> None:
    with pytest.warns(PickleFallbackWarning, match="Opaque"):
        literal_type = engine.to_literal_type(Opaque)
    assert literal_type.blob.format == "PythonPickle" and literal_type.blob.dimensionality == BlobDimensionality.SINGLE
    literal = engine.to_literal(Opaque({"k": [1, 2]}), Opaque)
    assert literal.scalar.blob.metadata.type.format == "PythonPickle"
    assert literal.scalar.blob.uri.startswith(str(tmp_path / "raw"))
    assert engine.to_python_value(literal, Opaque) == Opaque({"k": [1, 2]})
    assert engine.to_python_value(through_protobuf(literal), Opaque) == Opaque({"k": [1, 2]})


def test_pickle_fallback_inside_containers_and_type_check(engine: TypeEngine) -> None:
    with pytest.warns(PickleFallbackWarning):
        literal = engine.to_literal([Opaque(1), Opaque(2)], list[Opaque])
    assert engine.to_python_value(literal, list[Opaque]) == [Opaque(1), Opaque(2)]
    with pytest.raises(TypeTransformerError, match=r"at \[0\]: expected Opaque \(pickled\), got str 'no'"):
        engine.to_literal(["no"], list[Opaque])


def test_pickle_fallback_through_a_memory_prefix(tmp_path: Any) -> None:
    fsspec = pytest.importorskip("fsspec")
    with using_file_access(FileAccess("memory://pickles-test", tmp_path / "sandbox")):
        engine = TypeEngine(builtin_transformers())
        with pytest.warns(PickleFallbackWarning):
            literal = engine.to_literal(Opaque("p"), Opaque)
        assert literal.scalar.blob.uri.startswith("memory://pickles-test/")
        assert fsspec.filesystem("memory").exists(literal.scalar.blob.uri)
        assert engine.to_python_value(literal, Opaque) == Opaque("p")


# --- the engine and plugins -------------------------------------------------------------------


class ShoutingStr(TypeTransformer[str]):
    """A plugin's transformer for ``str``: stores text upper-cased."""

    name = "shouting-str"
    python_type = str

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return LiteralType(simple=SimpleType.STRING)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        return Literal(scalar=Scalar(primitive=Primitive(string_value=str(value).upper())))

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        return literal.scalar.primitive.string_value


class MyTypesPlugin:
    @hookimpl
    def flytecore_register_type_transformers(self, register: Any) -> None:
        register.register(ShoutingStr())


def test_plugin_transformer_takes_precedence_over_builtin(tmp_path: Any) -> None:
    host = make_plugin_host(entry_points=False, extra_plugins=[("mytypes", MyTypesPlugin())])
    with use_host(host), using_file_access(FileAccess(tmp_path / "raw")):
        engine = get_type_engine()
        assert engine.get_transformer(str).name == "shouting-str"
        assert engine.to_literal("hi", str).scalar.primitive.string_value == "HI"
        # Nested values go through the same engine, so the plugin applies inside containers.
        assert engine.to_python_value(engine.to_literal(["a"], list[str]), list[str]) == ["A"]
        assert engine.to_python_value(engine.to_literal(Inner(1, note="n"), Inner), Inner).note == "n"
    plain = get_type_engine(make_plugin_host(entry_points=False))
    assert plain.get_transformer(str).name == "str"


def test_engine_is_cached_per_host() -> None:
    host, other = make_plugin_host(entry_points=False), make_plugin_host(entry_points=False)
    assert get_type_engine(host) is get_type_engine(host)
    assert get_type_engine(host) is not get_type_engine(other)
    with use_host(other):
        assert get_type_engine() is get_type_engine(other)


def test_later_transformers_win_and_annotated_can_pick_one(engine: TypeEngine) -> None:
    shouting = ShoutingStr()
    assert TypeEngine([*builtin_transformers(), shouting]).get_transformer(str) is shouting
    assert TypeEngine([shouting, *builtin_transformers()]).get_transformer(str).name == "str"
    literal = engine.to_literal("quiet", Annotated[str, shouting])
    assert literal.scalar.primitive.string_value == "QUIET"


def test_type_lookups_are_cached(engine: TypeEngine) -> None:
    assert engine.to_literal_type(list[Inner]) is engine.to_literal_type(list[Inner])
    assert engine.get_transformer(dict[str, int]) is engine.get_transformer(dict[str, int])


@dataclasses.dataclass
class Mixed:
    n: float | int
    items: list[int | str] = dataclasses.field(default_factory=list)


def test_unions_inside_dataclasses_keep_the_value_type(engine: TypeEngine) -> None:
    for value in (Mixed(3, [1, "1"]), Mixed(2.5)):
        back = engine.to_python_value(engine.to_literal(value, Mixed), Mixed)
        assert back == value and type(back.n) is type(value.n)
        assert [type(i) for i in back.items] == [type(i) for i in value.items]


def test_dataclass_with_unresolvable_field_types(engine: TypeEngine) -> None:
    class LocalOnly:
        pass

    @dataclasses.dataclass
    class Holder:
        thing: LocalOnly  # a string annotation here: this module postpones annotations

    with pytest.raises(TypeTransformerError, match="field types of Holder cannot be resolved.*LocalOnly"):
        engine.to_literal_type(Holder)


@dataclasses.dataclass(frozen=True)
class Money:
    cents: int


class DuckMoneyTransformer:
    """A plugin's transformer that does not derive from TypeTransformer (the registry allows it)."""

    name = "money"

    def matches(self, python_type: Any) -> bool:
        return python_type is Money

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return LiteralType(simple=SimpleType.INTEGER)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        if not isinstance(value, Money):
            raise ValueError(f"not money: {value!r}")
        return Literal(scalar=Scalar(primitive=Primitive(integer=value.cents)))

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        return Money(literal.scalar.primitive.integer)


def test_duck_typed_plugin_transformer() -> None:
    class Plugin:
        @hookimpl
        def flytecore_register_type_transformers(self, register: Any) -> None:
            register.register(DuckMoneyTransformer())

    engine = get_type_engine(make_plugin_host(entry_points=False, extra_plugins=[("money", Plugin())]))
    literal = engine.to_literal(Money(250), Money | None)
    assert literal.scalar.union.type.structure.tag == "money"
    assert engine.to_python_value(literal, Money | None) == Money(250)
    assert engine.guess_python_type(LiteralType(simple=SimpleType.INTEGER)) is int
    # Its plain ValueError becomes a TypeTransformerError that names the transformer.
    with pytest.raises(TypeTransformerError, match=r"input 'm': cannot convert str 'x' to Money \(money\): not money"):
        engine.to_literal("x", Money, name="m")


def test_a_transformer_failing_on_its_literal_type_is_a_conversion_error_naming_it() -> None:
    """In a list too (the list's own literal type is its item's)."""

    class Broken(DuckMoneyTransformer):
        def get_literal_type(self, python_type: Any) -> LiteralType:
            raise ValueError("no literal type today")

    class Plugin:
        @hookimpl
        def flytecore_register_type_transformers(self, register: Any) -> None:
            register.register(Broken())

    engine = get_type_engine(make_plugin_host(entry_points=False, extra_plugins=[("broken", Plugin())]))
    with pytest.raises(TypeTransformerError, match=r"input 'm': cannot convert .*Money.* to Money \(money\): no literal type"):
        engine.to_literal(Money(1), Money, name="m")
    with pytest.raises(TypeTransformerError, match=r"input 'ms': cannot convert list .* \(Typed List\): no literal type"):
        engine.literal_map_from_python({"ms": [Money(1)]}, {"ms": list[Money]})
