"""Projects, tasks, workflows and launch plans in the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from flytecore.admin.db import (
    AlreadyExists,
    InvalidFilter,
    InvalidPageToken,
    InvalidSort,
    NamedEntityId,
    NotFound,
    Repository,
    Sort,
    SortDirection,
    models,
)
from flytecore.spec import Identifier, LaunchPlanState, ResourceType
from tests.admin.conftest import columns, launch_plan, task, workflow


def tid(name: str = "app.tasks.add", version: str = "v1", project: str = "flytesnacks") -> Identifier:
    return Identifier(
        resource_type=ResourceType.TASK, project=project, domain="development", name=name, version=version
    )


# -- projects ------------------------------------------------------------------------------


def test_project_create_get_update_list(repo: Repository) -> None:
    created = repo.create_project(
        models.Project(id="flytesnacks", name="Flyte Snacks", labels={"team": "ml"})
    )
    assert created.state == models.ProjectState.ACTIVE
    assert created.created_at.tzinfo is not None
    got = repo.get_project("flytesnacks")
    assert (got.name, got.labels, got.description) == ("Flyte Snacks", {"team": "ml"}, "")

    updated = repo.update_project("flytesnacks", description="snacks", state=models.ProjectState.ARCHIVED)
    assert (updated.name, updated.description, updated.state) == ("Flyte Snacks", "snacks", 1)
    assert updated.updated_at >= created.updated_at

    repo.create_project(models.Project(id="alpha", name="Alpha"))
    assert [p.id for p in repo.list_projects().rows] == ["alpha", "flytesnacks"]
    assert [p.id for p in repo.list_projects(filters="eq(state,ACTIVE)").rows] == ["alpha"]
    assert [p.id for p in repo.list_projects(sort=Sort("id")).rows] == ["flytesnacks", "alpha"]


def test_project_duplicate_and_missing(repo: Repository) -> None:
    repo.create_project(models.Project(id="p", name="first"))
    with pytest.raises(AlreadyExists, match="project p already exists"):
        repo.create_project(models.Project(id="p", name="second"))
    assert repo.get_project("p").name == "first"
    with pytest.raises(NotFound, match="project nope not found"):
        repo.get_project("nope")
    with pytest.raises(NotFound):
        repo.update_project("nope", name="x")


# -- tasks and workflows -------------------------------------------------------------------


def test_task_create_and_get_round_trips_every_column(repo: Repository) -> None:
    row = task(spec=b"\x00\xffbinary\x00", task_type="python-task")
    stored = repo.create_task(row)
    got = repo.get_task(tid())
    assert columns(got) == columns(stored)
    assert got.spec == b"\x00\xffbinary\x00"
    assert got.task_type == "python-task"
    assert got.created_at.tzinfo == dt.UTC
    assert abs(got.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_duplicate_version_raises_already_exists_and_keeps_the_stored_row(repo: Repository) -> None:
    first = repo.create_task(task(digest="aaa", spec=b"one"))
    with pytest.raises(AlreadyExists) as info:
        repo.create_task(task(digest="bbb", spec=b"two"))
    assert info.value.entity == "task"
    assert info.value.identifier == "flytesnacks/development/app.tasks.add@v1"
    assert columns(repo.get_task(tid())) == columns(first)


def test_reusing_a_row_read_back_is_still_a_duplicate(repo: Repository) -> None:
    stored = repo.create_workflow(workflow())
    with pytest.raises(AlreadyExists):
        repo.create_workflow(stored)


def test_missing_entities_raise_not_found_naming_the_id(repo: Repository) -> None:
    with pytest.raises(NotFound, match=r"task flytesnacks/development/app.tasks.add@v9 not found"):
        repo.get_task(tid(version="v9"))
    with pytest.raises(NotFound, match="workflow"):
        repo.get_workflow(tid())
    with pytest.raises(NotFound, match="launch plan"):
        repo.get_launch_plan(tid())


def _seed_tasks(repo: Repository) -> None:
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i, (name, version) in enumerate(
        [("a.t", "v1"), ("a.t", "v2"), ("b.t", "v1"), ("c.t", "v1"), ("a.t", "v3"), ("b.t", "v2")]
    ):
        repo.create_task(task(name, version, created_at=base + dt.timedelta(hours=i)))
    repo.create_task(task("a.t", "v1", project="other"))  # another project: never listed below


def test_list_versions_newest_first_filtered_and_paged(repo: Repository) -> None:
    _seed_tasks(repo)
    page = repo.list_tasks("flytesnacks", "development", "a.t")
    assert [t.version for t in page.rows] == ["v3", "v2", "v1"]
    assert page.next_token == ""

    everything = repo.list_tasks("flytesnacks", "development", sort=Sort("version", SortDirection.ASCENDING))
    assert [(t.version, t.name) for t in everything.rows] == [
        ("v1", "a.t"), ("v1", "b.t"), ("v1", "c.t"), ("v2", "a.t"), ("v2", "b.t"), ("v3", "a.t"),
    ]  # fmt: skip

    since = repo.list_tasks("flytesnacks", "development", filters="gte(created_at,2024-01-01T03:00:00Z)")
    assert [(t.name, t.version) for t in since.rows] == [("b.t", "v2"), ("a.t", "v3"), ("c.t", "v1")]
    names = repo.list_tasks("flytesnacks", "development", filters="value_in(name,b.t;c.t)+ne(version,v2)")
    assert {(t.name, t.version) for t in names.rows} == {("b.t", "v1"), ("c.t", "v1")}
    assert [
        t.name for t in repo.list_tasks("flytesnacks", "development", filters="contains(name,c.)").rows
    ] == ["c.t"]


def test_pagination_walks_every_row_once(repo: Repository) -> None:
    _seed_tasks(repo)
    seen, token, pages = [], "", 0
    while True:
        page = repo.list_tasks("flytesnacks", "development", limit=4, token=token)
        seen += [(t.name, t.version) for t in page.rows]
        pages += 1
        if not page.next_token:
            break
        token = page.next_token
    assert pages == 2
    assert len(seen) == len(set(seen)) == 6
    # exactly a full last page: no empty extra page is promised
    assert repo.list_tasks("flytesnacks", "development", limit=3, token="3").next_token == ""


def test_list_ids_are_distinct_names(repo: Repository) -> None:
    _seed_tasks(repo)
    ids = repo.list_task_ids("flytesnacks", "development")
    assert ids.rows == [NamedEntityId("flytesnacks", "development", n) for n in ("a.t", "b.t", "c.t")]
    first = repo.list_task_ids("flytesnacks", "development", limit=2)
    assert [i.name for i in first.rows] == ["a.t", "b.t"] and first.next_token == "2"
    assert [i.name for i in repo.list_task_ids("flytesnacks", "development", token="2").rows] == ["c.t"]
    # names whose newest version came last first
    newest = repo.list_task_ids("flytesnacks", "development", sort=Sort("created_at"))
    assert [i.name for i in newest.rows] == ["b.t", "a.t", "c.t"]
    assert [
        i.name for i in repo.list_task_ids("flytesnacks", "development", filters="eq(version,v2)").rows
    ] == [
        "a.t",
        "b.t",
    ]
    with pytest.raises(InvalidSort):
        repo.list_task_ids("flytesnacks", "development", sort=Sort("digest"))


@pytest.mark.parametrize(
    "bad", ["eq(colour,red)", "gte(created_at,last tuesday)", "eq(name", "drop(name,x)", "eq(spec,x)"]
)
def test_invalid_filter_runs_no_query(repo: Repository, statements: list[str], bad: str) -> None:
    with pytest.raises(InvalidFilter):
        repo.list_tasks("flytesnacks", "development", filters=bad)
    with pytest.raises(InvalidFilter):
        repo.list_workflow_ids("flytesnacks", "development", filters=bad)
    assert statements == []


@pytest.mark.parametrize(("token", "limit"), [("abc", 10), ("-5", 10), ("1.5", 10), ("", 0), ("", -1)])
def test_bad_page_token_or_limit_runs_no_query(
    repo: Repository, statements: list[str], token: str, limit: int
) -> None:
    with pytest.raises(InvalidPageToken):
        repo.list_workflows("flytesnacks", "development", token=token, limit=limit)
    with pytest.raises(InvalidSort):
        repo.list_workflows("flytesnacks", "development", sort=Sort("closure_uri"))
    assert statements == []


@pytest.mark.parametrize(
    "odd",
    [
        "../../etc/passwd",
        "a/b\\c",
        "name with spaces",
        "ünïcode-名前",
        "x%_y'; DROP TABLE tasks; --",
        "..",
        "/",
    ],
)
def test_ids_with_path_characters_are_stored_verbatim(repo: Repository, odd: str) -> None:
    repo.create_task(task(odd, odd))
    got = repo.get_task(tid(odd, odd))
    assert (got.name, got.version) == (odd, odd)
    assert [t.name for t in repo.list_tasks("flytesnacks", "development", odd).rows] == [odd]
    assert repo.list_tasks("flytesnacks", "development", filters=f"contains(name,{odd})").rows[0].name == odd
    repo.create_project(models.Project(id=odd, name=odd))
    assert repo.get_project(odd).name == odd


def test_workflow_closure_uri(repo: Repository) -> None:
    repo.create_workflow(workflow(closure_uri="file:///meta/flytesnacks/development/app.wf/v1/closure.pb"))
    got = repo.get_workflow(
        Identifier(
            resource_type=ResourceType.WORKFLOW,
            project="flytesnacks",
            domain="development",
            name="app.wf",
            version="v1",
        )
    )
    assert got.closure_uri.endswith("closure.pb")
    assert [w.name for w in repo.list_workflows("flytesnacks", "development").rows] == ["app.wf"]


# -- launch plans --------------------------------------------------------------------------


def lpid(version: str = "v1", name: str = "app.wf") -> Identifier:
    return Identifier(
        resource_type=ResourceType.LAUNCH_PLAN,
        project="flytesnacks",
        domain="development",
        name=name,
        version=version,
    )


def test_explicit_launch_plan_replaces_the_automatic_default(repo: Repository) -> None:
    auto = repo.create_launch_plan(launch_plan(auto_default=True, digest="auto", closure=b"auto"))
    explicit = repo.create_launch_plan(launch_plan(digest="explicit", closure=b"explicit"))
    assert (explicit.auto_default, explicit.digest, explicit.closure) == (False, "explicit", b"explicit")
    assert explicit.created_at == auto.created_at
    # now it is a real one: neither another explicit nor an automatic create may replace it
    with pytest.raises(AlreadyExists):
        repo.create_launch_plan(launch_plan(digest="third"))
    with pytest.raises(AlreadyExists):
        repo.create_launch_plan(launch_plan(auto_default=True, digest="auto2"))
    assert columns(repo.get_launch_plan(lpid())) == columns(explicit)


def test_automatic_default_never_replaces_anything(repo: Repository) -> None:
    repo.create_launch_plan(launch_plan(auto_default=True, digest="one"))
    with pytest.raises(AlreadyExists):
        repo.create_launch_plan(launch_plan(auto_default=True, digest="two"))
    assert repo.get_launch_plan(lpid()).digest == "one"


def test_activation_keeps_one_active_version(repo: Repository) -> None:
    for v in ("v1", "v2", "v3"):
        repo.create_launch_plan(launch_plan(version=v))
    with pytest.raises(NotFound, match="active launch plan flytesnacks/development/app.wf not found"):
        repo.get_active_launch_plan("flytesnacks", "development", "app.wf")

    repo.set_launch_plan_state(lpid("v1"), LaunchPlanState.ACTIVE)
    assert repo.get_active_launch_plan("flytesnacks", "development", "app.wf").version == "v1"
    activated = repo.set_launch_plan_state(lpid("v3"), LaunchPlanState.ACTIVE)
    assert activated.state == LaunchPlanState.ACTIVE
    assert repo.get_active_launch_plan("flytesnacks", "development", "app.wf").version == "v3"
    assert repo.get_launch_plan(lpid("v1")).state == LaunchPlanState.INACTIVE
    states = {
        lp.version: lp.state for lp in repo.list_launch_plans("flytesnacks", "development", "app.wf").rows
    }
    assert states == {"v1": 0, "v2": 0, "v3": 1}

    repo.set_launch_plan_state(lpid("v3"), LaunchPlanState.INACTIVE)
    with pytest.raises(NotFound):
        repo.get_active_launch_plan("flytesnacks", "development", "app.wf")
    with pytest.raises(NotFound):
        repo.set_launch_plan_state(lpid("v9"), LaunchPlanState.ACTIVE)


def test_creating_an_active_version_deactivates_the_others(repo: Repository) -> None:
    repo.create_launch_plan(launch_plan(version="v1", state=LaunchPlanState.ACTIVE))
    repo.create_launch_plan(launch_plan(version="v2", state=LaunchPlanState.ACTIVE))
    assert repo.get_active_launch_plan("flytesnacks", "development", "app.wf").version == "v2"
    # a failed create changes nothing, not even the deactivation it began with
    with pytest.raises(AlreadyExists):
        repo.create_launch_plan(launch_plan(version="v1", state=LaunchPlanState.ACTIVE))
    assert repo.get_active_launch_plan("flytesnacks", "development", "app.wf").version == "v2"


def test_list_active_launch_plans_and_filters_on_workflow(repo: Repository) -> None:
    repo.create_launch_plan(launch_plan("lp.a", "v1", state=LaunchPlanState.ACTIVE, workflow_name="wf.a"))
    repo.create_launch_plan(launch_plan("lp.a", "v2", workflow_name="wf.a"))
    repo.create_launch_plan(launch_plan("lp.b", "v1", state=LaunchPlanState.ACTIVE, workflow_name="wf.b"))
    repo.create_launch_plan(launch_plan("lp.c", "v1", workflow_name="wf.b"))
    active = repo.list_active_launch_plans(
        "flytesnacks", "development", sort=Sort("name", SortDirection.ASCENDING)
    )
    assert [(lp.name, lp.version) for lp in active.rows] == [("lp.a", "v1"), ("lp.b", "v1")]
    by_workflow = repo.list_launch_plans("flytesnacks", "development", filters="eq(workflow.name,wf.b)")
    assert sorted(lp.name for lp in by_workflow.rows) == ["lp.b", "lp.c"]
    inactive = repo.list_launch_plans("flytesnacks", "development", filters="eq(state,INACTIVE)")
    assert sorted((lp.name, lp.version) for lp in inactive.rows) == [("lp.a", "v2"), ("lp.c", "v1")]
    assert [i.name for i in repo.list_launch_plan_ids("flytesnacks", "development").rows] == [
        "lp.a",
        "lp.b",
        "lp.c",
    ]
