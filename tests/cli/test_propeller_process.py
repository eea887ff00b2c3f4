"""The two planes as separate processes: ``flytecore admin serve --workflow-store URL`` hands
executions over through a shared SQLite store to ``flytecore propeller run --store URL``, which
reports back over gRPC."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.admin.test_grpc import free_port
from tests.cli.remote_project import MODULE, flytecore, wait_for, write_project

pytestmark = pytest.mark.slow
QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart.py"


def start(*args: str, home: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flytecore.cli.main", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FLYTECORE_HOME": str(home)},
        )


def stop(process: subprocess.Popen[bytes], log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    text = log.read_text()
    assert code == 0, text
    return text


def test_admin_and_propeller_processes_share_a_workflow_store(tmp_path: Path) -> None:
    home, store = tmp_path / "home", f"sqlite:///{tmp_path / 'workflows.db'}"
    port, http_port = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    admin_log, propeller_log = tmp_path / "admin.log", tmp_path / "propeller.log"
    admin = start(
        "admin", "serve", "--port", str(port), "--http-port", str(http_port), "--workflow-store", store,
        home=home, log=admin_log,
    )  # fmt: skip
    propeller = start(
        "propeller", "run", "--admin", address, "--store", store, "--workers", "2", "--home", str(tmp_path / "prop"),
        home=home, log=propeller_log,
    )  # fmt: skip
    try:
        wait_for(lambda: "HTTP: listening" in admin_log.read_text() or admin.poll() is not None, "the admin to listen")
        wait_for(lambda: "propeller running" in propeller_log.read_text() or propeller.poll() is not None, "the propeller")
        assert admin.poll() is None, admin_log.read_text()
        assert propeller.poll() is None, propeller_log.read_text()
        env = {"FLYTECORE_ADMIN": address}
        proc = flytecore("run", "--remote", "-o", "json", str(QUICKSTART), "wf", "--n", "3", "--name", "split1", env=env)
        assert proc.returncode == 0, proc.stderr + admin_log.read_text() + propeller_log.read_text()
        doc = json.loads(proc.stdout)
        assert doc["phase"] == "SUCCEEDED"
        assert doc["outputs"] == {"message": "sum of squares is 5 (small)", "total": 5}
        # Small task data went over gRPC inline in the events and into the admin's database: no
        # file or folder for the task nodes (n0, n2) in storage.
        execution = home / "storage" / "metadata" / "flytesnacks" / "development" / "executions" / "split1"
        nodes = execution / "nodes"
        assert not (nodes / "n0").exists() and not (nodes / "n2").exists()
        # Nor for the execution's own small inputs: the admin kept them in its database and put
        # them into the workflow store with the object, where the propeller process read them.
        assert sorted(f.name for f in execution.iterdir() if f.is_file()) == ["outputs.pb"]
        # Terminate reaches the propeller through the store (an abort request).
        project = write_project(tmp_path / "project")
        launched = flytecore("run", "--remote", "--no-wait", "--name", "napsplit", str(project / f"{MODULE}.py"), "long_wf", env=env)
        assert launched.returncode == 0, launched.stderr
        wait_for(lambda: "napping" in flytecore("logs", "napsplit", "n0", env=env).stdout, "the task to start")
        assert flytecore("terminate", "napsplit", env=env).returncode == 0

        def phase() -> str | None:
            found = json.loads(flytecore("get", "execution", "napsplit", "-o", "json", env=env).stdout)["phase"]
            return found if found == "ABORTED" else None

        assert wait_for(phase, "the execution to be ABORTED") == "ABORTED"
    finally:
        propeller_text = stop(propeller, propeller_log)
        admin_text = stop(admin, admin_log)
    assert "executions: into the workflow store" in admin_text and "admin stopped" in admin_text
    assert "propeller stopped" in propeller_text
