"""A Dask task inside a workflow on the sandbox: admin, propeller and real worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import dask_tasks
import pytest

from flytecore.testing import run_on_sandbox


@pytest.mark.timeout(180)
def test_dask_task_runs_in_a_workflow_on_the_sandbox(tmp_path: Path) -> None:
    # The workers inherit sys.path: they import dask_tasks from this folder.
    assert str(Path(__file__).parent) in sys.path
    run = run_on_sandbox(dask_tasks.dask_sum, home=tmp_path / "home", n=400)
    assert (run.phase, run.error) == ("SUCCEEDED", "")
    assert run.outputs == {"o0": sum(range(400))}


@pytest.mark.timeout(180)
def test_the_workflows_default_input_is_used(tmp_path: Path) -> None:
    run = run_on_sandbox(dask_tasks.dask_sum, home=tmp_path / "home")
    assert run.outputs == {"o0": sum(range(100))}
