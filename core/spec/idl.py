"""The bridge between spec models and flyteidl protobuf messages.

:func:`to_idl` turns a spec model into its flyteidl twin and :func:`from_idl` turns it back;
:func:`literal_map_to_bytes` / :func:`literal_map_from_bytes` read and write ``inputs.pb`` and
``outputs.pb``.

The bridge is table-driven. :data:`TWINS` maps each spec model to its flyteidl message; fields
are matched by name and converted by their attrs type against the protobuf field descriptor.
Where the spec is deliberately simpler than flyteidl there are small tables of exceptions:

* :data:`_WRAPPERS`: flyteidl messages that only wrap one field, which the spec inlines
  (``TypedInterface.inputs`` dict <-> ``VariableMap.variables``, ``Literal.collection`` tuple <->
  ``LiteralCollection.literals``, labels <-> ``Labels.values``, ``ConnectionSet`` id tuples <->
  ``ConnectionSet.IdList.ids``, ``BindingData.union`` <-> ``UnionInfo.targetType``, ``BoolValue``
  and the other google.protobuf wrappers, ...).
* :data:`_CUSTOM`: messages with a hand-written codec: Timestamp <-> aware UTC datetime,
  Duration <-> timedelta, Struct <-> ``dict[str, Any]`` (those three in
  :mod:`flytecore.spec._wellknown`), ``PromiseAttribute`` <-> ``str | int``
  (``OutputReference.attr_path``).
* :data:`_LEGACY_SOURCES`: read-only fallbacks for deprecated flyteidl fields
  (``ExecutionClosure.output_data`` from the older ``outputs.values``).
* :data:`SPEC_ONLY_FIELDS`: spec fields deliberately without a flyteidl twin (none today).

Rules: a spec field with no flyteidl twin, or whose type does not fit its twin, raises
:class:`~flytecore.errors.ConversionError` naming model and field (gaps are found, not dropped).
An optional (``X | None``) spec field needs a flyteidl field with presence; ``None`` leaves it
unset and an unset field reads back as ``None``. A proto3 scalar at its zero value reads back
as the attrs default. flyteidl fields the spec lacks (security contexts, artifacts, ...) are
ignored when reading.

Known, accepted losses: proto maps do not keep order, so dicts (e.g. interface inputs) come back
in wire order; Struct holds only doubles, so integral numbers come back as ``int`` and other
numbers as ``float``; Timestamp nanoseconds below a microsecond are truncated;
``SignalCondition.output_variable_name == ""`` reads back as its attrs default ``"o0"``.

Spec types without a twin (listed in :data:`NO_TWIN` if they are models): none among the attrs
models of :data:`flytecore.spec.ALL_MODELS`. :class:`flytecore.spec.phases.NodePhase` (an enum,
not a model) is the propeller's internal state machine, has no flyteidl counterpart and never
crosses this bridge; :meth:`~flytecore.spec.phases.NodePhase.to_execution_phase` maps it to
``NodeExecutionPhase`` (flyteidl ``core.NodeExecution.Phase``) instead.
"""

from __future__ import annotations

