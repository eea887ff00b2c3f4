"""The admin against a real client: flytekit's own gRPC client and flytekit's serialization.

The admin runs in-process (``start_in_thread``) with a SQLite file and a storage folder in
tmp_path and serves real gRPC on 127.0.0.1; the client is flytekit's
``SynchronousFlyteClient`` (and ``FlyteRemote`` on top of it). Every body the admin receives
is one flytekit made: tasks, workflows and launch plans defined with flytekit's decorators and
serialized by ``flytekit.tools.translator.get_serializable``, inputs built by flytekit's
TypeEngine. Errors are checked as flytekit users see them: flytekit's exceptions, with the
admin's message on the gRPC error they wrap.
"""

from __future__ import annotations

import typing
from collections import OrderedDict

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.admin.common_pb2 import ObjectGetRequest
from flytekit import LaunchPlan, task, workflow
from flytekit.clients.friendly import SynchronousFlyteClient
from flytekit.configuration import Config, ImageConfig, PlatformConfig, SerializationSettings
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.exceptions.user import (
    FlyteEntityAlreadyExistsException,
    FlyteEntityNotExistException,
    FlyteInvalidInputException,
)
from flytekit.models import filters
from flytekit.models import launch_plan as launch_plan_models
from flytekit.models import literals as literal_models
from flytekit.models.admin.common import Sort
from flytekit.models.common import NamedEntityIdentifier
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.models.core.identifier import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytekit.models.execution import ExecutionMetadata, ExecutionSpec
from flytekit.models.project import Project
from flytekit.remote import FlyteRemote
from flytekit.tools.translator import get_serializable

from .conftest import DOMAIN, PROJECT

VERSION = "v1"


# --- what a flytekit user writes ------------------------------------------------------------------


@task
def scale(values: list[int], factor: float) -> list[float]:
    return [v * factor for v in values]


@task
def describe(values: list[float], label: str) -> str:
    return f"{label}: {sum(values)}"


@workflow
def report(values: list[int], factor: float = 2.0, label: str = "total") -> str:
    return describe(values=scale(values=values, factor=factor), label=label)


halved = LaunchPlan.get_or_create(
    workflow=report,
    name="report_halved",
    default_inputs={"factor": 0.5},
    fixed_inputs={"label": "halved"},
)


# --- serialization as flytekit does it ----------------------------------------------------------


def settings(version: str = VERSION) -> SerializationSettings:
    return SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project=PROJECT, domain=DOMAIN, version=version
    )


class Serialized(typing.NamedTuple):
    """What flytekit sends for the module's entities: flytekit models, as its registration does."""

    tasks: list[typing.Any]  # flytekit.models.task.TaskSpec
    workflow: typing.Any  # flytekit.models.admin.workflow.WorkflowSpec
    default_launch_plan: typing.Any  # flytekit.models.launch_plan.LaunchPlan
    halved_launch_plan: typing.Any


def serialize(version: str = VERSION) -> Serialized:
    entities: OrderedDict[typing.Any, typing.Any] = OrderedDict()
    workflow_spec = get_serializable(entities, settings(version), report)
    task_specs = [get_serializable(entities, settings(version), t) for t in (scale, describe)]
    default_lp = get_serializable(entities, settings(version), LaunchPlan.get_default_launch_plan(
        FlyteContextManager.current_context(), report
    ))
    halved_lp = get_serializable(entities, settings(version), halved)
    return Serialized(task_specs, workflow_spec, default_lp, halved_lp)


def task_id(spec: typing.Any) -> Identifier:
    return Identifier(ResourceType.TASK, PROJECT, DOMAIN, spec.template.id.name, spec.template.id.version)


def register(client: SynchronousFlyteClient, bodies: Serialized) -> None:
    """Register as ``pyflyte register`` does: tasks, the workflow, then its launch plans."""
    for spec in bodies.tasks:
        client.create_task(task_id(spec), spec)
    client.create_workflow(bodies.workflow.template.id, bodies.workflow)
    for lp in (bodies.default_launch_plan, bodies.halved_launch_plan):
        client.create_launch_plan(lp.id, lp.spec)


