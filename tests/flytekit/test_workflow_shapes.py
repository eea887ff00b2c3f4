"""Every shape of workflow flytekit serializes, registered through flytekit's client.

One workflow holds what flytekit's templates carry beyond plain tasks: a dataclass (msgpack
literals, type annotations, dataclass field types), an enum, a datetime, an optional directory,
a task with cache, retries, resources, timeout and interruptible, attribute access on a
dataclass output, a dynamic task, ``map_task`` (an array node over a ``…-arraynode`` task whose
interface is already the lists'), a subworkflow, a launch plan node and a ``conditional``
(whose case nodes flytekit numbers from ``n0`` again, repeating top-level ids). Entities are
registered in the order ``get_serializable`` yields them, as ``pyflyte register`` does.
"""

from __future__ import annotations

import datetime
import enum
import typing
from collections import OrderedDict
from dataclasses import dataclass, field

import grpc
import pytest
from flyteidl.admin.common_pb2 import ObjectGetRequest
from flytekit import LaunchPlan, Resources, conditional, dynamic, map_task, task, workflow
from flytekit.clients.friendly import SynchronousFlyteClient
from flytekit.configuration import Config, ImageConfig, PlatformConfig, SerializationSettings
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.exceptions.user import FlyteInvalidInputException
from flytekit.models import launch_plan as launch_plan_models
from flytekit.models import literals as literal_models
from flytekit.models import task as task_models
from flytekit.models.admin import workflow as workflow_models
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.models.core.identifier import Identifier, ResourceType
from flytekit.models.execution import ExecutionMetadata, ExecutionSpec
from flytekit.remote import FlyteRemote
from flytekit.tools.translator import get_serializable
from flytekit.types.directory import FlyteDirectory

from .conftest import DOMAIN, PROJECT

VERSION = "v1"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Params:
    alpha: float = 0.1
    tags: list[str] = field(default_factory=list)


@task(
    cache=True,
    cache_version="1",
    retries=2,
    requests=Resources(cpu="1", mem="200Mi"),
    timeout=datetime.timedelta(minutes=5),
    interruptible=True,
)
def fit(p: Params, color: Color, when: datetime.datetime, d: FlyteDirectory | None = None) -> Params:
    return p


@task
def scale(x: float, n: int) -> int:
    return int(x * n)


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def negate(x: int) -> int:
    return -x


@dynamic
def fan(n: int) -> list[int]:
    return [square(x=i) for i in range(n)]


@workflow
def inner(x: int) -> int:
    return square(x=x)


inner_lp = LaunchPlan.get_or_create(inner, name="inner_lp")


@workflow
def shapes(
    n: int = 3,
    p: Params = Params(alpha=0.5, tags=["a"]),
    color: Color = Color.RED,
    when: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    d: FlyteDirectory | None = None,
) -> int:
    fitted = fit(p=p, color=color, when=when, d=d)
    m = scale(x=fitted.alpha, n=n)
    squares = map_task(square)(x=fan(n=m))
    s = inner(x=total(xs=squares))
    via_lp = inner_lp(x=s)
    return conditional("sign").if_(via_lp > 10).then(negate(x=via_lp)).else_().then(square(x=via_lp))


def serialized() -> list[typing.Any]:
    """flytekit's control-plane entities for ``shapes``, dependencies first (nodes left out)."""
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project=PROJECT, domain=DOMAIN, version=VERSION
    )
    entities: OrderedDict[typing.Any, typing.Any] = OrderedDict()
    get_serializable(entities, settings, shapes)
    default_lp = LaunchPlan.get_default_launch_plan(FlyteContextManager.current_context(), shapes)
    get_serializable(entities, settings, default_lp)
    kinds = (task_models.TaskSpec, workflow_models.WorkflowSpec, launch_plan_models.LaunchPlan)
    return [e for e in entities.values() if isinstance(e, kinds)]


def register_all(client: SynchronousFlyteClient) -> dict[str, typing.Any]:
    """Register every entity as ``pyflyte register`` does; returns them by name."""
    by_name = {}
    for entity in serialized():
        if isinstance(entity, task_models.TaskSpec):
            ident = entity.template.id
            client.create_task(Identifier(ResourceType.TASK, ident.project, ident.domain, ident.name, ident.version), entity)
            by_name[ident.name] = entity
        elif isinstance(entity, workflow_models.WorkflowSpec):
            client.create_workflow(entity.template.id, entity)
            by_name[entity.template.id.name] = entity
        else:
            client.create_launch_plan(entity.id, entity.spec)
            by_name[f"lp:{entity.id.name}"] = entity
    return by_name


def workflow_id(name: str) -> Identifier:
    return Identifier(ResourceType.WORKFLOW, PROJECT, DOMAIN, name, VERSION)


def lp_id(name: str) -> Identifier:
    return Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, name, VERSION)