import datetime as _dt
import enum
import sys
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs
from flyteidl.admin import common_pb2 as admin_common_pb2  # type: ignore[import-untyped]
from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.admin import launch_plan_pb2 as admin_launch_plan_pb2
from flyteidl.admin import node_execution_pb2 as admin_node_execution_pb2
from flyteidl.admin import task_execution_pb2 as admin_task_execution_pb2
from flyteidl.core import (  # type: ignore[import-untyped]
    compiler_pb2,
    condition_pb2,
    dynamic_job_pb2,
    execution_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from flyteidl.event import event_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from flytecore import spec
from flytecore.errors import ConversionError, SpecError
from flytecore.spec import _wellknown as _wk

__all__ = ["TWINS", "NO_TWIN", "SPEC_ONLY_FIELDS", "to_idl", "from_idl", "literal_map_to_bytes", "literal_map_from_bytes"]

T = TypeVar("T")

# --- tables -------------------------------------------------------------------------------------

# Spec module -> flyteidl modules holding its models' twins under the same class name; the first
# module that has the name wins (admin's NodeExecution, not core's phase holder).
_TWIN_MODULES: dict[types.ModuleType, tuple[types.ModuleType, ...]] = {
    spec.identifiers: (identifier_pb2,),
    spec.types: (types_pb2,),
    spec.literals: (literals_pb2,),
    spec.interface: (interface_pb2,),
    spec.tasks: (tasks_pb2,),
    spec.workflow: (workflow_pb2, condition_pb2),
    spec.compiled: (compiler_pb2,),
    spec.dynamic: (dynamic_job_pb2,),
    spec.launch_plan: (admin_launch_plan_pb2, admin_common_pb2),
    spec.execution: (admin_execution_pb2, admin_node_execution_pb2, admin_task_execution_pb2, execution_pb2),
    spec.events: (event_pb2,),
}
# Twins found elsewhere than by name.
_TWIN_OVERRIDES: dict[type, type[Message]] = {spec.ResourceEntry: tasks_pb2.Resources.ResourceEntry}

NO_TWIN: dict[type, str] = {}
"""Spec model -> why it has no flyteidl twin. Empty today (see the module docstring)."""


def _find_twin(cls: type) -> type[Message] | None:
    if cls in _TWIN_OVERRIDES:
        return _TWIN_OVERRIDES[cls]
    for module in _TWIN_MODULES.get(sys.modules[cls.__module__], ()):
        twin = getattr(module, cls.__name__, None)
        if isinstance(twin, type) and issubclass(twin, Message):
            return twin
    return None


TWINS: dict[type, type[Message]] = {
    cls: twin for cls in spec.ALL_MODELS if cls not in NO_TWIN and (twin := _find_twin(cls)) is not None
}
"""Spec model class -> flyteidl message class: the one table the bridge is driven by."""
_SPEC_OF: dict[str, type] = {twin.DESCRIPTOR.full_name: cls for cls, twin in TWINS.items()}

SPEC_ONLY_FIELDS: dict[tuple[type, str], str] = {}
"""(model, field) -> why the field has no flyteidl twin. Such fields are not written and read
back as their attrs default. Empty today: every spec field has a twin."""

# flyteidl message -> the one field the spec inlines in its place.
_WRAPPERS: dict[str, str] = {
    "flyteidl.core.VariableMap": "variables",
    "flyteidl.core.ParameterMap": "parameters",
    "flyteidl.core.LiteralCollection": "literals",
    "flyteidl.core.LiteralMap": "literals",  # only where the spec has a dict, e.g. Literal.map
    "flyteidl.core.BindingDataCollection": "bindings",
    "flyteidl.core.BindingDataMap": "bindings",
    "flyteidl.core.ConnectionSet.IdList": "ids",
    "flyteidl.core.UnionInfo": "targetType",
    "flyteidl.admin.Labels": "values",
    "flyteidl.admin.Annotations": "values",
    **{
        f"google.protobuf.{name}": "value"
        for name in ("BoolValue", "StringValue", "BytesValue", "Int32Value", "Int64Value",
                     "UInt32Value", "UInt64Value", "FloatValue", "DoubleValue")
    },
}

# (model, field) -> path of a deprecated flyteidl field read when the current one is unset.
_LEGACY_SOURCES: dict[tuple[type, str], tuple[str, ...]] = {
    # Admin wrote outputs as LiteralMapBlob{values} before output_data existed.
    (spec.ExecutionClosure, "output_data"): ("outputs", "values"),
}

# --- codecs ---------------------------------------------------------------------------------------

# Messages are typed Any: flyteidl ships no stubs, and the codecs take concrete message classes.
Encode = Callable[[Any, Any], None]
Decode = Callable[[Any], Any]

_INT_TYPES = frozenset(
    {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
     FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
     FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
     FieldDescriptor.TYPE_SFIXED64}
)
_SCALAR_TYPES: dict[int, type] = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_BYTES: bytes,
    FieldDescriptor.TYPE_BOOL: bool,
    FieldDescriptor.TYPE_DOUBLE: float,
    FieldDescriptor.TYPE_FLOAT: float,
    **dict.fromkeys(_INT_TYPES, int),
}


