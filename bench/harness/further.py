"""The further benchmarks: compile time, big fan-outs on the sandbox, admin gRPC throughput and
latency (SQLite and PostgreSQL), acceptance latency.

- ``compile``: generated chain and fan-out workflows of 100 to 100,000 nodes through the
  compiler (``tests/compiler/generated.py``); the time per node should stay flat (linear).
- ``big``: a map task over 10,000 then 100,000 elements and a dynamic fan-out of 1,000 then
  10,000 tasks on the sandbox: wall time and peak RSS of the process tree (the next size is
  skipped when the last one predicts it over the budget).
- ``admin``: ``flytecore admin serve`` (a separate process) with a registered launch plan; 1, 8
  and 32 concurrent gRPC clients (another process) call CreateExecution, then GetExecution, for
  a few seconds each: calls per second, p50 and p99 latency; on SQLite and on a PostgreSQL
  server started for the run (skipped with a reason when its binaries are missing).
- ``acceptance``: a one-task workflow on the sandbox, 20 times: CreateExecution returned to the
  task node's RUNNING (its ``started_at``, recorded from the propeller's event), p50 and p99.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.harness.tools import BENCH, TOOLS, Run, run_workload, skip_reason
from bench.workloads.spec import expected

ROOT = BENCH.parent
# WorkflowExecution.Phase SUCCEEDED, FAILED, ABORTED, TIMED_OUT (flyteidl numbers).
_ENDED = (4, 6, 7, 8)
Log = Callable[[str], None]


def compile_times(sizes: list[int], log: Log) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from flytecore.compiler import compile_workflow
    from flytecore.plugin import make_plugin_host
    from tests.compiler.generated import chain, fan_out

    host = make_plugin_host(entry_points=False)
    host.compiler_passes  # noqa: B018 - build the pass registry before timing
    rows = []
    for shape, build in (("chain", chain), ("fan-out", fan_out)):
        for n in sizes:
            wf, tasks = build(n)
            runs = []
            for _ in range(3 if n <= 10_000 else 1):
                start = time.perf_counter()
                compile_workflow(wf, tasks=tasks, host=host)
                runs.append(time.perf_counter() - start)
            seconds = statistics.median(runs)
            rows.append({"shape": shape, "nodes": n, "seconds": seconds, "us_per_node": seconds / n * 1e6})
            log(f"compile {shape:<8} {n:>7} nodes {seconds:8.3f} s {seconds / n * 1e6:7.1f} us/node")
    return rows


def big_fan_outs(plan: dict[str, list[int]], budget: float, log: Log) -> list[dict[str, Any]]:
    tool = TOOLS["flytecore-sandbox"]
    rows: list[dict[str, Any]] = []
    for workload, sizes in plan.items():
        last: Run | None = None
        for n in sizes:
            reason = skip_reason(last, n, budget)
            if reason is not None:
                rows.append(
                    {"workload": workload, "n": n, "seconds": None, "peak_rss_mib": None, "error": reason}
                )
                continue
            last = run_workload(tool, workload, n, expected(workload, n), budget=budget)
            rows.append(
                {
                    "workload": workload,
                    "n": n,
                    "seconds": last.seconds,
                    "peak_rss_mib": last.peak_rss_mib,
                    "error": last.error,
                }
            )
            log(
                f"big {workload:<8} N={n:<7} {last.seconds if last.ok else last.error} peak RSS {last.peak_rss_mib:.0f} MiB"
            )
    return rows


@contextlib.contextmanager
def _admin_process(db_url: str, home: Path) -> Iterator[str]:
    """``flytecore admin serve`` on a free port; yields its gRPC address."""
    from flytecore.testing.postgres import free_port

    port = free_port()
    log_path = home / "admin.log"
    env = {**os.environ, "FLYTECORE_HOME": str(home)}
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flytecore.cli.main",
                "admin",
                "serve",
                "--db",
                db_url,
                "--storage",
                str(home / "storage"),
                "--port",
                str(port),
                "--http-port",
                "0",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "gRPC: listening" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the admin did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def _register(target: str, home: Path) -> str:
    env = {**os.environ, "FLYTECORE_HOME": str(home)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flytecore.cli.main",
            "register",
            str(ROOT / "examples" / "quickstart.py"),
            "--admin",
            target,
            "-o",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    version = json.loads(done.stdout)["version"]
    return f"flytesnacks/development/quickstart.wf/{version}"


def admin_throughput(concurrency: list[int], seconds: float, log: Log) -> list[dict[str, Any]]:
    from flytecore.testing.postgres import PostgresUnavailable, temporary_postgres

    rows: list[dict[str, Any]] = []

    def measure(db: str, url: str, home: Path) -> None:
        with _admin_process(url, home) as target:
            launch_plan = _register(target, home)
            for rpc in ("create", "get"):
                for c in concurrency:
                    done = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "bench.harness.admin_load",
                            "--target",
                            target,
                            "--rpc",
                            rpc,
                            "--concurrency",
                            str(c),
                            "--seconds",
                            str(seconds),
                            "--launch-plan",
                            launch_plan,
                        ],
                        cwd=ROOT,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = {"db": db, **json.loads(done.stdout.strip().splitlines()[-1])}
                    rows.append(row)
                    log(
                        f"admin {db:<10} {rpc:<6} x{c:<3} {row['per_second']:8.1f}/s p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms errors {row['errors']}"
                    )

    with tempfile.TemporaryDirectory(prefix="bench-admin-") as folder:
        measure("sqlite", f"sqlite:///{folder}/admin.db", Path(folder))
    try:
        with temporary_postgres() as server, tempfile.TemporaryDirectory(prefix="bench-admin-pg-") as folder:
            server.admin_sql("CREATE DATABASE bench")
            measure("postgresql", server.url("bench"), Path(folder))
    except PostgresUnavailable as exc:
        rows.append({"db": "postgresql", "skipped": str(exc).splitlines()[0]})
        log(f"admin postgresql skipped: {exc}")
    return rows


def acceptance(repeats: int, log: Log) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH / "workloads"))
    import flytecore_tasks as tasks
    from flyteidl.admin import execution_pb2, node_execution_pb2
    from flyteidl.core import identifier_pb2

    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
    from flytecore.testing import register_on

    latencies = []
    with tempfile.TemporaryDirectory(prefix="bench-accept-") as folder:
        config = SandboxConfig(home=Path(folder), http_port=None, grpc_port=0)
        with Sandbox(config) as box:
            box.wait_until_delivering()  # fully up, its event process too
            wf = tasks.WORKLOADS["chain"](1)
            lp = register_on(box, wf)
            for i in range(repeats):
                request = execution_pb2.ExecutionCreateRequest(
                    project=lp.project,
                    domain=lp.domain,
                    name=f"accept{i}",
                    spec=execution_pb2.ExecutionSpec(launch_plan=lp),
                )
                start = time.time()
                eid = box.admin.create_execution(request).id
                node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=eid)
                while True:
                    try:
                        closure = box.admin.get_node_execution(
                            node_execution_pb2.NodeExecutionGetRequest(id=node)
                        ).closure
                    except Exception:  # not created yet
                        closure = None
                    if closure is not None and closure.HasField("started_at"):
                        latencies.append((closure.started_at.ToNanoseconds() / 1e9 - start) * 1000)
                        break
                    time.sleep(0.001)
                while box.admin.get_execution(
                    execution_pb2.WorkflowExecutionGetRequest(id=eid)
                ).closure.phase not in (4, 5, 6, 7):
                    time.sleep(0.005)  # let it end before the next one
    result = {
        "repeats": repeats,
        "p50_ms": statistics.median(latencies),
        "p99_ms": sorted(latencies)[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "min_ms": min(latencies),
    }
    log(f"acceptance: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms over {repeats} executions")
    return result


def run(which: list[str], *, small: bool, log: Log, budget: float = 900) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "compile" in which:
        results["compile"] = compile_times([100, 1000] if small else [100, 1000, 10_000, 100_000], log)
    if "big" in which:
        plan = (
            {"map": [1000], "dynamic": [100]}
            if small
            else {"map": [10_000, 100_000], "dynamic": [1000, 10_000]}
        )
        results["big"] = big_fan_outs(plan, budget, log)
    if "admin" in which:
        results["admin"] = admin_throughput([1, 8] if small else [1, 8, 32], 1.0 if small else 5.0, log)
    if "acceptance" in which:
        results["acceptance"] = acceptance(5 if small else 20, log)
    return results


def further_markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "compile" in results:
        lines += [
            "Compile time of generated workflows:",
            "",
            "| shape | nodes | seconds | µs/node |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['shape']} | {r['nodes']:,} | {r['seconds']:.3f} | {r['us_per_node']:.1f} |"
            for r in results["compile"]
        ]
        lines.append("")
    if "big" in results:
        lines += [
            "Big fan-outs on the sandbox:",
            "",
            "| workload | N | seconds | peak RSS MiB | note |",
            "|---|---|---|---|---|",
        ]
        for r in results["big"]:
            seconds = f"{r['seconds']:.1f}" if r["seconds"] else "–"
            rss = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "–"
            lines.append(f"| {r['workload']} | {r['n']:,} | {seconds} | {rss} | {r['error']} |")
        lines.append("")
    if "admin" in results:
        lines += [
            "Admin gRPC throughput and latency (separate admin and client processes):",
            "",
            "| database | RPC | clients | calls/s | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in results["admin"]:
            if "skipped" in r:
                lines.append(f"| {r['db']} | – | – | – | – | – | skipped: {r['skipped']} |")
                continue
            lines.append(
                f"| {r['db']} | {r['rpc']} | {r['concurrency']} | {r['per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
            )
        lines.append("")
    if "acceptance" in results:
        a = results["acceptance"]
        lines += [
            f"Acceptance latency (CreateExecution to the first task RUNNING, sandbox, {a['repeats']} executions): p50 {a['p50_ms']:.1f} ms, p99 {a['p99_ms']:.1f} ms, min {a['min_ms']:.1f} ms.",
            "",
        ]
    return "\n".join(lines)


__all__ = ["acceptance", "admin_throughput", "big_fan_outs", "compile_times", "further_markdown", "run"]
