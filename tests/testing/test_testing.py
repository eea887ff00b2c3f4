"""flytecore.testing: the helpers plugin authors' tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from flytecore import task
from flytecore.testing import idl_round_trip, run_on_sandbox, task_template
from tests.propeller import sandbox_tasks


@task(environment={"A": "b"})
def plain(x: int) -> int:
    return x


def test_task_template_is_what_registration_writes() -> None:
    template = task_template(plain, version="v7", image="registry.local/app:2")
    assert (template.type, template.id.version) == ("python-task", "v7")
    assert template.container is not None and template.container.image == "registry.local/app:2"
    assert "flytecore-execute" in template.container.args


def test_idl_round_trip_keeps_the_template() -> None:
    template = task_template(plain)
    assert idl_round_trip(template) == template


@pytest.mark.timeout(120)
def test_run_on_sandbox_runs_in_worker_processes(tmp_path: Path) -> None:
    run = run_on_sandbox(sandbox_tasks.child, home=tmp_path / "home", x=21)
    assert (run.phase, run.outputs, run.error) == ("SUCCEEDED", {"o0": 42}, "")


@pytest.mark.timeout(120)
def test_run_on_sandbox_reports_a_failure(tmp_path: Path) -> None:
    run = run_on_sandbox(
        sandbox_tasks.crashy, home=tmp_path / "home", name="boom", marker="/nonexistent/dir/m"
    )
    assert run.phase == "FAILED"
    assert run.outputs == {}
    assert run.error


def test_unpublished_fields_names_every_unknown_field_with_its_path() -> None:
    from flytecore.testing import unpublished_fields

    schema = {"spec": {"image": None, "env": [{"name": None, "value": None}], "labels": None}}
    good = {"spec": {"image": "i", "env": [{"name": "A", "value": "1"}], "labels": {"any": "thing"}}}
    assert unpublished_fields(good, schema) == []
    bad = {"spec": {"imag": "i", "env": [{"name": "A", "val": "1"}]}, "kind": "X"}
    assert unpublished_fields(bad, schema) == [".spec.imag", ".spec.env[0].val", ".kind"]


def test_k8s_task_context_follows_the_template_unless_told_otherwise() -> None:
    from flytecore.testing import k8s_task_context

    template = task_template(plain, image="registry.local/app:2")
    assert template.container is not None
    ctx = k8s_task_context(template, ["flytecore-execute", "--inputs", "s3://b/in.pb"])
    assert (ctx.image, ctx.command, ctx.resources) == (
        "registry.local/app:2",
        ("flytecore-execute", "--inputs", "s3://b/in.pb"),
        template.container.resources,
    )
    assert (ctx.name, ctx.namespace, ctx.labels, ctx.annotations) == (
        "e1-n0-0",
        "flytesnacks-development",
        {"execution-id": "e1"},
        {},
    )
    assert ctx.env == {"FLYTE_INTERNAL_EXECUTION_ID": "e1"}
    other = k8s_task_context(template, (), image="i:1", resources=None, namespace="default", labels={})
    assert (other.image, other.resources, other.namespace, other.labels) == ("i:1", None, "default", {})