@attrs.define(frozen=True)
class _MessageCodec:
    enc: Encode
    dec: Decode


@attrs.define(frozen=True)
class _FieldCodec:
    """How one spec value sits in one protobuf field of a message."""

    write: Callable[[Message, Any], None]
    present: Callable[[Message], bool]
    get: Decode
    inline: tuple[str, Any] | None = None
    """How :func:`_compile_enc` writes the field without calling ``write``: ``("set", to)`` a
    scalar (``to`` None: the value as it is), ``("model", cls)`` a spec model's message,
    ``("models", cls)`` a repeated one; None: through ``write``."""
    read: tuple[str, Any] | None = None
    """How :func:`_compile_dec` reads the field without calling ``present`` and ``get``:
    ``("scalar", (frm, has_presence, zero))`` (``frm`` None: the value as it is), ``("model",
    cls)``, ``("models", cls)``; None: through ``present`` and ``get``."""


@attrs.define(frozen=True)
class _FieldPlan:
    name: str
    codec: _FieldCodec
    optional: bool
    has_default: bool
    legacy: tuple[tuple[str, ...], Decode] | None


@attrs.define
class _ModelCodec:
    cls: type
    descriptor: Descriptor
    fields: tuple[_FieldPlan, ...] = ()
    enc: Encode = attrs.field(init=False)
    """Writes a model into its message: a function generated from the plans on first use
    (:func:`_compile_enc`); what :meth:`enc_by_plan` does, without its calls per field."""
    dec: Decode = attrs.field(init=False)
    """Reads a model from its message: generated on first use (:func:`_compile_dec`); what
    :meth:`dec_by_plan` does."""

    def __attrs_post_init__(self) -> None:
        def first(obj: Any, msg: Message) -> None:
            # The plans are complete by the first write (a codec is built before it is used). A
            # caller may hold this function for a whole list: compiled once all the same.
            if self.enc is first:
                self.enc = _compile_enc(self)
            self.enc(obj, msg)

        def first_read(msg: Message) -> Any:
            if self.dec is first_read:
                self.dec = _compile_dec(self)
            return self.dec(msg)

        self.enc = first
        self.dec = first_read

    def enc_by_plan(self, obj: Any, msg: Message) -> None:
        """The plans' writes one by one (the reference the generated encoder is tested against)."""
        if self.cls is spec.Literal and _write_primitive_literal(obj, msg):
            return
        for plan in self.fields:
            value = getattr(obj, plan.name)
            if value is None:
                continue
            try:
                plan.codec.write(msg, value)
            except ConversionError:
                raise
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                raise ConversionError(f"{self.cls.__name__}.{plan.name}: cannot write {value!r}: {exc}") from exc

    def dec_by_plan(self, msg: Message) -> Any:
        """The plans' reads one by one (the reference the generated decoder is tested against)."""
        if self.cls is spec.Literal:
            fast = _primitive_literal(msg)
            if fast is not None:
                return fast
        kwargs: dict[str, Any] = {}
        for plan in self.fields:
            try:
                if plan.codec.present(msg):
                    kwargs[plan.name] = plan.codec.get(msg)
                elif plan.legacy is not None and (legacy := _follow(msg, plan.legacy[0])) is not None:
                    kwargs[plan.name] = plan.legacy[1](legacy)
                elif plan.optional:
                    kwargs[plan.name] = None
                elif not plan.has_default:
                    # A required field left unset reads as its empty value (e.g. Identifier()).
                    kwargs[plan.name] = plan.codec.get(msg)
            except (ConversionError, SpecError):
                raise
            except (TypeError, ValueError) as exc:
                raise ConversionError(f"{self.cls.__name__}.{plan.name}: cannot read: {exc}") from exc
        try:
            return self.cls(**kwargs)
        except SpecError as exc:
            raise ConversionError(f"{self.descriptor.full_name} is not a valid {self.cls.__name__}: {exc}") from exc