def test_every_shape_registers_and_compiles(client: SynchronousFlyteClient) -> None:
    sent = register_all(client)

    compiled = client.get_workflow(workflow_id(shapes.name)).closure.compiled_workflow
    # The stored closure holds the templates as flytekit sent them, every field kept (type
    # annotations, dataclass field types, the array node's is_original_sub_node_interface).
    # Compared as protobufs from the raw client: flytekit's models do not round-trip exactly.
    raw = client.raw.get_workflow(ObjectGetRequest(id=workflow_id(shapes.name).to_flyte_idl()))
    raw_compiled = raw.closure.compiled_workflow
    assert raw_compiled.primary.template == sent[shapes.name].template.to_flyte_idl()
    assert raw_compiled.tasks
    for compiled_task in raw_compiled.tasks:
        name = compiled_task.template.id.name
        assert compiled_task.template == sent[name].template.to_flyte_idl(), name
    assert {t.template.id.name for t in compiled.tasks} >= {fit.name, scale.name, total.name, negate.name}
    assert [w.template.id.name for w in compiled.sub_workflows] == [inner.name]

    nodes = {n.id: n for n in compiled.primary.template.nodes}
    branch = next(n for n in nodes.values() if n.branch_node is not None)
    # flytekit's case node ids repeat top-level ids; the branch keeps them as sent.
    assert branch.branch_node.if_else.case.then_node.id in nodes
    array = next(n for n in nodes.values() if n.array_node is not None)
    total_node = next(n for n in nodes.values() if n.task_node is not None and n.task_node.reference_id.name == total.name)
    # The edges the compiler found: total reads the map's output, the branch the launch plan's.
    upstream = compiled.primary.connections.upstream
    assert array.id in upstream[total_node.id].ids
    lp_node = next(n for n in nodes.values() if n.workflow_node is not None and n.workflow_node.launchplan_ref)
    assert upstream[branch.id].ids == [lp_node.id]


def test_the_default_launch_plan_keeps_flytekit_types_and_defaults(client: SynchronousFlyteClient) -> None:
    sent = register_all(client)

    lp = client.get_launch_plan(lp_id(shapes.name))
    expected = lp.closure.expected_inputs.parameters
    sent_params = sent[f"lp:{shapes.name}"].spec.default_inputs.parameters
    assert set(expected) == {"n", "p", "color", "when", "d"}
    for name in expected:
        assert expected[name].var.type == sent_params[name].var.type, name
        assert expected[name].default == sent_params[name].default, name
    # The dataclass's type as flytekit declares it: msgpack annotation and field types.
    p_type = expected["p"].var.type
    assert p_type.annotation.annotations["cache-key-metadata"]["serialization-format"] == "msgpack"
    assert set(p_type.structure.dataclass_type) == {"alpha", "tags"}
    assert lp.closure.expected_outputs.variables["o0"].type == TypeEngine.to_literal_type(int)


def test_launching_with_the_workflow_defaults(client: SynchronousFlyteClient) -> None:
    register_all(client)
    spec = ExecutionSpec(lp_id(shapes.name), ExecutionMetadata(ExecutionMetadata.ExecutionMode.MANUAL, "placeholder", 0))

    eid = client.create_execution(PROJECT, DOMAIN, "defaults", spec, literal_models.LiteralMap(literals={}))
    assert client.get_execution(eid).closure.phase == WorkflowExecutionPhase.QUEUED
    given = client.get_execution_data(eid).full_inputs.literals
    ctx = FlyteContextManager.current_context()
    assert TypeEngine.to_python_value(ctx, given["p"], Params) == Params(alpha=0.5, tags=["a"])
    assert TypeEngine.to_python_value(ctx, given["color"], Color) == Color.RED
    assert TypeEngine.to_python_value(ctx, given["n"], int) == 3
    assert TypeEngine.to_python_value(ctx, given["d"], FlyteDirectory | None) is None  # type: ignore[arg-type]

    p = TypeEngine.to_literal(ctx, Params(alpha=2.0), Params, TypeEngine.to_literal_type(Params))
    eid = client.create_execution(PROJECT, DOMAIN, "own-params", spec, literal_models.LiteralMap(literals={"p": p}))
    given = client.get_execution_data(eid).full_inputs.literals
    assert TypeEngine.to_python_value(ctx, given["p"], Params) == Params(alpha=2.0)


def test_a_value_outside_the_enum_is_refused_with_the_input_name(client: SynchronousFlyteClient) -> None:
    register_all(client)
    spec = ExecutionSpec(lp_id(shapes.name), ExecutionMetadata(ExecutionMetadata.ExecutionMode.MANUAL, "placeholder", 0))
    green = literal_models.Literal(
        scalar=literal_models.Scalar(primitive=literal_models.Primitive(string_value="green"))
    )

    with pytest.raises(FlyteInvalidInputException) as info:
        client.create_execution(PROJECT, DOMAIN, "green", spec, literal_models.LiteralMap(literals={"color": green}))
    cause = info.value.__cause__
    assert isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'color'" in cause.details()


def test_flyte_remote_reads_every_shape(client: SynchronousFlyteClient, platform: PlatformConfig) -> None:
    register_all(client)
    remote = FlyteRemote(config=Config(platform=platform), default_project=PROJECT, default_domain=DOMAIN)

    fetched = remote.fetch_workflow(name=shapes.name, version=VERSION)
    kinds = {type(n.flyte_entity).__name__ for n in fetched.flyte_nodes}
    assert {"FlyteTask", "FlyteWorkflow", "FlyteLaunchPlan", "FlyteBranchNode"} <= kinds
    assert set(fetched.interface.inputs) == {"n", "p", "color", "when", "d"}

    lp = remote.fetch_launch_plan(name=shapes.name, version=VERSION)
    # flytekit guesses the Python type of the dataclass input from what the admin returned.
    p_type = TypeEngine.guess_python_type(lp.interface.inputs["p"].type)
    assert {f for f in p_type.__dataclass_fields__} == {"alpha", "tags"}
