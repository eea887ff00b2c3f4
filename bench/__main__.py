"""``python -m bench``: the same workloads on flytecore (in-process and sandbox) and its peers,
the physical floor, and the further benchmarks, in one invocation; writes a Markdown table, a
JSON file and a PNG chart (docs/benchmarks.md explains the results).

Run from the repository root, in an environment with flytecore installed with its ``bench``
extra (``pip install -e '.[bench]'``). Peers run in their own venvs under ``bench/.venvs``,
created on first use from the pins in ``bench/peers``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import floor as floor_mod
from bench.harness import report
from bench.harness.tools import TOOLS, Run, ensure_venv, run_workload, skip_reason
from bench.workloads.spec import WORKLOADS, expected

ROOT = Path(__file__).resolve().parents[1]


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:  # pragma: no cover - psutil is in the bench extra
        memory = "?"
    return f"{os.cpu_count()} cores ({cpu}), {memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10,100,1000,10000", help="N for every workload (default: %(default)s)"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="tools to run (default: all: %(default)s)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="workloads (default: %(default)s)")
    parser.add_argument(
        "--budget",
        type=float,
        default=300,
        help="seconds one run may take; larger N of a tool+workload past it are skipped (default: %(default)s)",
    )
    parser.add_argument(
        "--further",
        default="compile,big,admin,acceptance",
        help="further benchmarks to run (compile, big, admin, acceptance; '' for none; default: %(default)s)",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="the quick version: N=10,100, no peers' 'big' sizes, small further benchmarks",
    )
    parser.add_argument(
        "--out",
        default=str(ROOT / "bench" / "results" / "latest"),
        help="folder for results.{md,json} and chart.png",
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="run nothing: write results.md and chart.png again from the results.json in --out",
    )
    return parser.parse_args(argv)


def rewrite(out: Path) -> int:
    """The report of an earlier run again, from its results.json (after a change of the report)."""
    import json

    doc = json.loads((out / "results.json").read_text())
    runs = [Run(**r) for r in doc["runs"]]
    sizes = sorted({r.n for r in runs})
    paths = report.write(out, runs, doc["floor"], sizes, doc["meta"], doc.get("further") or {})
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.rewrite:
        return rewrite(Path(args.out))
    sizes = [10, 100] if args.small else sorted(int(s) for s in _csv(args.sizes))
    tools = [TOOLS[name] for name in _csv(args.tools)] if all(n in TOOLS for n in _csv(args.tools)) else None
    if tools is None:
        unknown = [n for n in _csv(args.tools) if n not in TOOLS]
        print(f"error: unknown tool(s) {', '.join(unknown)}; known: {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    workloads = _csv(args.workloads)
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad:
        print(f"error: unknown workload(s) {', '.join(bad)}; known: {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    for venv in dict.fromkeys(t.venv for t in tools if t.venv):
        ensure_venv(venv, log=lambda m: print(m, flush=True))

    print("measuring the floor ...", flush=True)
    floor = floor_mod.measure()
    runs: list[Run] = []
    for tool in tools:
        for workload in workloads:
            previous: Run | None = None
            for n in sizes:
                reason = skip_reason(previous, n, args.budget)
                if reason is not None:
                    runs.append(Run(tool.name, workload, n, ok=False, error=reason))
                    continue
                run = run_workload(tool, workload, n, expected(workload, n), budget=args.budget)
                runs.append(run)
                previous = run
                status = f"{run.seconds:8.3f} s" if run.ok else f"FAILED: {run.error}"
                print(
                    f"{tool.name:<18} {workload:<8} N={n:<7} {status}  peak RSS {run.peak_rss_mib:7.0f} MiB",
                    flush=True,
                )

    further: dict[str, Any] = {}
    if args.further:
        from bench.harness import further as further_mod

        further = further_mod.run(_csv(args.further), small=args.small, log=lambda m: print(m, flush=True))

    command = "python -m bench" + (
        ""
        if argv is None and len(sys.argv) == 1
        else " " + shlex.join(sys.argv[1:] if argv is None else argv)
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    meta = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": command,
        "commit": commit,
        "tools": {t.name: t.description for t in tools},
    }
    paths = report.write(Path(args.out), runs, floor, sizes, meta, further)
    print(paths["markdown"].read_text())
    print("written: " + ", ".join(str(p) for p in paths.values()))
    # A peer that crashes at some size is a finding (it is in the table); a wrong result from any
    # tool, or a flytecore run that did not finish, fails the invocation.
    broken = [
        r
        for r in runs
        if r.error.startswith("wrong result")
        or (r.tool.startswith("flytecore") and not r.ok and not r.error.startswith("skipped"))
    ]
    for r in broken:
        print(f"error: {r.tool} {r.workload} N={r.n}: {r.error}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
