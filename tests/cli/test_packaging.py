"""What registration ships: module names below source roots, deterministic code archives, the
entities found, late ``run`` options, and outputs as plain JSON values."""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from pathlib import Path

import click
import pytest

from flytecore.cli.loader import LoadError
from flytecore.cli.packaging import build_archive, collect_entities, find_sources, project_root
from flytecore.cli.run_remote import split_late_options
from flytecore.cli.views import plain_literal
from flytecore.spec.literals import Blob, Literal, Primitive, Scalar, Void
from flytecore.spec.literals import Union as UnionValue
from flytecore.spec.types import LiteralType, SimpleType
from tests.cli.remote_project import MODULE, write_project


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_module_names_follow_the_first_folder_without_init(tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    (project / "scripts").mkdir()
    (project / "scripts" / "tool.py").write_text("x = 1\n")
    sources = {s.module: s for s in find_sources([project])}
    assert set(sources) == {MODULE, "pkg", "pkg.tasks", "tool"}
    assert sources["pkg.tasks"].root == project.resolve()
    assert sources["tool"].root == (project / "scripts").resolve()  # a plain sub-folder is its own root
    assert project_root(project / "pkg" / "tasks.py") == project.resolve()
    # Naming a file gives it the same module name as naming its folder.
    assert [s.module for s in find_sources([project / "pkg" / "tasks.py"])] == ["pkg.tasks"]


def test_two_files_that_would_be_one_module_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.py").write_text("")
    with pytest.raises(LoadError, match=r"would both be module 'same'"):
        find_sources([tmp_path])
    with pytest.raises(LoadError, match="no such file or folder"):
        find_sources([tmp_path / "missing"])


def test_archives_are_deterministic_and_leave_out_caches_and_ignored_files(tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref")
    (project / "data.csv").write_text("a,b\n")
    (project / "secret.txt").write_text("no")
    (project / ".flyteignore").write_text("# not shipped\nsecret.txt\n")
    first = build_archive(project)
    (project / "data.csv").touch()  # a new mtime changes nothing
    assert build_archive(project) == first
    found = members(first)
    assert set(found) == {".flyteignore", f"{MODULE}.py", "data.csv", "pkg/__init__.py", "pkg/tasks.py"}
    assert {(m.mtime, m.uid, m.uname) for m in found.values()} == {(0, 0, "")}
    assert first[:2] == b"\x1f\x8b" and first[4:8] == b"\0\0\0\0"  # gzip, without a time stamp
    (project / "data.csv").write_text("a,b\n1,2\n")
    assert build_archive(project) != first


def test_collect_entities_finds_tasks_workflows_and_launch_plans(tmp_path: Path) -> None:
    entities = collect_entities(find_sources([write_project(tmp_path / "proj")]))
    assert f"{MODULE}.add" in entities.tasks and "pkg.tasks.double" in entities.tasks
    assert f"{MODULE}.add_wf" in entities.workflows and "add_lp" in entities.launch_plans
    assert entities.root_of(entities.tasks["pkg.tasks.double"]) == (tmp_path / "proj").resolve()


def test_late_options_are_options_unless_the_entity_has_such_an_input() -> None:
    @click.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    @click.option("--name")
    @click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
    @click.option("--wait/--no-wait", default=True)
    def command(name: str, output: str, wait: bool) -> None:
        """A command with some of run's options."""

    ctx = click.Context(command)
    options, rest = split_late_options(ctx, ["--n", "5", "-o", "json", "--no-wait", "--name", "e1"], {"n"})
    assert options == {"output": "json", "wait": False, "name": "e1"} and rest == ["--n", "5"]
    # A workflow input called "name" keeps its value; the option is not taken.
    options, rest = split_late_options(ctx, ["--name", "Ada", "--output=json"], {"name"})
    assert options == {"output": "json"} and rest == ["--name", "Ada"]
    # An input's value that looks like an option stays with the input.
    options, rest = split_late_options(ctx, ["--msg", "--no-wait"], {"msg"})
    assert options == {} and rest == ["--msg", "--no-wait"]
    with pytest.raises(click.BadParameter):
        split_late_options(ctx, ["-o", "yaml"], set())


def test_literals_become_plain_json_values() -> None:
    def prim(**kw: object) -> Literal:
        return Literal(scalar=Scalar(primitive=Primitive(**kw)))  # type: ignore[arg-type]

    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    value = Literal(
        map={
            "when": prim(datetime=when),
            "took": prim(duration=dt.timedelta(minutes=1, seconds=30)),
            "xs": Literal(collection=(prim(integer=1), prim(float_value=2.5))),
            "point": Literal(scalar=Scalar(generic={"x": 1.0, "tags": ["a"]})),
            "file": Literal(scalar=Scalar(blob=Blob(uri="s3://bucket/f.csv"))),
            "maybe": Literal(
                scalar=Scalar(
                    union=UnionValue(value=prim(string_value="s"), type=LiteralType(simple=SimpleType.STRING))
                )
            ),
            "nothing": Literal(scalar=Scalar(none_type=Void())),
        }
    )
    assert plain_literal(value) == {
        "when": "2024-05-01T12:30:00+00:00",
        "took": 90.0,
        "xs": [1, 2.5],
        "point": {"x": 1.0, "tags": ["a"]},
        "file": "s3://bucket/f.csv",
        "maybe": "s",
        "nothing": None,
    }