def admin_message(exc: BaseException) -> str:
    """The admin's message, which flytekit keeps on the gRPC error its exception wraps."""
    cause = exc.__cause__
    assert isinstance(cause, grpc.RpcError), f"{type(exc).__name__} does not wrap a gRPC error: {cause!r}"
    return str(cause.details())


def status_of(exc: BaseException) -> grpc.StatusCode:
    cause = exc.__cause__
    assert isinstance(cause, grpc.RpcError)
    return cause.code()


def literal_map(python_types: dict[str, type], values: dict[str, typing.Any]) -> literal_models.LiteralMap:
    """Inputs as flytekit's TypeEngine makes them for the workflow's interface."""
    ctx = FlyteContextManager.current_context()
    literals = {}
    for name, value in values.items():
        python_type = python_types[name]
        literals[name] = TypeEngine.to_literal(ctx, value, python_type, TypeEngine.to_literal_type(python_type))
    return literal_models.LiteralMap(literals=literals)


REPORT_INPUTS: dict[str, type] = {"values": list[int], "factor": float, "label": str}


def execution_spec(launch_plan: Identifier) -> ExecutionSpec:
    """The spec ``FlyteRemote.execute`` sends."""
    return ExecutionSpec(
        launch_plan, ExecutionMetadata(ExecutionMetadata.ExecutionMode.MANUAL, "placeholder", 0)
    )


def lp_id(name: str, version: str = VERSION) -> Identifier:
    return Identifier(ResourceType.LAUNCH_PLAN, PROJECT, DOMAIN, name, version)


# --- projects -------------------------------------------------------------------------------------


def test_register_project_then_list_and_get_it(platform: PlatformConfig) -> None:
    client = SynchronousFlyteClient(platform)
    client.register_project(Project("team-a", "Team A", "the first team"))

    projects, _ = client.list_projects_paginated(limit=100)
    by_id = {p.id: p for p in projects}
    assert by_id["team-a"].name == "Team A"
    assert by_id["team-a"].description == "the first team"
    assert by_id["team-a"].state == Project.ProjectState.ACTIVE
    # flytekit's clients have no GetProject wrapper; its raw stub sends it over the same channel.
    got = client._stub.GetProject(project_pb2.ProjectGetRequest(id="team-a"))
    assert (got.id, got.name) == ("team-a", "Team A")
    assert {d.id for d in got.domains} >= {"development", "staging", "production"}

    filtered, _ = client.list_projects_paginated(filters=[filters.Equal("name", "Team A")])
    assert [p.id for p in filtered] == ["team-a"]

    with pytest.raises(FlyteEntityAlreadyExistsException) as info:
        client.register_project(Project("team-a", "Team A", "again"))
    assert "team-a" in admin_message(info.value)


# --- registration ---------------------------------------------------------------------------------


def test_flytekit_bodies_register_and_read_back(client: SynchronousFlyteClient) -> None:
    bodies = serialize()
    register(client, bodies)

    scale_id = task_id(bodies.tasks[0])
    got_task = client.get_task(scale_id)
    assert got_task.id == scale_id
    # What comes back is what flytekit sent.
    assert got_task.closure.compiled_task.template.to_flyte_idl() == bodies.tasks[0].template.to_flyte_idl()
    assert got_task.closure.compiled_task.template.container.image == bodies.tasks[0].template.container.image

    wf_id = bodies.workflow.template.id
    got_wf = client.get_workflow(wf_id)
    compiled = got_wf.closure.compiled_workflow
    assert compiled is not None and compiled.primary.template.id == wf_id
    # As protobufs (flytekit's models do not round-trip exactly): the template flytekit sent.
    raw = client.raw.get_workflow(ObjectGetRequest(id=wf_id.to_flyte_idl()))
    assert raw.closure.compiled_workflow.primary.template == bodies.workflow.template.to_flyte_idl()
    assert {t.template.id.name for t in compiled.tasks} == {scale.name, describe.name}
    # The compiler's graph: the start node feeds both tasks, describe waits for scale.
    scale_node = next(n.id for n in compiled.primary.template.nodes if n.task_node.reference_id.name == scale.name)
    describe_node = next(
        n.id for n in compiled.primary.template.nodes if n.task_node.reference_id.name == describe.name
    )
    assert describe_node in compiled.primary.connections.downstream[scale_node].ids
    assert set(compiled.primary.template.interface.inputs) == {"values", "factor", "label"}

    default_lp = client.get_launch_plan(lp_id(report.name))
    assert default_lp.spec.workflow_id == wf_id
    params = default_lp.spec.default_inputs.parameters
    # flytekit's default launch plan carries the workflow's defaults; it replaced the automatic one.
    assert params["factor"].default.scalar.primitive.float_value == 2.0
    assert params["label"].default.scalar.primitive.string_value == "total"
    assert params["values"].required
    assert default_lp.closure.expected_inputs.parameters["factor"].default.scalar.primitive.float_value == 2.0

    halved_lp = client.get_launch_plan(lp_id("report_halved"))
    assert halved_lp.spec.fixed_inputs.literals["label"].scalar.primitive.string_value == "halved"
    assert set(halved_lp.closure.expected_inputs.parameters) == {"values", "factor"}
    assert halved_lp.closure.expected_inputs.parameters["factor"].default.scalar.primitive.float_value == 0.5
    assert halved_lp.closure.expected_outputs.variables["o0"].type == TypeEngine.to_literal_type(str)


