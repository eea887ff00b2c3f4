"""flytecore through the sandbox: admin (SQLite database, storage on local disk), propeller
(SQLite workflow store) and warm worker processes, everything persisted, as ``flytecore
sandbox`` runs them. The sandbox starts before the clock (like a peer's imports); the clock
covers registering the workflow and its tasks, CreateExecution, running to the end and reading
the outputs. Protocol: see README.md here. Acceptance latency is measured separately
(``bench/harness/further.py``)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flytecore_tasks as tasks

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.testing import execute_on, register_on


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", required=True, choices=sorted(tasks.WORKLOADS))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the sandbox's)")
    parser.add_argument("--home", default=None, help="the sandbox's folder (default: a new temp folder)")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="flytecore-bench-"))
    config = SandboxConfig(home=home, http_port=None, grpc_port=0)
    if args.workers:
        config = SandboxConfig(home=home, http_port=None, grpc_port=0, workers=args.workers)
    with Sandbox(config) as box:
        start = time.perf_counter()
        wf = tasks.WORKLOADS[args.workload](args.n)
        launch_plan = register_on(box, wf)
        run = execute_on(
            box, wf, launch_plan, name="bench", timeout=3600, poll=None, **tasks.inputs(args.workload, args.n)
        )
        seconds = time.perf_counter() - start
    if run.phase != "SUCCEEDED":
        print(f"flytecore-sandbox {args.workload} {args.n}: {run.phase}: {run.error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"tool": "flytecore-sandbox", "workload": args.workload, "n": args.n, "seconds": seconds, "result": run.outputs["o0"]}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
