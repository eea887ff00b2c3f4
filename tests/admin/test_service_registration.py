"""Admin service: projects, domains, and registration of tasks, workflows and launch plans,
on SQLite and PostgreSQL, with flyteidl requests built from flytecore-authored workflows."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, project_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2

from flytecore import LaunchPlan, map_task, task, workflow
from flytecore.admin.config import AdminConfig
from flytecore.admin.db import Repository
from flytecore.admin.service import AdminService, AlreadyExistsError, InvalidArgumentError, NotFoundError
from flytecore.admin.storage import MetadataStore
from flytecore.sdk.serialize import SerializationSettings, serialize_workflow
from flytecore.spec import idl
from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def pipeline(a: int, b: int = 3) -> int:
    return double(x=add(a=a, b=b))


@pytest.fixture
def admin(repo: Repository, tmp_path: Path) -> AdminService:
    service = AdminService(repo, MetadataStore(str(tmp_path / "store")), AdminConfig(db_url="unused"))
    service.bootstrap()
    return service


def requests_for(wf: object, version: str = "v1") -> tuple[list[task_pb2.TaskCreateRequest], workflow_pb2.WorkflowCreateRequest]:
    bundle = serialize_workflow(wf, SerializationSettings(version=version))
    tasks = [
        task_pb2.TaskCreateRequest(id=idl.to_idl(t.id), spec=task_pb2.TaskSpec(template=idl.to_idl(t)))
        for t in bundle.tasks.values()
    ]
    assert bundle.workflow is not None
    wf_request = workflow_pb2.WorkflowCreateRequest(
        id=idl.to_idl(bundle.workflow.id),
        spec=workflow_pb2.WorkflowSpec(
            template=idl.to_idl(bundle.workflow), sub_workflows=[idl.to_idl(w) for w in bundle.sub_workflows.values()]
        ),
    )
    return tasks, wf_request


def register(admin: AdminService, wf: object, version: str = "v1") -> workflow_pb2.WorkflowCreateRequest:
    tasks, wf_request = requests_for(wf, version)
    for t in tasks:
        admin.create_task(t)
    admin.create_workflow(wf_request)
    return wf_request


def lp_id(name: str, version: str = "v1") -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project="flytesnacks", domain="development", name=name, version=version
    )


def test_fresh_admin_has_sandbox_project_and_domains(admin: AdminService) -> None:
    assert [d.id for d in admin.get_domains().domains] == ["development", "staging", "production"]
    projects = admin.list_projects(project_pb2.ProjectListRequest())
    assert [p.id for p in projects.projects] == ["flytesnacks"]
    admin.register_project(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="team-a", name="Team A")))
    with pytest.raises(AlreadyExistsError):
        admin.register_project(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="team-a")))
    assert admin.get_project(project_pb2.ProjectGetRequest(id="team-a")).name == "Team A"
    with pytest.raises(InvalidArgumentError, match="project id"):
        admin.register_project(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="../etc")))


def test_register_workflow_compiles_stores_closure_and_default_launch_plan(admin: AdminService) -> None:
    wf_request = register(admin, pipeline)
    stored = admin.get_workflow(common_pb2.ObjectGetRequest(id=wf_request.id))
    compiled = stored.closure.compiled_workflow
    assert [n.id for n in compiled.primary.template.nodes] == ["n0", "n1"]
    assert {t.template.id.name for t in compiled.tasks} == {add.name, double.name}
    assert compiled.primary.connections.upstream["n1"].ids == ["n0"]

    default = admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id(pipeline.name)))
    assert default.spec.workflow_id.name == pipeline.name
    assert set(default.closure.expected_inputs.parameters) == {"a", "b"}
    assert all(p.required for p in default.closure.expected_inputs.parameters.values())
    assert list(default.closure.expected_outputs.variables) == ["o0"]


@workflow
def nested(a: int, xs: list[int]) -> tuple[int, list[int]]:
    return pipeline(a=a), map_task(double)(x=xs)  # type: ignore[return-value]


@pytest.mark.parametrize("wf", [pipeline, nested], ids=["tasks", "subworkflow-and-map"])
def test_a_new_version_s_closure_is_kept_as_compiled_equal_to_the_stored_one(
    admin: AdminService, wf: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executions usually follow a registration: the admin keeps the closure it compiled, so
    their CreateExecution reads and decodes nothing; what it keeps is what decoding the stored
    closure gives."""
    wf_request = register(admin, wf)
    workflow_id = idl.from_idl(wf_request.id, Identifier)
    uri = admin.compiled_closure_uri(workflow_id)
    stored = admin.store.read_bytes(uri)
    monkeypatch.setattr(admin.store, "read_bytes", lambda uri: pytest.fail(f"read {uri}"))
    kept = admin.compiled_closure_spec(workflow_id)
    decoded = idl.from_idl(compiler_pb2.CompiledWorkflowClosure.FromString(stored), CompiledWorkflowClosure)
    assert kept == decoded
    assert admin.compiled_closure(workflow_id).SerializeToString() == stored


