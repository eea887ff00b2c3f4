"""flytecore in-process (``python wf.py``): the workflow runs in this process, every value
through the type engine, nothing persisted. Protocol: see README.md here."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flytecore_tasks as tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", required=True, choices=sorted(tasks.WORKLOADS))
    parser.add_argument("--n", type=int, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    wf = tasks.WORKLOADS[args.workload](args.n)
    result = wf(**tasks.inputs(args.workload, args.n))
    seconds = time.perf_counter() - start
    print(json.dumps({"tool": "flytecore", "workload": args.workload, "n": args.n, "seconds": seconds, "result": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