def _compile_enc(codec: _ModelCodec) -> Encode:
    """A function writing ``codec``'s model into its message, straight-line: a scalar field set
    directly, a nested model's message written by that model's encoder, anything else through
    its plan's ``write``. Same writes and errors as :meth:`_ModelCodec.enc_by_plan`."""
    given: dict[str, Any] = {}
    body = []
    if codec.cls is spec.Literal:
        body.append("        if _write_primitive_literal(obj, msg): return")
    body += ["        name = v = None", "        try:"]
    for i, plan in enumerate(codec.fields):
        name = plan.name
        body += [f"            name = {name!r}", f"            v = obj.{name}", "            if v is not None:"]
        inline: tuple[str, Any] = plan.codec.inline or ("write", None)
        kind, arg = inline
        if kind == "set" and arg is None:
            body.append(f"                msg.{name} = v")
        elif kind == "set":
            given[f"to{i}"] = arg
            body.append(f"                msg.{name} = to{i}(v)")
        elif kind == "model":
            given[f"c{i}"] = _model_codec(arg)
            body.append(f"                s = msg.{name}; s.SetInParent(); c{i}.enc(v, s)")
        elif kind == "models":
            given[f"c{i}"] = _model_codec(arg)
            body += [f"                s = msg.{name}; e = c{i}.enc", "                for x in v: e(x, s.add())"]
        else:
            given[f"w{i}"] = plan.codec.write
            body.append(f"                w{i}(msg, v)")
    body += [
        "            pass",
        "        except ConversionError:",
        "            raise",
        "        except (TypeError, ValueError, OverflowError, AttributeError) as exc:",
        f"            raise ConversionError(f'{codec.cls.__name__}.{{name}}: cannot write {{v!r}}: {{exc}}') from exc",
    ]
    return typing.cast(Encode, _generated(f"encoder of {codec.cls.__qualname__}", "enc(obj, msg)", given, body))


def _generated(what: str, signature: str, given: dict[str, Any], body: list[str]) -> Any:
    """The function ``signature`` with ``body`` (lines indented for it), closed over ``given``;
    this module's globals (ConversionError, _follow, ...) are looked up when it is called."""
    source = "\n".join([f"def make({', '.join(given)}):", f"    def {signature}:", *body,
                        f"    return {signature.partition('(')[0]}"])
    made: dict[str, Any] = {}
    exec(compile(source, f"<{what}>", "exec"), globals(), made)
    return made["make"](**given)