@pytest.mark.parametrize("wf", [pipeline, nested], ids=["tasks", "subworkflow-and-map"])
def test_the_stored_closure_is_the_compiled_one_with_every_template_as_sent(admin: AdminService, wf: object) -> None:
    """The closure's templates are the client's messages (fields the models leave out kept),
    byte for byte what converting the whole compiled closure and putting them back gives."""
    tasks, wf_request = requests_for(wf)
    for t in tasks:
        # A field no model reads, which only a template kept as sent still has.
        t.spec.template.security_context.run_as.k8s_service_account = "reader"
        admin.create_task(t)
    wf_request.spec.template.metadata_defaults.interruptible = True
    admin.create_workflow(wf_request)
    workflow_id = idl.from_idl(wf_request.id, Identifier)
    stored = compiler_pb2.CompiledWorkflowClosure.FromString(admin.store.read_bytes(admin.compiled_closure_uri(workflow_id)))

    reference = idl.to_idl(admin.compiled_closure_spec(workflow_id))
    sent = {w.id.name: w for w in (wf_request.spec.template, *wf_request.spec.sub_workflows)}
    for compiled in (reference.primary, *reference.sub_workflows):
        compiled.template.CopyFrom(sent[compiled.template.id.name])
    by_name = {t.spec.template.id.name: t.spec.template for t in tasks}
    for compiled_task in reference.tasks:
        compiled_task.template.CopyFrom(by_name[compiled_task.template.id.name])
    assert stored.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)
    assert {t.template.security_context.run_as.k8s_service_account for t in stored.tasks} == {"reader"}
    assert stored.primary.connections.upstream and stored.primary.template.metadata_defaults.interruptible


def test_identical_reregistration_is_already_exists_and_changed_body_is_invalid(admin: AdminService) -> None:
    tasks, _ = requests_for(pipeline)
    register(admin, pipeline)
    with pytest.raises(AlreadyExistsError, match="identical body"):
        admin.create_task(tasks[0])
    changed = task_pb2.TaskCreateRequest()
    changed.CopyFrom(tasks[0])
    changed.spec.template.metadata.retries.retries = 7
    with pytest.raises(InvalidArgumentError, match=r"different body \(differs in: template.metadata.retries"):
        admin.create_task(changed)
    got = admin.get_task(common_pb2.ObjectGetRequest(id=tasks[0].id))
    assert got.closure.compiled_task.template.metadata.retries.retries == 0


def test_workflow_that_does_not_compile_is_refused_with_every_error_and_nothing_stored(admin: AdminService) -> None:
    _, wf_request = requests_for(pipeline, version="v2")  # its tasks are not registered
    with pytest.raises(InvalidArgumentError) as err:
        admin.create_workflow(wf_request)
    text = str(err.value)
    assert text.count("TaskReferenceNotFound") == 2 and "n0" in text and "n1" in text
    with pytest.raises(NotFoundError):
        admin.get_workflow(common_pb2.ObjectGetRequest(id=wf_request.id))
    with pytest.raises(NotFoundError):
        admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id(pipeline.name, "v2")))


