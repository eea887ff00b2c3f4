"""Admin service: CreateExecution and the other execution calls, on SQLite and PostgreSQL, with
flytecore-authored workflows registered as flyteidl requests and a recording launcher."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore import LaunchPlan
from flytecore.admin.config import AdminConfig
from flytecore.admin.db import Repository
from flytecore.admin.service import (
    AdminService,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    Launcher,
    NotFoundError,
    WorkflowObject,
)
from flytecore.admin.service.executions import (
    SINGLE_TASK_PREFIX,
    generate_execution_name,
    single_task_node_id,
)
from flytecore.admin.service.validation import check_execution_name
from flytecore.admin.storage import MetadataStore
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec import WorkflowExecutionIdentifier, idl
from flytecore.spec.phases import WorkflowExecutionPhase
from tests.admin.test_service_registration import add, lp_id, pipeline, register

PROJECT, DOMAIN = "flytesnacks", "development"


class RecordingLauncher:
    """A launcher that remembers what it was given (a fake of our own protocol)."""

    def __init__(self, fail: bool = False) -> None:
        self.launched: list[WorkflowObject] = []
        self.aborted: list[tuple[WorkflowExecutionIdentifier, str]] = []
        self.fail = fail

    def launch(self, obj: WorkflowObject) -> None:
        if self.fail:
            raise RuntimeError("no workers available")
        self.launched.append(obj)

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        self.aborted.append((execution_id, cause))


def make_admin(repo: Repository, tmp_path: Path, launcher: Launcher | None) -> AdminService:
    service = AdminService(repo, MetadataStore(str(tmp_path / "store")), AdminConfig(db_url="unused"))
    service.launcher = launcher
    service.bootstrap()
    return service


@pytest.fixture
def launcher() -> RecordingLauncher:
    return RecordingLauncher()


@pytest.fixture
def admin(repo: Repository, tmp_path: Path, launcher: RecordingLauncher) -> AdminService:
    """An admin with ``pipeline(a: int, b: int = 3)`` registered, its default launch plan as the
    SDK serializes it (b defaults to 3), and ``pipeline_b_fixed`` (b fixed to 10; a name no other
    test module uses, as the SDK caches launch plans by name)."""
    service = make_admin(repo, tmp_path, launcher)
    register(service, pipeline)
    settings = SerializationSettings(version="v1")
    for lp in (
        LaunchPlan.get_default_launch_plan(pipeline),
        LaunchPlan.get_or_create(pipeline, name="pipeline_b_fixed", fixed_inputs={"b": 10}),
    ):
        serialized = lp.to_spec(settings)
        service.create_launch_plan(
            launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(serialized.id), spec=idl.to_idl(serialized.spec))
        )
    return service


def integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def text(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


def ints(literal_map: literals_pb2.LiteralMap) -> dict[str, int]:
    return {k: v.scalar.primitive.integer for k, v in literal_map.literals.items()}


def launch(
    admin: AdminService, inputs: dict[str, literals_pb2.Literal], *, name: str = "", launch_plan: str = pipeline.name,
    in_spec: bool = False,
) -> execution_pb2.ExecutionCreateResponse:  # fmt: skip
    """CreateExecution as flytekit sends it (inputs in the request) or older clients (in the spec)."""
    literal_map = literals_pb2.LiteralMap(literals=inputs)
    spec = execution_pb2.ExecutionSpec(launch_plan=lp_id(launch_plan))
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN, name=name, spec=spec)
    (request.spec.inputs if in_spec else request.inputs).CopyFrom(literal_map)
    return admin.create_execution(request)


def exec_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)


def list_all(admin: AdminService, **kw: Any) -> list[execution_pb2.Execution]:
    request = common_pb2.ResourceListRequest(id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), **kw)
    return list(admin.list_executions(request).executions)


def test_execution_merges_defaults_is_recorded_queued_and_handed_to_the_launcher(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    created = launch(admin, {"a": integer(1)}, name="run-1")
    assert created.id.name == "run-1"
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert execution.closure.phase == WorkflowExecutionPhase.QUEUED
    assert execution.closure.workflow_id.name == pipeline.name
    assert execution.closure.HasField("created_at")
    assert execution.spec.launch_plan.name == pipeline.name and not execution.spec.inputs.literals

    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=created.id))
    assert ints(data.full_inputs) == {"a": 1, "b": 3}
    # Small inputs are kept in the database, with no location (test_service_execution_inputs).
    assert data.inputs == common_pb2.UrlBlob()
    row = admin.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="run-1"))
    assert row.user_inputs_data is not None
    user_inputs = literals_pb2.LiteralMap.FromString(row.user_inputs_data)
    assert ints(user_inputs) == {"a": 1}
    assert row.launched and row.launch_plan_name == pipeline.name and row.workflow_version == "v1"

    [obj] = launcher.launched
    assert obj.execution_id.name == "run-1"
    assert obj.closure.primary.template.id.name == pipeline.name
    assert [n.id for n in obj.closure.primary.template.nodes] == ["n0", "n1"]
    assert {k: v.scalar.primitive.integer for k, v in obj.inputs.literals.items()} == {"a": 1, "b": 3}  # type: ignore[union-attr]
    assert obj.inputs_uri == row.inputs_uri and obj.metadata_prefix.endswith("/executions/run-1")
    assert obj.raw_output_prefix.endswith(f"/{PROJECT}/{DOMAIN}/run-1")
    assert obj.launch_plan_id.name == pipeline.name


def test_inputs_the_user_gave_whole_are_stored_once_and_read_back_as_both(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    launch(admin, {"a": integer(4), "b": integer(5)}, name="whole")
    row = admin.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="whole"))
    assert row.user_inputs_data is None and row.inputs_data is not None  # nothing was merged in: kept once
    assert ints(literals_pb2.LiteralMap.FromString(row.inputs_data)) == {"a": 4, "b": 5}
    relaunched = admin.relaunch_execution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("whole"), name="again"))
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=relaunched.id))
    assert ints(data.full_inputs) == {"a": 4, "b": 5}


def test_max_parallelism_comes_from_the_request_the_launch_plan_or_the_admin(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    launch(admin, {"a": integer(1)}, name="default")
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, name="asked",
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id(pipeline.name), max_parallelism=3),
        inputs=literals_pb2.LiteralMap(literals={"a": integer(1)}),
    )
    admin.create_execution(request)
    by_name = {obj.execution_id.name: obj.max_parallelism for obj in launcher.launched}
    assert by_name == {"default": 25, "asked": 3}  # FlyteAdmin's default maxParallelism, else the request's
    got = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("default")))
    assert got.spec.max_parallelism == 25


def test_inputs_in_the_spec_are_read_like_flyteadmin_reads_them(admin: AdminService) -> None:
    created = launch(admin, {"a": integer(5), "b": integer(6)}, in_spec=True)
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=created.id))
    assert ints(data.full_inputs) == {"a": 5, "b": 6}


def test_fixed_inputs_are_merged(admin: AdminService, launcher: RecordingLauncher) -> None:
    created = launch(admin, {"a": integer(2)}, launch_plan="pipeline_b_fixed")
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=created.id))
    assert ints(data.full_inputs) == {"a": 2, "b": 10}
    obj = launcher.launched[0]
    assert obj.launch_plan_id.name == "pipeline_b_fixed"
    # The engine gets what is stored: the caller's input and the fixed one, converted once.
    assert obj.inputs is not None
    assert {k: v.scalar.primitive.integer for k, v in obj.inputs.literals.items()} == {"a": 2, "b": 10}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("launch_plan", "inputs", "message"),
    [
        ("pipeline_b_fixed", {"a": integer(1), "b": integer(4)}, r"input 'b' is fixed by launch plan pipeline_b_fixed@v1"),
        (pipeline.name, {"a": integer(1), "c": integer(4)}, r"input 'c' is not an input of launch plan .*\(inputs: a, b\)"),
        (pipeline.name, {"b": integer(4)}, r"required input 'a' of launch plan .* is missing"),
        (pipeline.name, {"a": text("one")}, r"input 'a': expected int, got str"),
    ],
    ids=["fixed-override", "unknown", "missing", "wrong-type"],
)
def test_invalid_inputs_are_refused_naming_the_input_and_nothing_is_stored(
    admin: AdminService, launcher: RecordingLauncher, launch_plan: str, inputs: dict[str, Any], message: str
) -> None:
    files_before = admin.store.list_files()
    with pytest.raises(InvalidArgumentError, match=message):
        launch(admin, inputs, name="refused", launch_plan=launch_plan)
    assert list_all(admin) == []
    assert admin.store.list_files() == files_before
    assert launcher.launched == []
    with pytest.raises(NotFoundError):
        admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("refused")))


def test_every_input_problem_is_reported_at_once(admin: AdminService) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        launch(admin, {"b": text("x"), "zzz": integer(1)})
    assert "'a'" in err.value.message and "'b'" in err.value.message and "'zzz'" in err.value.message


def test_execution_names_are_idempotency_keys(admin: AdminService, launcher: RecordingLauncher) -> None:
    launch(admin, {"a": integer(1)}, name="once")
    files = admin.store.list_files()
    # Same request again, and a different one under the same name: ALREADY_EXISTS, as FlyteAdmin
    # answers (flytekit's FlyteRemote then fetches the existing execution).
    for inputs in ({"a": integer(1)}, {"a": integer(99)}):
        with pytest.raises(AlreadyExistsError, match="execution flytesnacks/development/once already exists"):
            launch(admin, inputs, name="once")
    assert admin.store.list_files() == files
    assert len(launcher.launched) == 1 and len(list_all(admin)) == 1
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id("once")))
    assert ints(data.full_inputs) == {"a": 1, "b": 3}


def test_generated_names_are_valid_and_distinct(admin: AdminService) -> None:
    names = {launch(admin, {"a": integer(i)}).id.name for i in range(5)}
    names |= {generate_execution_name() for _ in range(200)}
    assert len(names) == 205
    for name in names:
        assert re.fullmatch(r"a[a-z0-9]{19}", name)
        check_execution_name(name)


@pytest.mark.parametrize("name", ["../etc", "Upper", "-dash", "a" * 64, "with space"])
def test_bad_execution_names_are_invalid(admin: AdminService, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="name"):
        launch(admin, {"a": integer(1)}, name=name)
    assert list_all(admin) == []


def test_unknown_launch_plan_is_not_found_naming_it(admin: AdminService) -> None:
    with pytest.raises(NotFoundError, match="launch plan flytesnacks/development/nope@v1 is not registered"):
        launch(admin, {"a": integer(1)}, launch_plan="nope")


def test_without_a_launcher_executions_wait_queued_and_terminate_at_once(repo: Repository, tmp_path: Path) -> None:
    admin = make_admin(repo, tmp_path, None)
    register(admin, pipeline)
    created = launch(admin, {"a": integer(1), "b": integer(2)}, name="waiting")
    row = admin.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="waiting"))
    assert row.phase == WorkflowExecutionPhase.QUEUED and not row.launched
    # Nothing runs it, so nothing would ever confirm an abort: it is ABORTED right away.
    admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=created.id, cause="not needed"))
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert execution.closure.phase == WorkflowExecutionPhase.ABORTED
    assert execution.closure.abort_metadata.cause == "not needed"


def test_a_failed_launch_is_recorded_as_a_failed_execution(repo: Repository, tmp_path: Path) -> None:
    admin = make_admin(repo, tmp_path, RecordingLauncher(fail=True))
    register(admin, pipeline)
    created = launch(admin, {"a": integer(1), "b": integer(2)}, name="doomed")
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert execution.closure.phase == WorkflowExecutionPhase.FAILED
    assert execution.closure.error.code == "LaunchFailed" and "no workers available" in execution.closure.error.message


def test_single_task_node_ids_follow_flyteadmin() -> None:
    assert single_task_node_id("my-task_1") == "my-task1"
    long_id = single_task_node_id("tests.admin.test_service_executions.add")
    assert re.fullmatch(r"f[a-z1-6]{7}", long_id)
    assert long_id == single_task_node_id("tests.admin.test_service_executions.add")


def test_a_task_can_be_launched_directly(admin: AdminService, launcher: RecordingLauncher) -> None:
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=add.name, version="v1"
    )
    for name in ("task-1", "task-2"):  # the second launch reuses the workflow made for the first
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, name=name, spec=execution_pb2.ExecutionSpec(launch_plan=task_id),
            inputs=literals_pb2.LiteralMap(literals={"a": integer(2), "b": integer(3)}),
        )  # fmt: skip
        admin.create_execution(request)
    obj = launcher.launched[-1]
    generated = SINGLE_TASK_PREFIX + add.name
    assert obj.closure.primary.template.id.name == generated and obj.launch_plan_id.name == generated
    [node] = obj.closure.primary.template.nodes
    assert node.id == single_task_node_id(add.name)
    assert node.task_node is not None and node.task_node.reference_id.name == add.name
    assert [t.template.id.name for t in obj.closure.tasks] == [add.name]
    assert {k: v.scalar.primitive.integer for k, v in obj.inputs.literals.items()} == {"a": 2, "b": 3}  # type: ignore[union-attr]
    lp = admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id(generated)))
    assert set(lp.closure.expected_inputs.parameters) == {"a", "b"}
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("task-2")))
    assert execution.spec.launch_plan.resource_type == identifier_pb2.TASK  # relaunch takes the same path
    missing_b = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, spec=execution_pb2.ExecutionSpec(launch_plan=task_id),
        inputs=literals_pb2.LiteralMap(literals={"a": integer(2)}),
    )  # fmt: skip
    with pytest.raises(InvalidArgumentError, match="required input 'b'"):
        admin.create_execution(missing_b)


def test_terminate_asks_the_engine_and_a_finished_execution_cannot_be_terminated(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    created = launch(admin, {"a": integer(1)}, name="stop-me")
    admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=created.id, cause="user asked"))
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert execution.closure.phase == WorkflowExecutionPhase.ABORTING
    assert execution.closure.abort_metadata.cause == "user asked"
    assert [(eid.name, cause) for eid, cause in launcher.aborted] == [("stop-me", "user asked")]
    assert [e.id.name for e in list_all(admin, filters="eq(phase,ABORTING)")] == ["stop-me"]

    admin.repo.update_execution(
        WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="stop-me"), phase=WorkflowExecutionPhase.ABORTED
    )
    with pytest.raises(FailedPreconditionError, match="already ended \\(ABORTED\\)"):
        admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=created.id, cause="again"))
    with pytest.raises(NotFoundError):
        admin.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=exec_id("ghost"), cause="x"))


def test_relaunch_runs_the_same_launch_plan_and_user_inputs_under_a_new_name(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    launch(admin, {"a": integer(7)}, name="original", launch_plan="pipeline_b_fixed")
    relaunched = admin.relaunch_execution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("original")))
    named = admin.relaunch_execution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("original"), name="again"))
    assert relaunched.id.name not in ("original", "again") and named.id.name == "again"
    execution = admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=relaunched.id))
    assert execution.spec.metadata.mode == execution_pb2.ExecutionMetadata.RELAUNCH
    assert execution.spec.metadata.reference_execution.name == "original"
    assert execution.spec.launch_plan.name == "pipeline_b_fixed"
    data = admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=relaunched.id))
    assert ints(data.full_inputs) == {"a": 7, "b": 10}
    assert [o.execution_id.name for o in launcher.launched] == ["original", relaunched.id.name, "again"]
    with pytest.raises(AlreadyExistsError):
        admin.relaunch_execution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("original"), name="again"))


def test_list_executions_filters_sorts_and_paginates_as_flytekit_asks(admin: AdminService) -> None:
    for name in ("e1", "e2", "e3"):
        launch(admin, {"a": integer(1)}, name=name)
    launch(admin, {"a": integer(1)}, name="f1", launch_plan="pipeline_b_fixed")
    newest_first = [e.id.name for e in list_all(admin)]
    assert newest_first == ["f1", "e3", "e2", "e1"]
    oldest = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)
    first = admin.list_executions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=2, sort_by=oldest
        )
    )
    rest = admin.list_executions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=2, sort_by=oldest,
            token=first.token,
        )
    )  # fmt: skip
    assert [e.id.name for e in [*first.executions, *rest.executions]] == ["e1", "e2", "e3", "f1"] and not rest.token
    by_lp = list_all(admin, filters="eq(launch_plan.name,pipeline_b_fixed)+eq(execution.phase,QUEUED)")
    assert [e.id.name for e in by_lp] == ["f1"]
    one = admin.list_executions(
        common_pb2.ResourceListRequest(id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="e2"))
    )
    assert [e.id.name for e in one.executions] == ["e2"]
    with pytest.raises(InvalidArgumentError):
        list_all(admin, filters="eq(nope,1)")
