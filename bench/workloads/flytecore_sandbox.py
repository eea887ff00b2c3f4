"""flytecore through the sandbox: admin (SQLite database, storage on local disk), propeller
(SQLite workflow store) and warm worker processes, everything persisted, as ``flytecore
sandbox`` runs them. The sandbox starts before the clock (like a peer's imports); the clock
covers registering the workflow and its tasks, CreateExecution, running to the end and reading
the outputs. Protocol: see README.md here. Acceptance latency is measured separately
(``bench/harness/further.py``)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flytecore_tasks as tasks
from spec import run_protocol

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.testing import execute_on, register_on


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the sandbox's)")
    parser.add_argument("--home", default=None, help="the sandbox's folder (default: a new temp folder)")


@contextlib.contextmanager
def set_up(args: argparse.Namespace) -> Iterator[Sandbox]:
    """The sandbox, running; the folder it made for itself (no ``--home``) is removed at the end
    (a 100,000-element map leaves ~2 GiB of documents and logs)."""
    home = Path(args.home or tempfile.mkdtemp(prefix="flytecore-bench-"))
    config = SandboxConfig(home=home, http_port=None, grpc_port=0)
    if args.workers:
        config = SandboxConfig(home=home, http_port=None, grpc_port=0, workers=args.workers)
    try:
        with Sandbox(config) as box:
            # Fully up before the clock: its event process too (it imports the admin first).
            if not box.wait_until_delivering():
                raise RuntimeError("the sandbox's event process did not start delivering within a minute")
            yield box
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)


def run_one(workload: str, n: int, box: Sandbox) -> int:
    wf = tasks.WORKLOADS[workload](n)
    launch_plan = register_on(box, wf)
    run = execute_on(box, wf, launch_plan, name="bench", timeout=3600, poll=None, **tasks.inputs(workload, n))
    if run.phase != "SUCCEEDED":
        raise RuntimeError(f"{run.phase}: {run.error}")
    return run.outputs["o0"]


def main() -> int:
    return run_protocol("flytecore-sandbox", run_one, set_up=set_up, options=options, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
