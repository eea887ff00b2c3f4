"""flytekit end to end on flytecore's sandbox: flytekit's own CLI (``pyflyte register``,
``pyflyte run --remote``) and ``FlyteRemote`` register and run the workflows of
tests/flytekit/workflows, whose tasks run as flytekit's ``pyflyte-fast-execute … pyflyte-execute``
processes in the sandbox's worker pool.

One sandbox per module (admin + propeller + two workers, in this process, on free ports), its
flytekit config written as ``flytecore sandbox --write-flytekit-config`` writes it. The workflows
are copied into a project folder of their own, as a user's project is, so ``pyflyte register``
packages that folder (not this repository) and uploads it through ``CreateUploadLocation`` and
an HTTP PUT to the sandbox. Every task is a flytekit process of a second or two: the module runs
each workflow once or twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flytekit.configuration import Config
from flytekit.exceptions.user import FlyteEntityNotExistException
from flytekit.models.core.execution import WorkflowExecutionPhase
from flytekit.remote import FlyteRemote

from flytecore.cli.sandbox import flytekit_config
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig

from .workflows.shapes import Settings

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "e2e-1"
WORKFLOWS = Path(__file__).parent / "workflows"
BIN = Path(sys.executable).parent
POLL = timedelta(seconds=0.5)


class Env(typing.NamedTuple):
    """The running sandbox as a flytekit user sees it."""

    address: str  # host:port of the admin's gRPC
    config: Path  # flytekit's config file for it
    project_dir: Path  # the user's project: workflows/ (a copy of tests/flytekit/workflows)
    remote: FlyteRemote


def run(argv: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A command of this env's bin folder (``pyflyte``, ``flytecore``) as a user runs it."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200"}
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} (in {cwd}) exited with {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The sandbox, flytekit's config for it, and the workflows registered with ``pyflyte
    register`` (fast registration) as version VERSION."""
    root = tmp_path_factory.mktemp("flytekit-e2e")
    box = Sandbox(SandboxConfig(home=root / "home", grpc_port=0, http_port=0, workers=2))
    try:
        servers = box.serve()
        address = f"127.0.0.1:{servers.grpc_port}"
        config = root / "config.yaml"
        config.write_text(flytekit_config(address))
        project_dir = root / "project"
        shutil.copytree(WORKFLOWS, project_dir / "workflows", ignore=shutil.ignore_patterns("__pycache__"))
        registered = run(["pyflyte", "--config", str(config), "register", "--version", VERSION, "workflows/"], project_dir)
        assert "Successfully registered" in registered.stdout, registered.stdout
        remote = FlyteRemote(Config.auto(config_file=str(config)), default_project=PROJECT, default_domain=DOMAIN)
        yield Env(address, config, project_dir, remote)
    finally:
        box.stop()


def flytecore_json(env: Env, *args: str) -> typing.Any:
    """``flytecore get … -o json`` against the sandbox, parsed."""
    done = run(["flytecore", "get", *args, "-o", "json", "--admin", env.address], env.project_dir)
    return json.loads(done.stdout)


def execute(env: Env, workflow: str, **inputs: typing.Any) -> typing.Any:
    """Launch a registered workflow's launch plan through FlyteRemote and wait for its end."""
    lp = env.remote.fetch_launch_plan(name=f"workflows.shapes.{workflow}", version=VERSION)
    return env.remote.wait(env.remote.execute(lp, inputs=inputs), poll_interval=POLL)


# --- flytekit's CLI -------------------------------------------------------------------------


def test_pyflyte_run_remote_waits_for_the_outputs(sandbox: Env) -> None:
    done = run(
        ["pyflyte", "--config", str(sandbox.config), "run", "--remote", "--wait", "--poll-interval", "1",
         "--name", "cli-chain", "workflows/shapes.py", "chain", "--x", "6"],
        sandbox.project_dir,
    )
    assert "cli-chain has succeeded" in done.stdout, done.stdout

    execution = sandbox.remote.sync_execution(sandbox.remote.fetch_execution(name="cli-chain"), sync_nodes=True)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert execution.outputs["o0"] == 18
    nodes = execution.node_executions
    assert nodes["n0"].outputs["o0"] == 12 and nodes["n1"].inputs == {"a": 12, "b": 6}
    # GetTaskExecution(Data): each node's attempt, with its inputs and outputs and the logs.
    (attempt,) = nodes["n1"].task_executions
    assert attempt.closure.phase == 3  # TaskExecutionPhase.SUCCEEDED
    assert attempt.outputs["o0"] == 18
    assert {log.name for log in attempt.closure.logs} == {"stdout", "stderr"}
    # GetWorkflow with the compiled closure: what FlyteRemote's node lookups stand on.
    workflow = sandbox.remote.fetch_workflow(name="workflows.shapes.chain", version=VERSION)
    assert [n.id for n in workflow.flyte_nodes] == ["n0", "n1"]