def test_identical_reregistration_is_already_exists(client: SynchronousFlyteClient) -> None:
    bodies = serialize()
    register(client, bodies)
    again = serialize()  # serialized afresh, as a second `pyflyte register` would

    for spec in again.tasks:
        with pytest.raises(FlyteEntityAlreadyExistsException) as info:
            client.create_task(task_id(spec), spec)
        assert status_of(info.value) == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(FlyteEntityAlreadyExistsException):
        client.create_workflow(again.workflow.template.id, again.workflow)
    for lp in (again.default_launch_plan, again.halved_launch_plan):
        with pytest.raises(FlyteEntityAlreadyExistsException) as info:
            client.create_launch_plan(lp.id, lp.spec)
        assert lp.id.name in admin_message(info.value)


def test_a_changed_body_under_the_same_version_is_refused(client: SynchronousFlyteClient) -> None:
    register(client, serialize())
    changed = launch_plan_models.LaunchPlanSpec.from_flyte_idl(serialize().halved_launch_plan.spec.to_flyte_idl())
    changed_pb = changed.to_flyte_idl()
    changed_pb.fixed_inputs.literals["label"].scalar.primitive.string_value = "changed"

    with pytest.raises(FlyteInvalidInputException) as info:
        client.create_launch_plan(lp_id("report_halved"), launch_plan_models.LaunchPlanSpec.from_flyte_idl(changed_pb))
    message = admin_message(info.value)
    assert "different body" in message and "report_halved" in message


def test_lists_show_what_was_registered(client: SynchronousFlyteClient) -> None:
    register(client, serialize("v1"))
    register(client, serialize("v2"))

    names, _ = client.list_task_ids_paginated(PROJECT, DOMAIN)
    assert {n.name for n in names} == {scale.name, describe.name}

    tasks, _ = client.list_tasks_paginated(
        NamedEntityIdentifier(PROJECT, DOMAIN, scale.name), sort_by=Sort("version", Sort.Direction.ASCENDING)
    )
    assert [t.id.version for t in tasks] == ["v1", "v2"]
    page, token = client.list_tasks_paginated(
        NamedEntityIdentifier(PROJECT, DOMAIN, scale.name),
        limit=1,
        sort_by=Sort("version", Sort.Direction.DESCENDING),
    )
    assert [t.id.version for t in page] == ["v2"] and token
    rest, _ = client.list_tasks_paginated(
        NamedEntityIdentifier(PROJECT, DOMAIN, scale.name),
        limit=1,
        token=token,
        sort_by=Sort("version", Sort.Direction.DESCENDING),
    )
    assert [t.id.version for t in rest] == ["v1"]

    workflows, _ = client.list_workflows_paginated(
        NamedEntityIdentifier(PROJECT, DOMAIN, report.name),
        filters=[filters.Equal("version", "v2")],
    )
    assert [(w.id.name, w.id.version) for w in workflows] == [(report.name, "v2")]
    assert workflows[0].closure.compiled_workflow.primary.template.id.version == "v2"

    lps, _ = client.list_launch_plans_paginated(
        NamedEntityIdentifier(PROJECT, DOMAIN, "report_halved"),
        sort_by=Sort("version", Sort.Direction.ASCENDING),
    )
    assert [lp.id.version for lp in lps] == ["v1", "v2"]
    assert all(lp.spec.fixed_inputs.literals["label"].scalar.primitive.string_value == "halved" for lp in lps)


