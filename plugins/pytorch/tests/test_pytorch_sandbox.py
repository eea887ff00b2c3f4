"""A PyTorch task inside a workflow on the sandbox: admin, propeller and real worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytorch_tasks
from processes import alive

from flytecore.testing import run_on_sandbox


@pytest.mark.timeout(240)
def test_pytorch_task_runs_in_a_workflow_on_the_sandbox(tmp_path: Path) -> None:
    # The workers inherit sys.path: they import pytorch_tasks from this folder.
    assert str(Path(__file__).parent) in sys.path
    run = run_on_sandbox(pytorch_tasks.distributed_sum, home=tmp_path / "home", timeout=180, base=5)
    assert (run.phase, run.error) == ("SUCCEEDED", "")
    output = run.outputs["o0"]
    # Two workers each contributed base + rank + 1; the output is rank 0's view.
    assert (output["rank"], output["world_size"], output["sum"]) == (0, 2, (5 + 1) + (5 + 2))
    assert not alive(output["pid"])  # rank 0's worker ended with its task


@pytest.mark.timeout(240)
def test_a_failing_worker_fails_the_workflow_with_its_message(tmp_path: Path) -> None:
    run = run_on_sandbox(
        pytorch_tasks.failing_worker, home=tmp_path / "home", timeout=180, message="loss is NaN"
    )
    assert run.phase == "FAILED"
    assert "worker rank 1 of 2 failed" in run.error
    assert "ValueError: loss is NaN" in run.error
    assert run.outputs == {}