def test_pyflyte_run_remote_without_wait_returns_at_once(sandbox: Env) -> None:
    done = run(
        ["pyflyte", "--config", str(sandbox.config), "run", "--remote", "--name", "cli-nowait",
         "workflows/shapes.py", "branch", "--x", "3"],
        sandbox.project_dir,
    )
    assert "cli-nowait" in done.stdout, done.stdout
    execution = sandbox.remote.wait(sandbox.remote.fetch_execution(name="cli-nowait"), poll_interval=POLL)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert execution.outputs["o0"] == "3 is small"


def test_pyflyte_run_reports_a_failed_task_with_its_message(sandbox: Env) -> None:
    done = run(
        ["pyflyte", "--config", str(sandbox.config), "run", "--remote", "--wait", "--poll-interval", "1",
         "--name", "cli-failing", "workflows/shapes.py", "failing", "--x", "2"],
        sandbox.project_dir,
        check=False,
    )
    assert "did not complete successfully, phase FAILED" in done.stdout, done.stdout
    assert "cannot handle x=2" in done.stdout, done.stdout

    execution = sandbox.remote.fetch_execution(name="cli-failing")
    assert execution.closure.phase == WorkflowExecutionPhase.FAILED
    assert "ValueError: cannot handle x=2" in execution.error.message


def test_registering_the_same_version_again_succeeds(sandbox: Env) -> None:
    # Every entity exists already: the admin answers ALREADY_EXISTS, which flytekit takes as done.
    again = run(
        ["pyflyte", "--config", str(sandbox.config), "register", "--version", VERSION, "workflows/"],
        sandbox.project_dir,
    )
    assert "Successfully registered 17 entities" in again.stdout, again.stdout


# --- FlyteRemote ------------------------------------------------------------------------------


def test_flyte_remote_execute_waits_and_reads_the_outputs(sandbox: Env) -> None:
    lp = sandbox.remote.fetch_launch_plan(name="workflows.shapes.chain", version=VERSION)
    # wait=True polls every 30 s (flytekit's default): the one test here that pays it.
    execution = sandbox.remote.execute(lp, inputs={"x": 5}, wait=True)
    assert execution.outputs["o0"] == 15


def test_a_map_task_over_a_dataclass_input(sandbox: Env) -> None:
    execution = execute(sandbox, "mapped", n=3, s=Settings(factor=3, label="sum"))
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.error
    assert execution.outputs["o0"] == "sum: 18"
    array = execution.node_executions["n1"]
    assert array.metadata.is_array
    assert array.outputs["o0"] == [3, 6, 9]


def test_a_conditional_takes_its_case(sandbox: Env) -> None:
    execution = execute(sandbox, "branch", x=12)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.error
    assert execution.outputs["o0"] == "12 is big"
    branch = execution.node_executions["n0"]
    assert branch.metadata.is_parent_node
    assert [n.id.node_id for n in branch.subworkflow_node_executions.values()] == ["n0-0-n1"]


def test_the_admin_answers_not_found_for_what_does_not_exist(sandbox: Env) -> None:
    with pytest.raises(FlyteEntityNotExistException):
        sandbox.remote.fetch_launch_plan(name="workflows.shapes.nosuch", version=VERSION)
    with pytest.raises(FlyteEntityNotExistException):
        sandbox.remote.fetch_execution(name="never-launched")


# --- one kind of execution record -------------------------------------------------------------


def test_flytekit_and_flytecore_executions_are_the_same_record(sandbox: Env) -> None:
    quickstart = Path(__file__).parents[2] / "examples" / "quickstart.py"
    run(
        ["flytecore", "run", "--remote", "--admin", sandbox.address, "--name", "own-cli", str(quickstart), "wf", "--n", "2"],
        sandbox.project_dir,
    )
    run(
        ["pyflyte", "--config", str(sandbox.config), "run", "--remote", "--wait", "--poll-interval", "1",
         "--name", "kit-map", "workflows/shapes.py", "mapped", "--n", "2"],
        sandbox.project_dir,
    )

    listed = {e["name"]: e for e in flytecore_json(sandbox, "executions", "--limit", "100")}
    assert listed["own-cli"]["phase"] == listed["kit-map"]["phase"] == "SUCCEEDED"
    ours, theirs = flytecore_json(sandbox, "execution", "own-cli"), flytecore_json(sandbox, "execution", "kit-map")
    assert set(ours) == set(theirs)
    assert theirs["outputs"] == {"o0": "total: 6"}
    # The same node table: flytekit's map task shows its elements nested, as flytecore's does.
    by_id = {n["id"]: n for n in theirs["nodes"]}
    assert [c["id"] for c in by_id["n1"]["children"]] == ["n1-0-0", "n1-0-1"]
    assert set(by_id["n1"]) == set(ours["nodes"][0])