def test_active_launch_plan(client: SynchronousFlyteClient) -> None:
    register(client, serialize("v1"))
    register(client, serialize("v2"))
    named = NamedEntityIdentifier(PROJECT, DOMAIN, "report_halved")

    with pytest.raises(FlyteEntityNotExistException):
        client.get_active_launch_plan(named)
    # What `pyflyte register --activate-launchplans` does after registering.
    client.update_launch_plan(lp_id("report_halved", "v1"), launch_plan_models.LaunchPlanState.ACTIVE)
    assert client.get_active_launch_plan(named).id.version == "v1"
    client.update_launch_plan(lp_id("report_halved", "v2"), launch_plan_models.LaunchPlanState.ACTIVE)
    active = client.get_active_launch_plan(named)
    assert active.id.version == "v2"
    assert active.closure.state == launch_plan_models.LaunchPlanState.ACTIVE
    assert client.get_launch_plan(lp_id("report_halved", "v1")).closure.state == launch_plan_models.LaunchPlanState.INACTIVE


# --- executions -----------------------------------------------------------------------------------


def test_create_execution_and_read_it_back(client: SynchronousFlyteClient) -> None:
    register(client, serialize())
    inputs = literal_map(REPORT_INPUTS, {"values": [1, 2, 3]})

    eid = client.create_execution(PROJECT, DOMAIN, "halved-1", execution_spec(lp_id("report_halved")), inputs)
    assert eid == WorkflowExecutionIdentifier(PROJECT, DOMAIN, "halved-1")

    execution = client.get_execution(eid)
    # No propeller runs here: the admin records the execution and it waits.
    assert execution.closure.phase == WorkflowExecutionPhase.QUEUED
    assert execution.spec.launch_plan == lp_id("report_halved")

    data = client.get_execution_data(eid)
    ctx = FlyteContextManager.current_context()
    given = data.full_inputs.literals
    # The caller's values, the launch plan's default and its fixed input: what the workflow gets.
    assert TypeEngine.to_python_value(ctx, given["values"], list[int]) == [1, 2, 3]
    assert TypeEngine.to_python_value(ctx, given["factor"], float) == 0.5
    assert TypeEngine.to_python_value(ctx, given["label"], str) == "halved"


def test_list_executions_with_flytekit_filters_and_sort(client: SynchronousFlyteClient) -> None:
    register(client, serialize())
    inputs = literal_map(REPORT_INPUTS, {"values": [1]})
    for name in ("run-b", "run-a", "run-c"):
        client.create_execution(PROJECT, DOMAIN, name, execution_spec(lp_id("report_halved")), inputs)
    client.create_execution(
        PROJECT, DOMAIN, "default-lp", execution_spec(lp_id(report.name)), literal_map(REPORT_INPUTS, {"values": [2]})
    )

    queued, _ = client.list_executions_paginated(
        PROJECT,
        DOMAIN,
        filters=[filters.Equal("phase", "QUEUED")],
        sort_by=Sort("name", Sort.Direction.ASCENDING),
    )
    assert [e.id.name for e in queued] == ["default-lp", "run-a", "run-b", "run-c"]

    halved_runs, _ = client.list_executions_paginated(
        PROJECT,
        DOMAIN,
        filters=[filters.Equal("launch_plan.name", "report_halved"), filters.ValueIn("name", ["run-a", "run-c"])],
        sort_by=Sort("name", Sort.Direction.DESCENDING),
    )
    assert [e.id.name for e in halved_runs] == ["run-c", "run-a"]

    running, _ = client.list_executions_paginated(PROJECT, DOMAIN, filters=[filters.Equal("phase", "RUNNING")])
    assert running == []


