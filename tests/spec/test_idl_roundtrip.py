"""The flyteidl bridge (flytecore.spec.idl) and the JSON/YAML converter, property and example based.

Properties run for every spec model: spec -> flyteidl -> spec, through protobuf bytes, and
through JSON/YAML. The examples pin the mapping to flyteidl field by field, so that it is right
and not just self-consistent.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs
import pytest
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.core import (
    compiler_pb2,
    condition_pb2,
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from google.protobuf import duration_pb2, struct_pb2, wrappers_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flytecore import spec
from flytecore.errors import ConversionError
from flytecore.spec import idl
from tests.spec.strategies import STRATEGIES

MODELS = [cls for cls in spec.ALL_MODELS if cls in idl.TWINS]
_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Fewer examples for JSON/YAML: PyYAML is pure Python here and dominates the cost.
_TEXT_PROPERTY = settings(_PROPERTY, max_examples=15)


def _name(cls: type) -> str:
    return cls.__name__


def test_every_model_has_a_twin_and_a_strategy() -> None:
    assert set(spec.ALL_MODELS) == set(idl.TWINS) | set(idl.NO_TWIN)
    assert not set(idl.TWINS) & set(idl.NO_TWIN)
    assert set(spec.ALL_MODELS) <= set(STRATEGIES)
    assert len(set(idl.TWINS.values())) == len(idl.TWINS), "two models share a flyteidl twin"


def _assert_none_is_unset(obj: Any, msg: Any) -> None:
    for field in attrs.fields(type(obj)):
        fd = msg.DESCRIPTOR.fields_by_name[field.name]
        if getattr(obj, field.name) is None and fd.has_presence:
            assert not msg.HasField(field.name), f"{type(obj).__name__}.{field.name} is None but set"


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@_PROPERTY
@given(data=st.data())
def test_idl_roundtrip(cls: type, data: st.DataObject) -> None:
    """spec -> flyteidl -> spec, and spec -> flyteidl -> bytes -> flyteidl -> spec (one draw, two
    properties: drawing dominates the cost)."""
    obj = data.draw(STRATEGIES[cls])
    msg = idl.to_idl(obj)
    assert type(msg) is idl.TWINS[cls]
    _assert_none_is_unset(obj, msg)
    assert idl.from_idl(msg) == obj
    parsed = type(msg).FromString(msg.SerializeToString())
    assert parsed == msg
    assert idl.from_idl(parsed, cls) == obj


_COMPACT = spec.make_converter()
_FULL = spec.make_converter(omit_defaults=False)


@pytest.mark.parametrize("cls", spec.ALL_MODELS, ids=_name)
@_TEXT_PROPERTY
@given(data=st.data())
def test_json_and_yaml_roundtrip(cls: type, data: st.DataObject) -> None:
    obj = data.draw(STRATEGIES[cls])
    assert spec.from_json(spec.to_json(obj, _COMPACT), cls, _COMPACT) == obj
    assert spec.from_json(spec.to_json(obj, _FULL), cls, _FULL) == obj
    # The compact form is enough to cover YAML's quirks (quoting, unicode, timestamps).
    assert spec.from_yaml(spec.to_yaml(obj, _COMPACT), cls, _COMPACT) == obj


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STRATEGIES[spec.LiteralMap])
def test_literal_map_bytes_roundtrip(literal_map: spec.LiteralMap) -> None:
    data = idl.literal_map_to_bytes(literal_map)
    assert idl.literal_map_from_bytes(data) == literal_map
    # Deterministic: the same map always gives the same bytes.
    assert idl.literal_map_to_bytes(idl.literal_map_from_bytes(data)) == data


# --- examples pinned to flyteidl -----------------------------------------------------------------

_TASK_ID = spec.Identifier(resource_type=spec.ResourceType.TASK, project="p", domain="d", name="t", version="v1")
_TASK_ID_PB = identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t",
                                        version="v1")
_INT = spec.LiteralType(simple=spec.SimpleType.INTEGER)
_INT_PB = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def test_task_template_maps_field_by_field() -> None:
    cpu, mem, gpu = spec.ResourceName.CPU, spec.ResourceName.MEMORY, spec.ResourceName.GPU
    task = spec.TaskTemplate(
        id=_TASK_ID,
        type="python-task",
        metadata=spec.TaskMetadata(discoverable=True, discovery_version="1", retries=spec.RetryStrategy(retries=3),
                                   timeout=_dt.timedelta(minutes=5, microseconds=250), interruptible=False,
                                   tags={"team": "ml"}),
        interface=spec.TypedInterface(
            inputs={"x": spec.Variable(type=_INT, description="how many")},
            outputs={"o0": spec.Variable(type=spec.LiteralType(collection_type=spec.LiteralType(
                simple=spec.SimpleType.STRING)))},
        ),
        custom={"replicas": 2, "opts": {"fast": True, "ratio": 0.5}},
        container=spec.Container(
            image="python:3.11", command=("python",), args=("-m", "run", "{{.input}}"),
            resources=spec.Resources(
                requests=(spec.ResourceEntry(name=cpu, value="500m"), spec.ResourceEntry(name=mem, value="1Gi")),
                limits=(spec.ResourceEntry(name=gpu, value="1"),),
            ),
            env=(spec.KeyValuePair(key="A", value="1"),),
        ),
        task_type_version=1,
        config={"k": "v"},
    )
    res = tasks_pb2.Resources
    expected = tasks_pb2.TaskTemplate(
        id=_TASK_ID_PB,
        type="python-task",
        metadata=tasks_pb2.TaskMetadata(discoverable=True, discovery_version="1",
                                        retries=literals_pb2.RetryStrategy(retries=3),
                                        timeout=duration_pb2.Duration(seconds=300, nanos=250_000),
                                        interruptible=False, tags={"team": "ml"}),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=_INT_PB,
                                                                                    description="how many")}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=types_pb2.LiteralType(
                collection_type=types_pb2.LiteralType(simple=types_pb2.STRING)))}),
        ),
        custom=_struct({"replicas": 2, "opts": {"fast": True, "ratio": 0.5}}),
        container=tasks_pb2.Container(
            image="python:3.11", command=["python"], args=["-m", "run", "{{.input}}"],
            resources=res(requests=[res.ResourceEntry(name=res.CPU, value="500m"),
                                    res.ResourceEntry(name=res.MEMORY, value="1Gi")],
                          limits=[res.ResourceEntry(name=res.GPU, value="1")]),
            env=[literals_pb2.KeyValuePair(key="A", value="1")],
        ),
        task_type_version=1,
        config={"k": "v"},
    )
    msg = idl.to_idl(task)
    assert msg == expected
    assert msg.metadata.HasField("interruptible") and not msg.metadata.HasField("runtime")
    assert idl.from_idl(expected) == task
    assert idl.from_idl(expected).custom == {"replicas": 2, "opts": {"fast": True, "ratio": 0.5}}


def _workflow() -> tuple[spec.WorkflowTemplate, workflow_pb2.WorkflowTemplate]:
    def cmp(op: spec.ComparisonOperator, var: str, value: int) -> spec.BooleanExpression:
        return spec.BooleanExpression(comparison=spec.ComparisonExpression(
            operator=op, left_value=spec.Operand(var=var), right_value=spec.Operand(primitive=spec.Primitive(integer=value))))

    def cmp_pb(op: int, var: str, value: int) -> condition_pb2.BooleanExpression:
        return condition_pb2.BooleanExpression(comparison=condition_pb2.ComparisonExpression(
            operator=op, left_value=condition_pb2.Operand(var=var),
            right_value=condition_pb2.Operand(primitive=literals_pb2.Primitive(integer=value))))

    def task_node(node_id: str) -> spec.Node:
        return spec.Node(id=node_id, task_node=spec.TaskNode(reference_id=_TASK_ID))

    def task_node_pb(node_id: str) -> workflow_pb2.Node:
        return workflow_pb2.Node(id=node_id, task_node=workflow_pb2.TaskNode(reference_id=_TASK_ID_PB))

    wf_id = spec.Identifier(resource_type=spec.ResourceType.WORKFLOW, project="p", domain="d", name="wf", version="v1")
    ops, logic = spec.ComparisonOperator, spec.LogicalOperator
    wf = spec.WorkflowTemplate(
        id=wf_id,
        metadata=spec.WorkflowMetadata(on_failure=spec.OnFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
                                       tags={"a": "b"}),
        interface=spec.TypedInterface(inputs={"x": spec.Variable(type=_INT)}, outputs={"o0": spec.Variable(type=_INT)}),
        nodes=(
            spec.Node(
                id="n0",
                metadata=spec.NodeMetadata(name="branch", retries=spec.RetryStrategy(retries=1), cacheable=False),
                inputs=(spec.Binding(var="x", binding=spec.BindingData(promise=spec.OutputReference(var="x"))),),
                branch_node=spec.BranchNode(if_else=spec.IfElseBlock(
                    case=spec.IfBlock(condition=cmp(ops.GT, "x", 0), then_node=task_node("n0-n0")),
                    other=(spec.IfBlock(
                        condition=spec.BooleanExpression(conjunction=spec.ConjunctionExpression(
                            operator=logic.AND, left_expression=cmp(ops.LTE, "x", 0), right_expression=cmp(ops.NEQ, "x", -5))),
                        then_node=task_node("n0-n1")),),
                    error=spec.Error(failed_node_id="n0", message="x is -5"),
                )),
            ),
            spec.Node(
                id="n1",
                upstream_node_ids=("n0",),
                inputs=(spec.Binding(var="xs", binding=spec.BindingData(collection=(
                    spec.BindingData(promise=spec.OutputReference(node_id="n0", var="o0", attr_path=("a", 0))),
                    spec.BindingData(scalar=spec.Scalar(primitive=spec.Primitive(integer=2))),
                ))),),
                array_node=spec.ArrayNode(node=task_node("n1-n0"), parallelism=0, min_success_ratio=0.5,
                                          execution_mode=spec.ArrayExecutionMode.FULL_STATE, bound_inputs=("y",)),
            ),
        ),
        outputs=(spec.Binding(var="o0", binding=spec.BindingData(
            map={"k": spec.BindingData(promise=spec.OutputReference(node_id="n1", var="o0"))})),),
    )
    wpb, cpb, lpb = workflow_pb2, condition_pb2, literals_pb2
    expected = wpb.WorkflowTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="wf",
                                     version="v1"),
        metadata=wpb.WorkflowMetadata(on_failure=wpb.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
                                      tags={"a": "b"}),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=_INT_PB)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=_INT_PB)})),
        nodes=[
            wpb.Node(
                id="n0",
                metadata=wpb.NodeMetadata(name="branch", retries=lpb.RetryStrategy(retries=1), cacheable=False),
                inputs=[lpb.Binding(var="x", binding=lpb.BindingData(promise=types_pb2.OutputReference(var="x")))],
                branch_node=wpb.BranchNode(if_else=wpb.IfElseBlock(
                    case=wpb.IfBlock(condition=cmp_pb(cpb.ComparisonExpression.GT, "x", 0),
                                     then_node=task_node_pb("n0-n0")),
                    other=[wpb.IfBlock(
                        condition=cpb.BooleanExpression(conjunction=cpb.ConjunctionExpression(
                            operator=cpb.ConjunctionExpression.AND,
                            left_expression=cmp_pb(cpb.ComparisonExpression.LTE, "x", 0),
                            right_expression=cmp_pb(cpb.ComparisonExpression.NEQ, "x", -5))),
                        then_node=task_node_pb("n0-n1"))],
                    error=types_pb2.Error(failed_node_id="n0", message="x is -5"),
                )),
            ),
            wpb.Node(
                id="n1",
                upstream_node_ids=["n0"],
                inputs=[lpb.Binding(var="xs", binding=lpb.BindingData(collection=lpb.BindingDataCollection(bindings=[
                    lpb.BindingData(promise=types_pb2.OutputReference(node_id="n0", var="o0", attr_path=[
                        types_pb2.PromiseAttribute(string_value="a"), types_pb2.PromiseAttribute(int_value=0)])),
                    lpb.BindingData(scalar=lpb.Scalar(primitive=lpb.Primitive(integer=2))),
                ])))],
                array_node=wpb.ArrayNode(node=task_node_pb("n1-n0"), parallelism=0, min_success_ratio=0.5,
                                         execution_mode=wpb.ArrayNode.FULL_STATE, bound_inputs=["y"]),
            ),
        ],
        outputs=[lpb.Binding(var="o0", binding=lpb.BindingData(map=lpb.BindingDataMap(
            bindings={"k": lpb.BindingData(promise=types_pb2.OutputReference(node_id="n1", var="o0"))})))],
        metadata_defaults=wpb.WorkflowMetadataDefaults(),
    )
    return wf, expected


def test_workflow_with_branch_and_array_nodes_maps_field_by_field() -> None:
    wf, expected = _workflow()
    msg = idl.to_idl(wf)
    assert msg == expected
    array = msg.nodes[1].array_node
    # Zero parallelism is "unlimited", distinct from unset: the oneof keeps it.
    assert array.HasField("parallelism") and array.WhichOneof("success_criteria") == "min_success_ratio"
    assert not msg.HasField("failure_node") and not msg.nodes[0].HasField("task_node")
    assert msg.nodes[0].branch_node.if_else.WhichOneof("default") == "error"
    assert idl.from_idl(expected) == wf


def test_compiled_closure_connections_use_id_lists() -> None:
    wf, _ = _workflow()
    closure = spec.CompiledWorkflowClosure(primary=spec.CompiledWorkflow(
        template=wf, connections=spec.ConnectionSet(downstream={"n0": ("n1",)}, upstream={"n1": ("n0", "start-node")})))
    msg = idl.to_idl(closure)
    assert msg.primary.connections == compiler_pb2.ConnectionSet(
        downstream={"n0": compiler_pb2.ConnectionSet.IdList(ids=["n1"])},
        upstream={"n1": compiler_pb2.ConnectionSet.IdList(ids=["n0", "start-node"])})
    assert idl.from_idl(msg) == closure


def test_dynamic_job_spec_maps_field_by_field() -> None:
    """futures.pb: nodes, min_successes, output bindings and the referenced templates."""
    wf, wf_pb = _workflow()
    task = spec.TaskTemplate(id=_TASK_ID, type="python-task")
    job = spec.DynamicJobSpec(
        nodes=wf.nodes,
        min_successes=2,
        outputs=wf.outputs,
        tasks=(task,),
        subworkflows=(wf,),
    )
    expected = dynamic_job_pb2.DynamicJobSpec(
        nodes=wf_pb.nodes,
        min_successes=2,
        outputs=wf_pb.outputs,
        tasks=[tasks_pb2.TaskTemplate(id=_TASK_ID_PB, type="python-task", metadata=tasks_pb2.TaskMetadata(
            retries=literals_pb2.RetryStrategy()), interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(), outputs=interface_pb2.VariableMap()))],
        subworkflows=[wf_pb],
    )
    msg = idl.to_idl(job)
    assert type(msg) is dynamic_job_pb2.DynamicJobSpec
    assert msg == expected
    assert idl.from_idl(dynamic_job_pb2.DynamicJobSpec.FromString(msg.SerializeToString())) == job
    as_wf = job.to_workflow_template(wf.id, wf.interface)
    assert (as_wf.nodes, as_wf.outputs, as_wf.interface) == (wf.nodes, wf.outputs, wf.interface)


def test_launch_plan_spec_wrappers() -> None:
    lp = spec.LaunchPlanSpec(
        workflow_id=_TASK_ID,
        default_inputs={"x": spec.Parameter(var=spec.Variable(type=_INT), default=spec.scalar_literal(integer=1)),
                        "y": spec.Parameter(var=spec.Variable(type=_INT), required=True)},
        labels={"team": "ml"},
        raw_output_data_config=spec.RawOutputDataConfig(output_location_prefix="s3://b/raw"),
        interruptible=False,
    )
    msg = idl.to_idl(lp)
    assert msg.default_inputs.parameters["y"].required is True
    assert msg.default_inputs.parameters["x"].default.scalar.primitive.integer == 1
    assert msg.labels == common_pb2.Labels(values={"team": "ml"})
    assert msg.interruptible == wrappers_pb2.BoolValue(value=False)
    assert msg.raw_output_data_config.output_location_prefix == "s3://b/raw"
    assert idl.from_idl(msg) == lp
    unset = idl.to_idl(attrs.evolve(lp, interruptible=None))
    assert not unset.HasField("interruptible")
    assert idl.from_idl(unset).interruptible is None
    assert idl.from_idl(launch_plan_pb2.LaunchPlanSpec(workflow_id=_TASK_ID_PB)) == spec.LaunchPlanSpec(
        workflow_id=_TASK_ID)


def test_timestamps_are_aware_utc() -> None:
    at = _dt.datetime(2024, 5, 1, 12, 30, 1, 5, tzinfo=_dt.UTC)
    closure = spec.LaunchPlanClosure(created_at=at)
    msg = idl.to_idl(closure)
    assert (msg.created_at.seconds, msg.created_at.nanos) == (int(at.timestamp()), 5000)
    assert idl.from_idl(msg).created_at == at and idl.from_idl(msg).created_at.tzinfo is not None
    with pytest.raises(ConversionError, match="naive datetime"):
        idl.to_idl(spec.LaunchPlanClosure(created_at=at.replace(tzinfo=None)))


def test_legacy_execution_outputs_are_read() -> None:
    outputs = spec.LiteralMap(literals={"o0": spec.scalar_literal(string_value="hi")})
    msg = execution_pb2.ExecutionClosure(outputs=execution_pb2.LiteralMapBlob(values=idl.to_idl(outputs)))
    assert idl.from_idl(msg).output_data == outputs


# --- errors --------------------------------------------------------------------------------------


@attrs.define(frozen=True, kw_only=True)
class _Colored:
    project: str = ""
    color: str = ""


@attrs.define(frozen=True, kw_only=True)
class _ColoredSpecOnly:
    project: str = ""
    color: str = ""


@attrs.define(frozen=True, kw_only=True)
class _OptionalProject:
    project: str | None = None


def test_field_without_twin_is_a_conversion_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(idl.TWINS, _Colored, identifier_pb2.Identifier)
    with pytest.raises(ConversionError, match=r"_Colored\.color has no flyteidl twin"):
        idl.to_idl(_Colored(project="p"))


def test_spec_only_fields_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(idl.TWINS, _ColoredSpecOnly, identifier_pb2.Identifier)
    monkeypatch.setitem(idl.SPEC_ONLY_FIELDS, (_ColoredSpecOnly, "color"), "local display only")
    msg = idl.to_idl(_ColoredSpecOnly(project="p", color="red"))
    assert msg == identifier_pb2.Identifier(project="p")
    assert idl.from_idl(msg, _ColoredSpecOnly) == _ColoredSpecOnly(project="p")


def test_optional_field_without_presence_is_a_conversion_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(idl.TWINS, _OptionalProject, identifier_pb2.Identifier)
    with pytest.raises(ConversionError, match=r"_OptionalProject\.project is optional"):
        idl.to_idl(_OptionalProject())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: idl.to_idl(_Colored()), "has no flyteidl twin"),
        (lambda: idl.to_idl("text"), "needs a spec model"),
        (lambda: idl.to_idl(spec.scalar_literal(integer=2**63)), r"Primitive\.integer"),
        (lambda: idl.to_idl(spec.RetryStrategy(retries=-1)), r"RetryStrategy\.retries"),
        (lambda: idl.from_idl(identifier_pb2.Identifier(), spec.TaskTemplate), "read from flyteidl.core.TaskTemplate"),
        (lambda: idl.from_idl(struct_pb2.Struct()), "no spec model"),
        (lambda: idl.from_idl(literals_pb2.Literal()), "not a valid Literal"),
        (lambda: idl.literal_map_from_bytes(b"\xff\xff\xff"), "not a serialized"),
    ],
)
def test_conversion_errors(make: Any, match: str) -> None:
    with pytest.raises(ConversionError, match=match):
        make()


@_PROPERTY
@given(literal=STRATEGIES[spec.Literal], value=st.one_of(st.integers(), st.floats(), st.text(), st.booleans()))
def test_the_fast_path_for_plain_literals_writes_what_the_general_plan_writes(literal: spec.Literal, value: Any) -> None:
    """Plain integer/float/string/boolean literals skip the general plan when written; the bytes
    (or the refusal, e.g. an integer beyond int64) are the same either way, for them and for any
    other literal."""
    kind = {bool: "boolean", int: "integer", float: "float_value", str: "string_value"}[type(value)]
    plain = spec.Literal(scalar=spec.Scalar(primitive=spec.Primitive(**{kind: value})))

    def written(item: spec.Literal) -> bytes | str:
        try:
            return idl.to_idl(item).SerializeToString(deterministic=True)
        except ConversionError as exc:
            return f"refused: {exc}"

    fast = [written(item) for item in (plain, literal)]
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(idl, "_write_primitive_literal", lambda obj, msg: False)
        general = [written(item) for item in (plain, literal)]
    assert fast == general


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@_PROPERTY
@given(data=st.data())
def test_the_generated_encoder_writes_what_the_plans_write(cls: type, data: st.DataObject) -> None:
    """Each model's encoder is generated from its field plans: the same message, or the same
    refusal, as the plans applied one by one (nested models are written by their own encoders,
    each held to this for its own model)."""
    obj = data.draw(STRATEGIES[cls])
    codec = idl._model_codec(cls)

    def written(encode: Any, item: Any) -> bytes | str:
        msg = idl.TWINS[cls]()
        try:
            encode(item, msg)
        except Exception as exc:  # the refusal itself is compared
            return f"refused: {type(exc).__name__}: {exc}"
        return msg.SerializeToString(deterministic=True)

    assert written(codec.enc, obj) == written(codec.enc_by_plan, obj)
    # A value of the wrong kind in the first field: the same refusal, naming the same field.
    fields = [f for f in attrs.fields(cls) if (cls, f.name) not in idl.SPEC_ONLY_FIELDS]
    if fields:
        first = fields[0]
        broken = object.__new__(cls)
        for field in attrs.fields(cls):
            object.__setattr__(broken, field.name, getattr(obj, field.name))
        object.__setattr__(broken, first.name, object())
        assert written(codec.enc, broken) == written(codec.enc_by_plan, broken)


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@_PROPERTY
@given(data=st.data())
def test_the_generated_decoder_reads_what_the_plans_read(cls: type, data: st.DataObject) -> None:
    """Each model's decoder is generated from its field plans: the same model, or the same
    refusal, as the plans applied one by one -- for a model's message, and for that message with
    its fields cleared one at a time (unset fields read as None, as their default or as their
    empty value, as the plans say)."""
    obj = data.draw(STRATEGIES[cls])
    codec = idl._model_codec(cls)
    msg = idl.to_idl(obj)

    def read(decode: Any, message: Any) -> str:
        try:
            return repr(decode(message))  # repr: an enum member is not its int
        except Exception as exc:  # the refusal itself is compared
            return f"refused: {type(exc).__name__}: {exc}"

    assert read(codec.dec, msg) == read(codec.dec_by_plan, msg)
    assert codec.dec(msg) == obj
    for field in msg.DESCRIPTOR.fields:
        cleared = type(msg)()
        cleared.CopyFrom(msg)
        cleared.ClearField(field.name)
        assert read(codec.dec, cleared) == read(codec.dec_by_plan, cleared)


def test_an_encoder_is_generated_once_even_for_a_list_written_before_it_existed(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    generate = idl._compile_enc
    monkeypatch.setattr(idl, "_compile_enc", lambda codec: compiled.append(codec.cls.__name__) or generate(codec))
    for cls in (spec.Container, spec.KeyValuePair):
        idl._model_codec(cls).__attrs_post_init__()  # back to not generated yet
    env = tuple(spec.KeyValuePair(key=f"K{i}", value=str(i)) for i in range(5))
    msg = idl.to_idl(spec.Container(image="img", env=env))
    assert [(kv.key, kv.value) for kv in msg.env] == [(f"K{i}", str(i)) for i in range(5)]
    assert sorted(compiled) == ["Container", "KeyValuePair"]
