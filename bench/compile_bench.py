"""Compile time of generated workflows: a chain and a fan-out of 100 to 100,000 nodes.

Run from the repository root: ``python bench/compile_bench.py`` (add ``--sizes 100,1000`` to
pick sizes). The compiler is linear in nodes + edges, so time per node should stay flat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flytecore.compiler import compile_workflow
from flytecore.plugin import make_plugin_host
from tests.compiler.generated import chain, fan_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000,100000", help="comma-separated node counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the median is shown)")
    args = parser.parse_args()
    host = make_plugin_host(entry_points=False)
    host.compiler_passes  # noqa: B018 - build the pass registry before timing
    print(f"{'shape':<8} {'nodes':>8} {'compile s':>10} {'us/node':>8}")
    for shape, build in (("chain", chain), ("fan-out", fan_out)):
        for n in (int(s) for s in args.sizes.split(",")):
            wf, tasks = build(n)
            runs = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                compile_workflow(wf, tasks=tasks, host=host)
                runs.append(time.perf_counter() - start)
            seconds = statistics.median(runs)
            print(f"{shape:<8} {n:>8} {seconds:>10.3f} {seconds / n * 1e6:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
