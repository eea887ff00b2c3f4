"""A Ray task inside a workflow on the sandbox: admin, propeller and real worker processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import ray_tasks

from flytecore.testing import run_on_sandbox


def _ray_daemons_of_this_environment() -> list[str]:
    """Command lines of running GCS servers and raylets from this environment's Ray."""
    binaries = os.path.join(os.path.dirname(ray_tasks.ray.__file__), "core", "src", "ray")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(binaries):
            found.append(cmdline[:200])
    return found


@pytest.mark.timeout(240)
def test_ray_task_runs_in_a_workflow_on_the_sandbox(tmp_path: Path) -> None:
    # The workers inherit sys.path: they import ray_tasks from this folder.
    assert str(Path(__file__).parent) in sys.path
    assert _ray_daemons_of_this_environment() == []  # nothing running before: the check below means something
    run = run_on_sandbox(ray_tasks.ray_sum, home=tmp_path / "home", n=12, timeout=180)
    assert (run.phase, run.error) == ("SUCCEEDED", "")
    assert run.outputs == {"o0": sum(i * i for i in range(12))}
    # The worker process shut its Ray instance down after the task (its processes take a moment).
    deadline = time.monotonic() + 30
    while (left := _ray_daemons_of_this_environment()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []
