"""The remote commands in-process (click's CliRunner) against an in-process sandbox: output
formats, registration, inputs, and one-line error messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flytecore.cli.main import main
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from tests.admin.test_grpc import free_port
from tests.cli.remote_project import MODULE, write_project

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart.py"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLYTECORE_HOME", str(home))  # where the workers unpack code archives
        patch.delenv("FLYTECORE_ADMIN", raising=False)
        patch.delenv("FLYTECORE_ADMIN_TOKEN", raising=False)
        box = Sandbox(SandboxConfig(home=home / "sandbox", workers=2, grpc_port=0, http_port=0))
        try:
            servers = box.serve()
            yield f"127.0.0.1:{servers.grpc_port}"
        finally:
            box.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_register_finds_every_entity_and_is_idempotent(admin: str, project: Path) -> None:
    first = cli("register", str(project), "--admin", admin, "-o", "json")
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    rows = {(e["kind"], e["name"]): e["status"] for e in doc["entities"]}
    assert rows[("task", f"{MODULE}.add")] == "registered"
    assert rows[("task", "pkg.tasks.double")] == "registered"  # module named below the root, as pyflyte does
    assert rows[("workflow", f"{MODULE}.add_wf")] == "registered"
    assert rows[("launch plan", f"{MODULE}.add_wf")] == "registered"  # the default one, with its defaults
    assert rows[("launch plan", "add_lp")] == "registered"
    assert {e["version"] for e in doc["entities"]} == {doc["version"]}
    assert [c["root"] for c in doc["code"]] == [str(project.resolve())]
    again = cli("register", str(project), "--admin", admin, "-o", "json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["version"] == doc["version"]  # the same code, the same digest
    assert {e["status"] for e in second["entities"]} == {"already registered"}
    table = cli("register", str(project / f"{MODULE}.py"), "--admin", admin, "--version", "v-table")
    assert table.exit_code == 0, table.output
    assert re.search(r"launch plan\s+│\s+add_lp\s+│\s+v-table\s+│\s+registered", table.stdout)


def test_named_launch_plan_runs_with_its_fixed_and_default_inputs(admin: str, project: Path) -> None:
    result = cli("run", "--remote", "--admin", admin, "-o", "json", str(project / f"{MODULE}.py"), "add_lp")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"] == {"o0": 101}  # a fixed at 1, b defaults to 100


def test_inputs_are_read_like_a_local_run_and_outputs_are_plain_json(admin: str, project: Path) -> None:
    result = cli(
        "run", "--remote", "--admin", admin, str(project / f"{MODULE}.py"), "shift_wf",
        "--p", '{"x": 1.5, "y": 2}', "--by", "[1, 2]", "--when", "2024-05-01T12:30:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"o0": {"2024-05-01T12:30:00+00:00": {"x": 4.5, "y": 2.0}}}
    assert "SUCCEEDED" in result.stderr and "n0" in result.stderr  # progress goes to stderr


def test_options_after_the_workflow_are_options_unless_they_are_inputs(admin: str) -> None:
    result = cli("run", str(QUICKSTART), "wf", "--n", "2", "--remote", "--admin", admin, "-o", "json", "--name", "late1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["name"] == "late1" and doc["outputs"]["total"] == 1


def test_get_tables_show_executions_and_nested_nodes(admin: str) -> None:
    ran = cli("run", "--remote", "--admin", admin, "--name", "tables1", str(QUICKSTART), "wf", "--n", "3")
    assert ran.exit_code == 0, ran.output
    listed = cli("get", "executions", "--admin", admin)
    assert listed.exit_code == 0, listed.output
    assert re.search(r"tables1\s+│\s+quickstart\.wf\s+│\s+SUCCEEDED", listed.stdout)
    shown = cli("get", "execution", "tables1", "--admin", admin)
    assert shown.exit_code == 0, shown.output
    assert '{"message": "sum of squares is 5 (small)", "total": 5}' in shown.stdout
    assert re.search(r"│ n1\s+│ map quickstart\.square\s+│ SUCCEEDED", shown.stdout)
    assert re.search(r"│   n1-0-2\s+│ quickstart\.square\[2\]\s+│ SUCCEEDED", shown.stdout)  # indented child
    assert re.search(r"│   n3-0-n\d+\s+│ quickstart\.describe", shown.stdout)


def test_get_executions_rejects_an_unknown_phase(admin: str) -> None:
    result = cli("get", "executions", "--phase", "DONE", "--admin", admin)
    assert result.exit_code == 2
    assert "'DONE' is not a phase; phases: UNDEFINED, QUEUED, RUNNING" in result.output


def test_unknown_execution_is_one_line_and_exit_1(admin: str) -> None:
    result = cli("get", "execution", "nosuchexecution", "--admin", admin)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: GetExecution failed (NOT_FOUND):")
    assert "nosuchexecution" in result.stderr
    logs = cli("logs", "nosuchexecution", "n0", "--admin", admin)
    assert logs.exit_code == 1 and "NOT_FOUND" in logs.stderr and "nosuchexecution" in logs.stderr


def test_admin_unreachable_is_one_line_and_exit_1() -> None:
    port = free_port()  # nothing listens there
    result = cli("get", "executions", "--admin", f"127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the admin at 127.0.0.1:{port}")
    assert "flytecore sandbox" in result.stderr and result.stderr.count("\n") == 1


def test_bad_input_value_names_the_input_before_anything_is_registered(project: Path) -> None:
    port = free_port()  # no admin needed: the value is checked first
    result = cli("run", "--remote", "--admin", f"127.0.0.1:{port}", str(QUICKSTART), "wf", "--n", "five")
    assert result.exit_code == 1
    assert "input 'n': cannot read 'five' as int" in result.stderr
    unknown = cli("run", "--remote", str(QUICKSTART), "wf", "--m", "5")
    assert unknown.exit_code == 1 and "'quickstart.wf' has no input 'm'; its inputs are: n (int = 5)" in unknown.stderr
    missing = cli("run", "--remote", str(project / f"{MODULE}.py"), "add_wf")
    assert missing.exit_code == 1 and f"'{MODULE}.add_wf': missing input(s) a" in missing.stderr


def test_remote_only_options_need_remote() -> None:
    result = cli("run", str(QUICKSTART), "wf", "--name", "x1")
    assert result.exit_code == 2 and "--name applies to remote runs only; add --remote" in result.output


def test_logs_of_a_node_without_a_task_names_its_children(admin: str) -> None:
    ran = cli("run", "--remote", "--admin", admin, "--name", "branchy", str(QUICKSTART), "wf")
    assert ran.exit_code == 0, ran.output
    result = cli("logs", "branchy", "n3", "--admin", admin)
    assert result.exit_code == 1
    assert re.search(r"node n3 of execution branchy ran no task \(yet\); its nodes: n3-0-n\d+", result.stderr)
    attempt = cli("logs", "branchy", "n0", "--attempt", "3", "--admin", admin)
    assert attempt.exit_code == 1 and "has no attempt 3; its attempts: 0" in attempt.stderr


def test_logs_of_a_map_element_come_from_the_array_nodes_external_resources(admin: str) -> None:
    ran = cli("run", "--remote", "--admin", admin, "--name", "mapped1", str(QUICKSTART), "wf", "--n", "3")
    assert ran.exit_code == 0, ran.output
    result = cli("logs", "mapped1", "n1-0-2", "--admin", admin)
    assert result.exit_code == 0, result.output
    # square() prints nothing: an element that wrote nothing has no log files (they are made
    # for what it wrote), and says so.
    assert "=== stdout of mapped1/n1-0-2, attempt 0 (nothing written, or not yet) ===" in result.stdout
    assert "=== stderr of mapped1/n1-0-2, attempt 0 (nothing written, or not yet) ===" in result.stdout
    again = cli("logs", "mapped1", "n1-0-2", "--attempt", "4", "--admin", admin)
    assert again.exit_code == 1 and "node n1-0-2 of execution mapped1 has no attempt 4; its attempts: 0" in again.stderr
    beyond = cli("logs", "mapped1", "n1-0-7", "--admin", admin)  # only 3 elements
    assert beyond.exit_code == 1 and "NOT_FOUND" in beyond.stderr and "mapped1 node n1-0-7 not found" in beyond.stderr


def test_a_token_is_sent_when_the_admin_requires_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.admin.auth import load_tokens

    tokens = tmp_path / "tokens"
    tokens.write_text("# the sandbox's tokens\ns3cret\n")
    monkeypatch.setenv("FLYTECORE_HOME", str(tmp_path))
    box = Sandbox(
        SandboxConfig(home=tmp_path / "box", workers=1, grpc_port=0, http_port=0, auth_tokens=load_tokens(tokens))
    )
    try:
        address = f"127.0.0.1:{box.serve().grpc_port}"
        refused = cli("get", "executions", "--admin", address)
        assert refused.exit_code == 1
        assert "requires authentication" in refused.stderr and "--token-file" in refused.stderr
        accepted = cli("get", "executions", "--admin", address, "--token-file", str(tokens), "-o", "json")
        assert accepted.exit_code == 0, accepted.output
        assert json.loads(accepted.stdout) == []
        monkeypatch.setenv("FLYTECORE_ADMIN_TOKEN", "wrong")
        wrong = cli("get", "executions", "--admin", address)
        assert wrong.exit_code == 1 and "the token was refused" in wrong.stderr
    finally:
        box.stop()


def test_register_the_examples_folder_as_the_docs_show(admin: str) -> None:
    examples = QUICKSTART.parent
    result = cli("register", str(examples), "--admin", admin, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    names = {(e["kind"], e["name"]) for e in doc["entities"]}
    assert ("launch plan", "quickstart.wf") in names
    # The Flyte docs examples have their own folder as their root (they import each other by file name).
    assert ("workflow", "basics_workflow.simple_wf") in names and ("launch plan", "simple_wf_lp") in names
    assert sorted(c["root"] for c in doc["code"]) == [str(examples), str(examples / "flyte_docs")]
