"""The ``flytecore`` command: compile, run and plugins list, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = """
from flytecore import task, workflow

@task
def add(a: int, b: int) -> int:
    return a + b

@workflow
def my_wf(a: int, b: int = 2) -> int:
    return add(a=add(a=a, b=b), b=b)
"""

BAD = """
from flytecore import task, workflow

@task
def text() -> str:
    return "x"

@task
def number(x: int) -> int:
    return x

@workflow
def broken() -> str:
    n = number(x=text())
    return n
"""


def flytecore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flytecore.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "my_workflows.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))
    (tmp_path / "syntax.py").write_text("def oops(:\n")
    return tmp_path


def test_compile_prints_closure_yaml(project: Path) -> None:
    proc = flytecore("compile", "my_workflows.py:my_wf", "-o", "yaml", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "name: my_workflows.my_wf" in proc.stdout
    assert "upstream:" in proc.stdout and "n0" in proc.stdout


def test_compile_json_round_trips_into_spec(project: Path) -> None:
    from flytecore.spec import CompiledWorkflowClosure, make_converter

    proc = flytecore("compile", "my_workflows.py:my_wf", "-o", "json", "--project", "p1", cwd=project)
    assert proc.returncode == 0, proc.stderr
    closure = make_converter().structure(json.loads(proc.stdout), CompiledWorkflowClosure)
    assert closure.primary.template.id.project == "p1"
    assert [t.template.id.name for t in closure.tasks] == ["my_workflows.add"]
    assert len(closure.primary.template.nodes) == 2


def test_compile_errors_are_all_listed_without_traceback(project: Path) -> None:
    proc = flytecore("compile", "bad.py:broken", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "2 compile error(s)" in proc.stderr
    assert proc.stderr.count("MismatchingTypes") == 2
    assert "[node n1]" in proc.stderr and "end-node" in proc.stderr


def test_load_errors_are_messages(project: Path) -> None:
    proc = flytecore("compile", "syntax.py:x", cwd=project)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "syntax.py:1" in proc.stderr and "syntax error" in proc.stderr
    proc = flytecore("compile", "my_workflows.py:nope", cwd=project)
    assert proc.returncode == 1 and "has no 'nope'" in proc.stderr and "my_wf" in proc.stderr
    proc = flytecore("compile", "missing.py:wf", cwd=project)
    assert proc.returncode == 1 and "no such file" in proc.stderr


def test_run_locally_with_inputs(project: Path) -> None:
    proc = flytecore("run", "my_workflows.py", "my_wf", "--a", "3", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "7"
    proc = flytecore("run", "my_workflows.py", "my_wf", "--a", "x", cwd=project)
    assert proc.returncode == 1 and "input 'a'" in proc.stderr and "Traceback" not in proc.stderr


def test_plugins_list(project: Path) -> None:
    proc = flytecore("plugins", "list", "--json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    assert plugins["python_task"]["distribution"] == "flytecore"
    assert "python-task" in plugins["python_task"]["contributions"]["task types"]
    assert "flytecore_register_compiler_passes" in plugins["core_compiler"]["hooks"]
    table = flytecore("plugins", "list", cwd=project)
    assert table.returncode == 0 and "python_task" in table.stdout and "loaded" in table.stdout
