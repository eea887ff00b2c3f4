"""A Spark task inside a workflow on the sandbox: admin, propeller and real worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import spark_tasks

from flytecore.testing import run_on_sandbox


@pytest.mark.timeout(300)
def test_spark_task_runs_in_a_workflow_on_the_sandbox(tmp_path: Path) -> None:
    # The workers inherit sys.path: they import spark_tasks from this folder.
    assert str(Path(__file__).parent) in sys.path
    run = run_on_sandbox(spark_tasks.spark_sum, home=tmp_path / "home", n=400, timeout=240)
    assert (run.phase, run.error) == ("SUCCEEDED", "")
    assert run.outputs == {"o0": {str(r): sum(i for i in range(400) if i % 3 == r) for r in range(3)}}