def test_a_missing_required_input_names_it(client: SynchronousFlyteClient) -> None:
    register(client, serialize())

    with pytest.raises(FlyteInvalidInputException) as info:
        client.create_execution(
            PROJECT, DOMAIN, "no-values", execution_spec(lp_id("report_halved")), literal_map(REPORT_INPUTS, {})
        )
    assert "'values'" in admin_message(info.value)
    executions, _ = client.list_executions_paginated(PROJECT, DOMAIN)
    assert executions == []


def test_a_wrongly_typed_input_names_it(client: SynchronousFlyteClient) -> None:
    register(client, serialize())
    wrong = literal_map({"values": list[int], "factor": str}, {"values": [1], "factor": "fast"})

    with pytest.raises(FlyteInvalidInputException) as info:
        client.create_execution(PROJECT, DOMAIN, "bad-factor", execution_spec(lp_id("report_halved")), wrong)
    assert "'factor'" in admin_message(info.value)


def test_overriding_a_fixed_input_is_refused(client: SynchronousFlyteClient) -> None:
    register(client, serialize())
    inputs = literal_map(REPORT_INPUTS, {"values": [1], "label": "mine"})

    with pytest.raises(FlyteInvalidInputException) as info:
        client.create_execution(PROJECT, DOMAIN, "override", execution_spec(lp_id("report_halved")), inputs)
    assert "'label'" in admin_message(info.value)


# --- FlyteRemote on top of the same calls ---------------------------------------------------------


def test_flyte_remote_fetches_what_was_registered(client: SynchronousFlyteClient, platform: PlatformConfig) -> None:
    register(client, serialize())
    remote = FlyteRemote(config=Config(platform=platform), default_project=PROJECT, default_domain=DOMAIN)

    fetched_task = remote.fetch_task(name=scale.name, version=VERSION)
    assert fetched_task.id.name == scale.name
    assert set(fetched_task.interface.inputs) == {"values", "factor"}

    fetched_wf = remote.fetch_workflow(name=report.name, version=VERSION)
    assert fetched_wf.id.name == report.name
    assert {n.flyte_entity.id.name for n in fetched_wf.flyte_nodes} == {scale.name, describe.name}

    fetched_lp = remote.fetch_launch_plan(name="report_halved", version=VERSION)
    assert fetched_lp.workflow_id.name == report.name
    assert fetched_lp.fixed_inputs.literals["label"].scalar.primitive.string_value == "halved"
    assert set(fetched_lp.interface.inputs) == {"values", "factor", "label"}


def test_flyte_remote_registers_and_executes(platform: PlatformConfig, client: SynchronousFlyteClient) -> None:
    remote = FlyteRemote(config=Config(platform=platform), default_project=PROJECT, default_domain=DOMAIN)

    # flytekit's own registration: tasks, workflow and the default launch plan, as flytekit sends them.
    registered = remote.register_workflow(report, serialization_settings=settings("r1"), version="r1")
    assert registered.id.version == "r1"
    lp = remote.fetch_launch_plan(name=report.name, version="r1")

    execution = remote.execute(lp, inputs={"values": [4, 5]}, execution_name="remote-run", wait=False)
    assert execution.id.name == "remote-run"
    assert execution.closure.phase == WorkflowExecutionPhase.QUEUED
    data = client.get_execution_data(execution.id)
    ctx = FlyteContextManager.current_context()
    assert TypeEngine.to_python_value(ctx, data.full_inputs.literals["values"], list[int]) == [4, 5]
    assert TypeEngine.to_python_value(ctx, data.full_inputs.literals["factor"], float) == 2.0
    # sync reads the execution and its node executions (none yet: nothing runs it here).
    synced = remote.sync_execution(execution)
    assert synced.closure.phase == WorkflowExecutionPhase.QUEUED and not synced.is_done

    # A task launched on its own: flytekit names the task in the spec's launch_plan field.
    scale_task = remote.fetch_task(name=scale.name, version="r1")
    task_run = remote.execute(scale_task, inputs={"values": [1, 2], "factor": 1.5}, execution_name="task-run", wait=False)
    assert task_run.spec.launch_plan.resource_type == ResourceType.TASK
    assert task_run.closure.phase == WorkflowExecutionPhase.QUEUED
    given = client.get_execution_data(task_run.id).full_inputs.literals
    assert TypeEngine.to_python_value(ctx, given["values"], list[int]) == [1, 2]
