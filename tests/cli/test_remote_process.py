"""The remote commands as a user runs them: a ``flytecore sandbox`` process, and ``register``,
``run --remote``, ``get``, ``logs`` and ``terminate`` processes against it."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.remote_project import (
    MODULE,
    SandboxProcess,
    flytecore,
    sandbox_process,
    wait_for,
    write_project,
)

pytestmark = pytest.mark.slow
QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart.py"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with sandbox_process(tmp_path_factory.mktemp("sandbox-home")) as box:
        yield box


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


@pytest.fixture
def env(served: SandboxProcess, tmp_path: Path) -> dict[str, str]:
    return {"FLYTECORE_ADMIN": served.address, "FLYTECORE_HOME": str(tmp_path / "cli-home")}


def run_json(*args: str, env: dict[str, str], cwd: Path | None = None) -> tuple[int, dict]:
    proc = flytecore("run", "--remote", "-o", "json", *args, env=env, cwd=cwd)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_run_remote_uses_the_default_inputs_and_prints_one_json_object(env: dict[str, str]) -> None:
    code, doc = run_json(str(QUICKSTART), "wf", "--name", "quick-default", env=env)
    assert code == 0
    assert doc["name"] == "quick-default" and doc["phase"] == "SUCCEEDED" and doc["error"] is None
    # No --n: the default launch plan registered by the CLI carries the workflow's default n=5.
    assert doc["outputs"] == {"message": "sum of squares is 30 (small)", "total": 30}
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert [nodes[i]["name"] for i in ("n0", "n2")] == ["quickstart.numbers", "quickstart.total"]
    assert {n["phase"] for n in doc["nodes"]} == {"SUCCEEDED"}
    assert [c["name"] for c in nodes["n1"]["children"]] == [f"quickstart.square[{i}]" for i in range(5)]
    assert [c["name"] for c in nodes["n3"]["children"]] == ["quickstart.describe"]


def test_get_execution_json_matches_the_run_and_names_are_idempotent(env: dict[str, str]) -> None:
    code, ran = run_json(str(QUICKSTART), "wf", "--n", "4", "--name", "quick4", env=env)
    assert code == 0 and ran["outputs"] == {"message": "sum of squares is 14 (small)", "total": 14}
    proc = flytecore("get", "execution", "quick4", "-o", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ran
    # The same name again follows the existing execution instead of starting another one.
    again = flytecore("run", "--remote", str(QUICKSTART), "wf", "--n", "9", "--name", "quick4", env=env)
    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stderr
    assert json.loads(again.stdout) == {"message": "sum of squares is 14 (small)", "total": 14}


def test_a_failed_run_exits_non_zero_with_the_error(project: Path, env: dict[str, str]) -> None:
    code, doc = run_json(str(project / f"{MODULE}.py"), "failing", "--x", "5", env=env)
    assert code == 1
    assert doc["phase"] == "FAILED" and doc["outputs"] == {}
    assert "boom 5" in doc["error"]["message"]
    assert doc["nodes"][0]["phase"] == "FAILED" and "boom 5" in doc["nodes"][0]["error"]["message"]
    listed = flytecore("get", "executions", "--phase", "FAILED", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert doc["name"] in {e["name"] for e in json.loads(listed.stdout)}
    assert {e["phase"] for e in json.loads(listed.stdout)} == {"FAILED"}


def test_logs_prints_the_tasks_stdout_and_stderr(project: Path, env: dict[str, str]) -> None:
    code, doc = run_json(str(project / f"{MODULE}.py"), "chatty_wf", "--x", "42", "--name", "chatty42", env=env)
    assert code == 0 and doc["outputs"] == {"o0": 42}
    both = flytecore("logs", "chatty42", "n0", env=env)
    assert both.returncode == 0, both.stderr
    out_at, err_at = both.stdout.index("=== stdout"), both.stdout.index("=== stderr")
    assert "hello from stdout 42" in both.stdout[out_at:err_at]
    assert "hello from stderr 42" in both.stdout[err_at:]
    only = flytecore("logs", "chatty42", "n0", "--stream", "stderr", env=env)
    assert only.returncode == 0 and only.stdout.strip() == "hello from stderr 42"


def test_terminate_aborts_a_long_task(project: Path, env: dict[str, str]) -> None:
    wf_file = str(project / f"{MODULE}.py")
    launched = flytecore("run", "--remote", "--no-wait", "--name", "napper", wf_file, "long_wf", env=env)
    assert launched.returncode == 0, launched.stderr
    assert "launched execution napper" in launched.stdout
    # Terminate once the task is really running (it printed), so the abort reaches a live attempt.
    wait_for(lambda: "napping 600s" in flytecore("logs", "napper", "n0", env=env).stdout, "the task to start")
    stopped = flytecore("terminate", "napper", "--cause", "enough napping", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "terminate requested (enough napping)" in stopped.stdout

    def aborted() -> dict | None:
        doc = json.loads(flytecore("get", "execution", "napper", "-o", "json", env=env).stdout)
        return doc if doc["phase"] == "ABORTED" else None

    doc = wait_for(aborted, "the execution to be ABORTED")
    assert isinstance(doc, dict)
    assert doc["abort_cause"] == "enough napping"
    assert doc["nodes"][0]["phase"] == "ABORTED"
    again = flytecore("terminate", "napper", env=env)
    assert again.returncode == 1 and "already ended (ABORTED)" in again.stderr and "Traceback" not in again.stderr


def test_sandbox_prints_flytekit_config_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    config = tmp_path / "flyte" / "config.yaml"
    with sandbox_process(tmp_path / "home", "--write-flytekit-config", str(config), workers=1) as box:
        text = "\n".join(box.lines)
        assert f"gRPC:    {box.address}" in text
        assert f"HTTP:    http://127.0.0.1:{box.http_port}" in text
        assert f"endpoint: dns:///{box.address}" in text and "insecure: true" in text
        assert config.read_text() == f"admin:\n  endpoint: dns:///{box.address}\n  insecure: true\n"
        box.process.send_signal(signal.SIGINT)
        assert box.process.wait(60) == 0
        wait_for(lambda: "sandbox stopped" in box.lines, "the sandbox to say it stopped", timeout=10)
    assert (tmp_path / "home" / "admin.db").exists() and (tmp_path / "home" / "propeller.db").exists()