def _compile_dec(codec: _ModelCodec) -> Decode:
    """A function reading ``codec``'s model from its message, straight-line: a scalar field read
    directly, a nested model by that model's decoder, anything else through its plan's
    ``present`` and ``get``. Same values and errors as :meth:`_ModelCodec.dec_by_plan`."""
    given: dict[str, Any] = {"cls": codec.cls}
    body = []
    if codec.cls is spec.Literal:
        body += ["        fast = _primitive_literal(msg)", "        if fast is not None: return fast"]
    body += ["        kw = {}", "        name = None", "        try:"]
    for i, plan in enumerate(codec.fields):
        name = plan.name
        hint: tuple[str, Any] = plan.codec.read or ("plan", None)
        kind, arg = hint
        body.append(f"            name = {name!r}")
        if kind == "scalar":
            frm, presence, zero = arg
            value = "v" if frm is None else f"fr{i}(v)"
            if frm is not None:
                given[f"fr{i}"] = frm
            given[f"z{i}"] = zero
            body.append(f"            v = msg.{name}")
            test = f"msg.HasField({name!r})" if presence else f"v != z{i}"
            read = value
        elif kind == "model":
            given[f"c{i}"] = _model_codec(arg)
            test, read = f"msg.HasField({name!r})", f"c{i}.dec(msg.{name})"
        elif kind == "models":
            given[f"c{i}"] = _model_codec(arg)
            body.append(f"            s = msg.{name}")
            test, read = "s", f"tuple([d(x) for x in s]) if (d := c{i}.dec) else ()"
        else:
            given[f"p{i}"], given[f"g{i}"] = plan.codec.present, plan.codec.get
            test, read = f"p{i}(msg)", f"g{i}(msg)"
        body += [f"            if {test}:", f"                kw[{name!r}] = {read}"]
        if plan.legacy is not None:
            given[f"lp{i}"], given[f"ld{i}"] = plan.legacy
            body += [f"            elif (lg := _follow(msg, lp{i})) is not None:", f"                kw[{name!r}] = ld{i}(lg)"]
        if plan.optional:
            body += ["            else:", f"                kw[{name!r}] = None"]
        elif not plan.has_default:
            body += ["            else:", f"                kw[{name!r}] = {read}"]
    body += [
        "            pass",
        "        except (ConversionError, SpecError):",
        "            raise",
        "        except (TypeError, ValueError) as exc:",
        f"            raise ConversionError(f'{codec.cls.__name__}.{{name}}: cannot read: {{exc}}') from exc",
        "        try:",
        "            return cls(**kw)",
        "        except SpecError as exc:",
        f"            raise ConversionError(f'{codec.descriptor.full_name} is not a valid {codec.cls.__name__}: {{exc}}') from exc",
    ]
    return typing.cast(Decode, _generated(f"decoder of {codec.cls.__qualname__}", "dec(msg)", given, body))


_FAST_PRIMITIVES = frozenset({"integer", "float_value", "string_value", "boolean"})
_FAST_PRIMITIVE_ORDER = ("integer", "string_value", "float_value", "boolean")


def _write_primitive_literal(obj: Any, msg: Message) -> bool:
    """Write the most common literal, a plain integer, float, string or boolean, without the
    general plan (what it would write: the scalar's primitive, nothing else); False for any other
    literal, or a value the field refuses (the general plan then says why)."""
    scalar = obj.scalar
    if scalar is None or obj.hash or obj.metadata:  # a scalar excludes collection and map
        return False
    primitive = scalar.primitive
    if primitive is None:
        return False
    for kind in _FAST_PRIMITIVE_ORDER:
        value = getattr(primitive, kind)
        if value is not None:
            try:
                setattr(msg.scalar.primitive, kind, value)  # type: ignore[attr-defined]
            except (TypeError, ValueError):
                return False
            return True
    return False


def _primitive_literal(msg: Message) -> Any:
    """The most common literal, a plain integer, float, string or boolean, read without the
    general plan (a wide map's lists hold thousands of them); None for any other literal."""
    if msg.WhichOneof("value") != "scalar" or msg.hash or msg.metadata:  # type: ignore[attr-defined]
        return None
    scalar = msg.scalar  # type: ignore[attr-defined]
    if scalar.WhichOneof("value") != "primitive":
        return None
    primitive = scalar.primitive
    kind = primitive.WhichOneof("value")
    if kind not in _FAST_PRIMITIVES:
        return None
    return spec.Literal(scalar=spec.Scalar(primitive=spec.Primitive(**{kind: getattr(primitive, kind)})))


def _descriptor(twin: type[Message]) -> Descriptor:
    # upb's descriptor class stands in for descriptor.Descriptor at run time.
    return typing.cast(Descriptor, twin.DESCRIPTOR)


def _follow(msg: Message, path: tuple[str, ...]) -> Message | None:
    for name in path:
        if not msg.HasField(name):
            return None
        msg = getattr(msg, name)
    return msg


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = typing.get_args(tp)
        if type(None) in args:
            rest = tuple(a for a in args if a is not type(None))
            return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return tp, False