def test_explicit_launch_plan_replaces_the_automatic_default(admin: AdminService) -> None:
    register(admin, pipeline)
    lp = LaunchPlan.get_or_create(pipeline, name="pipeline_fixed", fixed_inputs={"b": 10}, default_inputs={"a": 1})
    explicit = lp.to_spec(SerializationSettings(version="v1"))
    # Same id as the default launch plan (flytekit registers it explicitly).
    default_spec = LaunchPlan.get_default_launch_plan(pipeline).to_spec(SerializationSettings(version="v1"))
    admin.create_launch_plan(
        launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(default_spec.id), spec=idl.to_idl(default_spec.spec))
    )
    replaced = admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id(pipeline.name)))
    assert replaced.closure.expected_inputs.parameters["b"].default.scalar.primitive.integer == 3
    admin.create_launch_plan(
        launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(explicit.id), spec=idl.to_idl(explicit.spec))
    )
    fixed = admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id("pipeline_fixed")))
    assert set(fixed.closure.expected_inputs.parameters) == {"a"}
    assert fixed.spec.fixed_inputs.literals["b"].scalar.primitive.integer == 10

    admin.update_launch_plan(launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id("pipeline_fixed"), state=launch_plan_pb2.ACTIVE))
    active = admin.get_active_launch_plan(
        launch_plan_pb2.ActiveLaunchPlanRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development", name="pipeline_fixed")
        )
    )
    assert active.closure.state == launch_plan_pb2.ACTIVE


def test_launch_plan_inputs_are_checked_by_name_and_type(admin: AdminService) -> None:
    register(admin, pipeline)
    spec = launch_plan_pb2.LaunchPlanSpec(workflow_id=idl.to_idl(serialize_workflow(pipeline, SerializationSettings(version="v1")).workflow.id))  # type: ignore[union-attr]
    spec.fixed_inputs.literals["b"].CopyFrom(
        literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="ten")))
    )
    with pytest.raises(InvalidArgumentError, match="fixed input 'b': expected int, got str"):
        admin.create_launch_plan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id("bad"), spec=spec))
    spec.fixed_inputs.literals.clear()
    spec.fixed_inputs.literals["c"].CopyFrom(literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1))))
    with pytest.raises(InvalidArgumentError, match="fixed input 'c' is not an input of the workflow"):
        admin.create_launch_plan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id("bad"), spec=spec))
    with pytest.raises(NotFoundError):
        admin.get_launch_plan(common_pb2.ObjectGetRequest(id=lp_id("bad")))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "../escape", "path separator"),
        ("version", "", "version is required"),
        ("domain", "qa", "not a domain of this admin"),
        ("project", "Bad_Project", "must be lowercase"),
    ],
)
def test_bad_ids_are_invalid_and_store_nothing(admin: AdminService, field: str, value: str, message: str) -> None:
    tasks, _ = requests_for(pipeline)
    request = tasks[0]
    setattr(request.id, field, value)
    setattr(request.spec.template.id, field, value)
    with pytest.raises(InvalidArgumentError, match=message):
        admin.create_task(request)
    assert admin.list_task_ids(common_pb2.NamedEntityIdentifierListRequest(project="flytesnacks", domain="development")).entities == []


def test_unknown_project_is_not_found(admin: AdminService) -> None:
    tasks, _ = requests_for(pipeline)
    tasks[0].id.project = tasks[0].spec.template.id.project = "nobody"
    with pytest.raises(NotFoundError, match="project 'nobody' is not registered"):
        admin.create_task(tasks[0])


def test_lists_paginate(admin: AdminService) -> None:
    for version in ("v1", "v2", "v3"):
        register(admin, pipeline, version)
    ids = admin.list_task_ids(common_pb2.NamedEntityIdentifierListRequest(project="flytesnacks", domain="development"))
    assert sorted(e.name for e in ids.entities) == sorted([add.name, double.name])
    first = admin.list_workflows(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development", name=pipeline.name), limit=2
        )
    )
    assert len(first.workflows) == 2 and first.token
    rest = admin.list_workflows(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development", name=pipeline.name),
            limit=2,
            token=first.token,
        )
    )
    versions = [w.id.version for w in [*first.workflows, *rest.workflows]]
    assert sorted(versions) == ["v1", "v2", "v3"]
    with pytest.raises(InvalidArgumentError):
        admin.list_tasks(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"), filters="eq(nope,1)"
            )
        )
