"""flytecore in-process (``python wf.py``): the workflow runs in this process, every value
through the type engine, nothing persisted. Protocol: see README.md here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flytecore_tasks as tasks
from spec import run_protocol


def run_one(workload: str, n: int, _: None) -> int:
    wf = tasks.WORKLOADS[workload](n)
    return wf(**tasks.inputs(workload, n))


def main() -> int:
    return run_protocol("flytecore", run_one, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