def _scalar(tp: Any, fd: FieldDescriptor, where: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(to proto, from proto) for a non-message value."""
    et = fd.enum_type
    if et is not None:
        if not (isinstance(tp, type) and issubclass(tp, enum.IntEnum)):
            raise ConversionError(f"{where}: flyteidl enum {et.full_name} needs an IntEnum, spec has {tp}")
        unknown = {m.name for m in tp} - set(et.values_by_name)
        if unknown:
            raise ConversionError(f"{where}: {tp.__name__} members {sorted(unknown)} are not in {et.full_name}")
        return int, tp
    want = _SCALAR_TYPES[fd.type]
    if tp is not want:
        raise ConversionError(f"{where}: flyteidl field {fd.full_name} holds {want.__name__}, spec has {tp}")
    return _same, _same


def _same(value: Any) -> Any:
    return value


def _field_codec(tp: Any, fd: FieldDescriptor, where: str) -> _FieldCodec:
    """Codec for spec type ``tp`` (``None`` already stripped) stored in protobuf field ``fd``."""
    name = fd.name
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    mt = fd.message_type
    if mt is not None and mt.GetOptions().map_entry:
        if origin is not dict or args[0] is not str:
            raise ConversionError(f"{where}: flyteidl map {fd.full_name} needs dict[str, ...], spec has {tp}")
        vfd = mt.fields_by_name["value"]
        if vfd.message_type is not None:
            mc = _message_codec(args[1], vfd.message_type, where)
            put: Callable[[Any, str, Any], None] = lambda c, k, v: mc.enc(v, c[k])  # noqa: E731
            take: Decode = mc.dec
        else:
            to, take = _scalar(args[1], vfd, where)
            put = lambda c, k, v: c.__setitem__(k, to(v))  # noqa: E731

        def write_map(msg: Message, value: dict[str, Any]) -> None:
            container = getattr(msg, name)
            for k, v in value.items():
                put(container, k, v)

        return _FieldCodec(write_map, lambda m: len(getattr(m, name)) > 0,
                           lambda m: {k: take(v) for k, v in getattr(m, name).items()})

    if fd.is_repeated:
        if origin is not tuple or len(args) != 2 or args[1] is not Ellipsis:
            raise ConversionError(f"{where}: repeated flyteidl field {fd.full_name} needs tuple[X, ...], spec has {tp}")
        inline = None
        if mt is not None:
            mc = _message_codec(args[0], mt, where)
            add: Callable[[Any, Any], None] = lambda c, v: mc.enc(v, c.add())  # noqa: E731
            take = mc.dec
            inline = ("models", args[0]) if _is_twin(args[0], mt) else None
        else:
            to, take = _scalar(args[0], fd, where)
            add = lambda c, v: c.append(to(v))  # noqa: E731

        def write_list(msg: Message, value: tuple[Any, ...]) -> None:
            container = getattr(msg, name)
            for v in value:
                add(container, v)

        return _FieldCodec(write_list, lambda m: len(getattr(m, name)) > 0,
                           lambda m: tuple(take(v) for v in getattr(m, name)), inline, inline)

    if mt is not None:
        mc = _message_codec(tp, mt, where)

        def write_message(msg: Message, value: Any) -> None:
            sub = getattr(msg, name)
            # Marks presence even when the value is empty (Void(), {} labels, ...).
            sub.SetInParent()
            mc.enc(value, sub)

        twin = ("model", tp) if _is_twin(tp, mt) else None
        return _FieldCodec(write_message, lambda m: m.HasField(name), lambda m: mc.dec(getattr(m, name)), twin, twin)

    to, frm = _scalar(tp, fd, where)
    zero = fd.default_value
    if fd.has_presence:
        present: Callable[[Message], bool] = lambda m: m.HasField(name)  # noqa: E731
    else:
        present = lambda m: getattr(m, name) != zero  # noqa: E731
    return _FieldCodec(lambda m, v: setattr(m, name, to(v)), present, lambda m: frm(getattr(m, name)),
                       ("set", None if to is _same else to),
                       ("scalar", (None if frm is _same else frm, fd.has_presence, zero)))


def _is_twin(tp: Any, md: Descriptor) -> bool:
    """Whether spec type ``tp`` is a model whose flyteidl twin is message ``md``."""
    twin = TWINS.get(tp) if attrs.has(tp) else None
    return twin is not None and twin.DESCRIPTOR.full_name == md.full_name


def _message_codec(tp: Any, md: Descriptor, where: str) -> _MessageCodec:
    """Codec for spec type ``tp`` held in a flyteidl message of type ``md``."""
    if _is_twin(tp, md):
        # Late lookup: models are recursive (LiteralType holds LiteralType).
        return _MessageCodec(lambda v, m: _model_codec(tp).enc(v, m), lambda m: _model_codec(tp).dec(m))
    custom = _CUSTOM.get(md.full_name)
    if custom is not None:
        expected, codec = custom
        if tp != expected:
            raise ConversionError(f"{where}: {md.full_name} maps to {expected}, spec has {tp}")
        return codec
    inner = _WRAPPERS.get(md.full_name)
    if inner is not None:
        fc = _field_codec(tp, md.fields_by_name[inner], where)
        return _MessageCodec(lambda v, m: fc.write(m, v), fc.get)
    raise ConversionError(f"{where}: spec type {tp} has no mapping to flyteidl message {md.full_name}")


# --- model codecs, built once per class -----------------------------------------------------------

_CODECS: dict[type, _ModelCodec] = {}
_BUILDING: dict[type, _ModelCodec] = {}
_LOCK = threading.RLock()


def _model_codec(cls: type) -> _ModelCodec:
    codec = _CODECS.get(cls)
    if codec is not None:
        return codec
    with _LOCK:
        return _CODECS.get(cls) or _build(cls)


def _build(cls: type) -> _ModelCodec:
    # Under _LOCK. Codecs being built stay in _BUILDING so that recursive models find
    # themselves, and other threads never see a half-built codec in _CODECS.
    if cls in _BUILDING:
        return _BUILDING[cls]
    twin = TWINS.get(cls)
    if twin is None:
        raise ConversionError(f"spec model {cls.__qualname__} has no flyteidl twin (see flytecore.spec.idl.TWINS)")
    try:
        attrs.resolve_types(cls)  # models declared outside flytecore.spec may still hold strings
    except NameError as exc:
        raise ConversionError(f"{cls.__qualname__}: cannot resolve field types: {exc}") from exc
    top = not _BUILDING
    md = _descriptor(twin)
    codec = _BUILDING[cls] = _ModelCodec(cls, md)
    try:
        codec.fields = tuple(_plan(cls, f, md) for f in attrs.fields(cls)
                             if (cls, f.name) not in SPEC_ONLY_FIELDS)
    except BaseException:
        if top:
            _BUILDING.clear()
        raise
    if top:
        _CODECS.update(_BUILDING)
        _BUILDING.clear()
    return codec


def _plan(cls: type, field: attrs.Attribute[Any], md: Descriptor) -> _FieldPlan:
    where = f"{cls.__name__}.{field.name}"
    fd = md.fields_by_name.get(field.name)
    if fd is None:
        raise ConversionError(
            f"{where} has no flyteidl twin in {md.full_name}; rename it after the flyteidl field "
            "or list it in flytecore.spec.idl.SPEC_ONLY_FIELDS with a reason"
        )
    if isinstance(field.type, str):
        raise ConversionError(f"{where}: unresolved annotation {field.type!r}")
    tp, optional = _strip_optional(field.type)
    if optional and not fd.has_presence:
        raise ConversionError(f"{where} is optional but flyteidl field {fd.full_name} has no presence, so None "
                              "cannot round-trip; give it a non-None default")
    legacy = None
    path = _LEGACY_SOURCES.get((cls, field.name))
    if path is not None:
        source: Descriptor | None = md
        for step in path:
            assert source is not None, f"{where}: legacy path {path} must go through messages"
            source = source.fields_by_name[step].message_type
        assert source is not None, f"{where}: legacy path {path} must end at a message"
        legacy = (path, _message_codec(tp, source, where).dec)
    return _FieldPlan(
        name=field.name,
        codec=_field_codec(tp, fd, where),
        optional=optional,
        has_default=field.default is not attrs.NOTHING,
        legacy=legacy,
    )


# --- flyteidl messages with a hand-written codec -------------------------------------------------


def _enc_promise_attribute(value: Any, msg: Any) -> None:
    if isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, int) and not isinstance(value, bool):
        msg.int_value = value
    else:
        raise ConversionError(f"an attr_path element is a str or an int, got {value!r}")


def _dec_promise_attribute(msg: Any) -> str | int:
    kind = msg.WhichOneof("value")
    if kind is None:
        raise ConversionError("flyteidl.core.PromiseAttribute has neither string_value nor int_value")
    return getattr(msg, kind)


# flyteidl message -> (the spec type it maps to, its codec).
_CUSTOM: dict[str, tuple[Any, _MessageCodec]] = {
    "google.protobuf.Timestamp": (_dt.datetime, _MessageCodec(_wk.enc_timestamp, _wk.dec_timestamp)),
    "google.protobuf.Duration": (_dt.timedelta, _MessageCodec(_wk.enc_duration, _wk.dec_duration)),
    "google.protobuf.Struct": (dict[str, Any], _MessageCodec(_wk.enc_struct, _wk.dec_struct)),
    "flyteidl.core.PromiseAttribute": (str | int, _MessageCodec(_enc_promise_attribute, _dec_promise_attribute)),
}

# --- public API ----------------------------------------------------------------------------------


def to_idl(obj: Any) -> Message:
    """Convert a spec model to its flyteidl message (see :data:`TWINS`).

    :raises ConversionError: ``obj`` has no flyteidl twin, one of its fields has none, or a value
        does not fit (e.g. an integer out of range, a naive datetime).
    """
    cls = type(obj)
    if not attrs.has(cls):
        raise ConversionError(f"to_idl needs a spec model, got {cls.__qualname__}")
    codec = _model_codec(cls)
    msg = TWINS[cls]()
    codec.enc(obj, msg)
    return msg


@overload
def from_idl(msg: Message, cls: type[T]) -> T: ...
@overload
def from_idl(msg: Message, cls: None = None) -> Any: ...
def from_idl(msg: Message, cls: type[T] | None = None) -> Any:
    """Convert a flyteidl message to a spec model.

    :param cls: the spec model to build; by default the one whose twin is ``type(msg)``.
    :raises ConversionError: no spec model fits, or the message breaks a spec rule.
    """
    name = msg.DESCRIPTOR.full_name
    if cls is None:
        found = _SPEC_OF.get(name)
        if found is None:
            raise ConversionError(f"no spec model is the twin of flyteidl message {name}")
        cls = found
    codec = _model_codec(cls)
    if codec.descriptor.full_name != name:
        raise ConversionError(f"{cls.__name__} is read from {codec.descriptor.full_name}, got {name}")
    return codec.dec(msg)


def literal_map_to_bytes(literal_map: spec.LiteralMap) -> bytes:
    """Serialize a literal map as flyteidl ``LiteralMap`` bytes (``inputs.pb``/``outputs.pb``).

    Deterministic (map keys sorted), so the same map always gives the same bytes.
    """
    if not isinstance(literal_map, spec.LiteralMap):
        raise ConversionError(f"expected a LiteralMap, got {type(literal_map).__qualname__}")
    return to_idl(literal_map).SerializeToString(deterministic=True)


def literal_map_from_bytes(data: bytes) -> spec.LiteralMap:
    """Parse flyteidl ``LiteralMap`` bytes (``inputs.pb``/``outputs.pb``) into a spec LiteralMap."""
    try:
        msg = literals_pb2.LiteralMap.FromString(data)
    except DecodeError as exc:
        raise ConversionError(f"not a serialized flyteidl.core.LiteralMap: {exc}") from exc
    return from_idl(msg, spec.LiteralMap)
