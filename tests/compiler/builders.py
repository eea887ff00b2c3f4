"""Terse builders of spec models for compiler tests: types, tasks, nodes, bindings, workflows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flytecore.compiler import CompilationFailed, CompileError, compile_workflow
from flytecore.plugin import PluginHost
from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.interface import TypedInterface, Variable
from flytecore.spec.literals import Binding, BindingData, Literal, LiteralMap, Primitive, Scalar, Void
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.types import (
    BlobDimensionality,
    BlobType,
    EnumType,
    LiteralType,
    OutputReference,
    SimpleType,
    TypeStructure,
    UnionType,
)
from flytecore.spec.types import Error as ErrorValue
from flytecore.spec.workflow import (
    START_NODE_ID,
    ApproveCondition,
    ArrayNode,
    BooleanExpression,
    BranchNode,
    ComparisonExpression,
    ComparisonOperator,
    GateNode,
    IfBlock,
    IfElseBlock,
    LaunchPlanTemplate,
    Node,
    Operand,
    SignalCondition,
    SleepCondition,
    TaskNode,
    WorkflowNode,
    WorkflowTemplate,
)

# --- types ------------------------------------------------------------------------------------

INT = LiteralType(simple=SimpleType.INTEGER)
FLOAT = LiteralType(simple=SimpleType.FLOAT)
STR = LiteralType(simple=SimpleType.STRING)
BOOL = LiteralType(simple=SimpleType.BOOLEAN)
NONE = LiteralType(simple=SimpleType.NONE)
STRUCT = LiteralType(simple=SimpleType.STRUCT)


def list_of(t: LiteralType) -> LiteralType:
    return LiteralType(collection_type=t)


def dict_of(t: LiteralType) -> LiteralType:
    return LiteralType(map_value_type=t)


def tagged(t: LiteralType, tag: str) -> LiteralType:
    return LiteralType(**{**_fields(t), "structure": TypeStructure(tag=tag)})


def union(*variants: LiteralType) -> LiteralType:
    return LiteralType(union_type=UnionType(variants=tuple(variants)))


def optional(t: LiteralType) -> LiteralType:
    return union(tagged(t, t.short()), tagged(NONE, "none"))


def enum(*values: str) -> LiteralType:
    return LiteralType(enum_type=EnumType(values=values))


def blob(fmt: str = "", *, directory: bool = False) -> LiteralType:
    dim = BlobDimensionality.MULTIPART if directory else BlobDimensionality.SINGLE
    return LiteralType(blob=BlobType(format=fmt, dimensionality=dim))


def struct(title: str) -> LiteralType:
    return LiteralType(simple=SimpleType.STRUCT, metadata={"title": title, "type": "object"})


def _fields(t: LiteralType) -> dict[str, Any]:
    return {
        f: getattr(t, f)
        for f in (
            "simple",
            "collection_type",
            "map_value_type",
            "blob",
            "enum_type",
            "union_type",
            "metadata",
        )
    }


# --- entities ---------------------------------------------------------------------------------


def ident(name: str, kind: ResourceType = ResourceType.TASK, version: str = "v1") -> Identifier:
    return Identifier(resource_type=kind, project="p", domain="d", name=name, version=version)


def iface(
    inputs: dict[str, LiteralType] | None = None, outputs: dict[str, LiteralType] | None = None
) -> TypedInterface:
    return TypedInterface(
        inputs={n: Variable(type=t) for n, t in (inputs or {}).items()},
        outputs={n: Variable(type=t) for n, t in (outputs or {}).items()},
    )


def task(
    name: str, inputs: dict[str, LiteralType] | None = None, outputs: dict[str, LiteralType] | None = None
) -> TaskTemplate:
    return TaskTemplate(id=ident(name), type="python-task", interface=iface(inputs, outputs))


def launch_plan(
    name: str,
    inputs: dict[str, LiteralType] | None = None,
    outputs: dict[str, LiteralType] | None = None,
    fixed: dict[str, Literal] | None = None,
) -> LaunchPlanTemplate:
    return LaunchPlanTemplate(
        id=ident(name, ResourceType.LAUNCH_PLAN),
        interface=iface(inputs, outputs),
        fixed_inputs=LiteralMap(literals=fixed or {}),
    )


def workflow(
    name: str,
    nodes: list[Node],
    inputs: dict[str, LiteralType] | None = None,
    outputs: dict[str, LiteralType] | None = None,
    failure_node: Node | None = None,
    **out_bindings: BindingData,
) -> WorkflowTemplate:
    return WorkflowTemplate(
        id=ident(name, ResourceType.WORKFLOW),
        interface=iface(inputs, outputs),
        nodes=tuple(nodes),
        outputs=bind(**out_bindings),
        failure_node=failure_node,
    )


# --- bindings ---------------------------------------------------------------------------------


def out(node_id: str, var: str = "o0", *attr_path: str | int) -> BindingData:
    """A promise: output ``var`` of node ``node_id``."""
    return BindingData(promise=OutputReference(node_id=node_id, var=var, attr_path=attr_path))


def wf_in(var: str, node_id: str = START_NODE_ID) -> BindingData:
    """A promise on a workflow input."""
    return BindingData(promise=OutputReference(node_id=node_id, var=var))


def lit(value: Any) -> BindingData:
    """A scalar literal binding of a Python bool, int, float, str, datetime or timedelta (None: void)."""
    if value is None:
        return BindingData(scalar=Scalar(none_type=Void()))
    field = {
        bool: "boolean",
        int: "integer",
        float: "float_value",
        str: "string_value",
        dt.datetime: "datetime",
        dt.timedelta: "duration",
    }[type(value)]
    return BindingData(scalar=Scalar(primitive=Primitive(**{field: value})))


def coll(*items: BindingData) -> BindingData:
    return BindingData(collection=tuple(items))


def mapping(**items: BindingData) -> BindingData:
    return BindingData(map=dict(items))


def bind(**bindings: BindingData) -> tuple[Binding, ...]:
    return tuple(Binding(var=k, binding=v) for k, v in bindings.items())


# --- nodes ------------------------------------------------------------------------------------


def task_node(
    node_id: str, t: TaskTemplate, *, upstream: tuple[str, ...] = (), **inputs: BindingData
) -> Node:
    return Node(
        id=node_id, task_node=TaskNode(reference_id=t.id), inputs=bind(**inputs), upstream_node_ids=upstream
    )


def sub_node(node_id: str, wf: WorkflowTemplate, **inputs: BindingData) -> Node:
    return Node(id=node_id, workflow_node=WorkflowNode(sub_workflow_ref=wf.id), inputs=bind(**inputs))


def lp_node(node_id: str, lp: LaunchPlanTemplate, **inputs: BindingData) -> Node:
    return Node(id=node_id, workflow_node=WorkflowNode(launchplan_ref=lp.id), inputs=bind(**inputs))


def array_node(node_id: str, t: TaskTemplate, *, bound: tuple[str, ...] = (), **inputs: BindingData) -> Node:
    sub = Node(id=f"{node_id}-sub", task_node=TaskNode(reference_id=t.id), inputs=bind(**inputs))
    return Node(id=node_id, array_node=ArrayNode(node=sub, bound_inputs=bound), inputs=bind(**inputs))


def cond(var: str, value: Any, op: ComparisonOperator = ComparisonOperator.EQ) -> BooleanExpression:
    """``var <op> value`` where var is a branch node input."""
    right = Operand(primitive=lit(value).scalar.primitive)  # type: ignore[union-attr]
    return BooleanExpression(
        comparison=ComparisonExpression(operator=op, left_value=Operand(var=var), right_value=right)
    )


def branch_node(
    node_id: str,
    cases: list[tuple[BooleanExpression | None, Node | None]],
    *,
    else_node: Node | None = None,
    fail: str | None = None,
    **inputs: BindingData,
) -> Node:
    blocks = [IfBlock(condition=c, then_node=n) for c, n in cases]  # type: ignore[arg-type]
    if_else = IfElseBlock(
        case=blocks[0],
        other=tuple(blocks[1:]),
        else_node=else_node,
        error=ErrorValue(failed_node_id=node_id, message=fail) if fail is not None else None,
    )
    return Node(id=node_id, branch_node=BranchNode(if_else=if_else), inputs=bind(**inputs))


def signal_node(node_id: str, t: LiteralType, name: str = "o0") -> Node:
    return Node(
        id=node_id,
        gate_node=GateNode(signal=SignalCondition(signal_id=node_id, type=t, output_variable_name=name)),
    )


def approve_node(node_id: str, **inputs: BindingData) -> Node:
    return Node(
        id=node_id, gate_node=GateNode(approve=ApproveCondition(signal_id=node_id)), inputs=bind(**inputs)
    )


def sleep_node(node_id: str, **inputs: BindingData) -> Node:
    return Node(
        id=node_id,
        gate_node=GateNode(sleep=SleepCondition(duration=dt.timedelta(seconds=1))),
        inputs=bind(**inputs),
    )


# --- compiling ----------------------------------------------------------------------------------


def compile_ok(wf: WorkflowTemplate, host: PluginHost, **kwargs: Any) -> CompiledWorkflowClosure:
    """Compile; on failure, fail the test with the compiler's message."""
    try:
        return compile_workflow(wf, host=host, **kwargs)
    except CompilationFailed as failed:
        raise AssertionError(str(failed)) from None


def compile_errors(wf: WorkflowTemplate, host: PluginHost, **kwargs: Any) -> list[CompileError]:
    """Compile a workflow that must fail; its errors."""
    try:
        compile_workflow(wf, host=host, **kwargs)
    except CompilationFailed as failed:
        return failed.errors
    raise AssertionError("the workflow compiled, but errors were expected")


def only_error(wf: WorkflowTemplate, host: PluginHost, **kwargs: Any) -> CompileError:
    """Compile a workflow that must fail with exactly one error; that error."""
    errors = compile_errors(wf, host, **kwargs)
    assert len(errors) == 1, "\n".join(str(e) for e in errors)
    return errors[0]
