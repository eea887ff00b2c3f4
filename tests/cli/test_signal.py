"""``flytecore signal list`` and ``flytecore signal set`` against a served sandbox (real gRPC on
free ports): the waiting execution gets its value from the command line and finishes with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flyteidl.admin import execution_pb2

from flytecore.cli.main import main
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.spec.phases import WorkflowExecutionPhase
from tests.propeller import gate_workflows
from tests.propeller.test_sandbox_signals import execution, finished, launch, waiting_at


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    box = Sandbox(SandboxConfig(home=tmp_path / "home", workers=1, grpc_port=0, http_port=None))
    try:
        servers = box.serve()
        yield box, f"127.0.0.1:{servers.grpc_port}"
    finally:
        box.stop()


def flytecore(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_signal_list_and_set_drive_a_waiting_execution(served: tuple[Sandbox, str]) -> None:
    box, address = served
    eid = launch(box, gate_workflows.asks_for_n, "cli1")
    waiting_at(box, eid, "n0", "n")

    code, out = flytecore("signal", "list", "cli1", "--admin", address, "-o", "json")
    assert code == 0, out
    assert json.loads(out) == [{"signal_id": "n", "type": "int", "set": False, "value": None}]

    code, out = flytecore("signal", "set", "cli1", "n", "not-a-number", "--admin", address)
    assert code == 1 and "signal 'n' expects int: cannot read 'not-a-number'" in out
    code, out = flytecore("signal", "set", "cli1", "other", "1", "--admin", address)
    assert code == 1 and "execution cli1 has no signal 'other' (yet)" in out and "its signals: 'n'" in out
    assert execution(box, eid).closure.phase == WorkflowExecutionPhase.RUNNING  # refusals changed nothing

    code, out = flytecore("signal", "set", "cli1", "n", "-6", "--admin", address)
    assert code == 0, out
    assert "signal 'n' of execution cli1 set to -6" in out
    done = finished(box, eid)
    assert done.closure.phase == WorkflowExecutionPhase.SUCCEEDED, done.closure.error.message
    data = box.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 36

    code, out = flytecore("signal", "list", "cli1", "--admin", address)
    assert code == 0, out
    assert "n" in out and "int" in out and "-6" in out and "(waiting)" not in out


def test_signal_list_of_an_unknown_execution_names_it(served: tuple[Sandbox, str]) -> None:
    _box, address = served
    code, out = flytecore("signal", "list", "ghost", "--admin", address)
    assert code == 1
    assert "execution flytesnacks/development/ghost not found" in out
