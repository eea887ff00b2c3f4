"""The tools the benchmark compares, where their Python comes from, and running one workload.

Each peer gets its own virtual environment under ``bench/.venvs/<venv>``, created on first use
from the pinned requirements in ``bench/peers/<venv>.txt``. flytecore runs from the Python that
runs the harness (this checkout). A workload is one process: ``python bench/workloads/<script>
--workload W --n N``; its last stdout line is a JSON object with ``seconds`` and ``result``
(protocol: ``bench/workloads/README.md``). The harness samples the resident memory of the whole
process tree while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import psutil

BENCH = Path(__file__).resolve().parents[1]
WORKLOADS_DIR = BENCH / "workloads"
VENVS = BENCH / ".venvs"
PEERS = BENCH / "peers"


@attrs.define(frozen=True)
class Tool:
    """A tool under test.

    :ivar name: its name in the report.
    :ivar script: the workload script in ``bench/workloads``.
    :ivar venv: the peer venv it runs in (``bench/peers/<venv>.txt`` pins it); None: this Python.
    :ivar args: extra arguments to the script.
    :ivar description: one line for the report.
    """

    name: str
    script: str
    venv: str | None = None
    args: tuple[str, ...] = ()
    description: str = ""

    def python(self) -> str:
        if self.venv is None:
            return sys.executable
        return str(VENVS / self.venv / "bin" / "python")


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "flytecore",
            "flytecore_local.py",
            description="flytecore in-process (`python wf.py`), nothing persisted",
        ),
        Tool(
            "flytecore-sandbox",
            "flytecore_sandbox.py",
            description="flytecore sandbox: admin + propeller + worker processes, SQLite + local disk, everything persisted",
        ),
        Tool(
            "flytekit",
            "flytekit_local.py",
            venv="flytekit",
            description="flytekit 1.x in-process local execution",
        ),
        Tool("flyte2", "flyte2_local.py", venv="flyte2", description="Flyte 2 `flyte` SDK, local mode"),
        Tool(
            "flyte2-persist",
            "flyte2_local.py",
            venv="flyte2",
            args=("--persist",),
            description="Flyte 2 `flyte` SDK, local mode with its local persistence on",
        ),
        Tool(
            "prefect", "prefect_local.py", venv="prefect", description="Prefect 3 flows and tasks in-process"
        ),
        Tool("dagster", "dagster_local.py", venv="dagster", description="Dagster job, execute_in_process"),
    )
}


def ensure_venv(name: str, log: Any = print) -> Path:
    """The peer venv ``name``, created and installed from ``bench/peers/<name>.txt`` when missing
    (or when the pins changed since it was installed)."""
    requirements = PEERS / f"{name}.txt"
    venv = VENVS / name
    stamp = venv / ".bench-requirements"
    wanted = requirements.read_text()
    if stamp.exists() and stamp.read_text() == wanted and (venv / "bin" / "python").exists():
        return venv
    log(f"creating the {name} venv from {requirements.relative_to(BENCH.parent)} ...")
    python = os.environ.get("BENCH_PEER_PYTHON", "python3.11")
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return venv


@attrs.define
class Run:
    """One workload run: what the script said and what the harness saw."""

    tool: str
    workload: str
    n: int
    ok: bool
    seconds: float | None = None
    process_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    result: int | None = None
    error: str = ""


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and all its descendants (0 for any that ended meanwhile)."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def skip_reason(last: Run | None, n: int, budget: float) -> str | None:
    """Why size ``n`` is not run, or None to run it: ``last`` (the run of the largest size before
    ``n``, same tool and workload; None for the first size) did not finish (it failed or went over
    the budget), or its time scaled linearly to ``n`` is over ``budget`` seconds.

    The reason is the skipped run's error and starts with ``skipped:``.
    """
    if last is None:
        return None
    if not last.ok:
        return f"skipped: N={last.n} did not finish"
    if last.seconds and last.seconds * n / last.n > budget:
        return f"skipped: predicted over the {budget:.0f} s budget from N={last.n}"
    return None


def run_workload(
    tool: Tool, workload: str, n: int, expected: int, *, budget: float, extra: Sequence[str] = ()
) -> Run:
    """Run ``workload`` at size ``n`` with ``tool`` in a fresh process; a run past ``budget``
    seconds is killed and reported as over budget."""
    argv = [
        tool.python(),
        str(WORKLOADS_DIR / tool.script),
        "--workload",
        workload,
        "--n",
        str(n),
        *tool.args,
        *extra,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with (
        tempfile.TemporaryDirectory(prefix="bench-run-") as cwd,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        env["HOME"] = env.get("BENCH_KEEP_HOME") or cwd  # tools write caches and settings under HOME
        env["FLYTECORE_HOME"] = str(Path(cwd) / "flytecore")
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
        watched = psutil.Process(process.pid)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(watched))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            code = process.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            _kill_tree(watched)
            process.wait()
            code = None
        finally:
            stop.set()
            sampler.join()
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    run = Run(tool.name, workload, n, ok=False, process_seconds=elapsed, peak_rss_mib=peak / 2**20)
    if code is None:
        run.error = f"over the {budget:.0f} s budget"
        return run
    if code != 0:
        run.error = f"exit {code}: " + (stderr.strip().splitlines() or ["(no stderr)"])[-1][:300]
        return run
    try:
        reported = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        run.error = f"no JSON result line on stdout: {stdout[-300:]!r}"
        return run
    run.seconds, run.result = float(reported["seconds"]), reported["result"]
    if run.result != expected:
        run.error = f"wrong result {run.result!r}, expected {expected}"
        return run
    run.ok = True
    return run


def _kill_tree(process: psutil.Process) -> None:
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
