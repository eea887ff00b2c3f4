"""Jobs per second through the local backend's worker pool.

Run from the repository root: ``python bench/pool_bench.py`` (``--jobs 5000 --size 2``).

Rows:
- in-process, one at a time: submit, wait, repeat -- the round trip one task pays;
- in-process, all at once: everything submitted, then waited for -- the pool's throughput;
- the same with stdout/stderr files per job, as the engine runs tasks: this adds creating two
  files per job, which costs what the file system asks (~0.2 ms each on ext4, ~10 µs on tmpfs);
  pick the folder with ``--log-dir``;
- subprocess ``true`` and ``python -c pass``: container-style command lines (fork+exec each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flytecore.propeller.backends.local import Job, WorkerPool

# The workers import this file by its name: the script's folder is on the path they copy.
NOOP = f"{Path(__file__).stem}:noop"


def noop(argv: list[str]) -> int:
    """The trivial task: nothing to do, exit code 0."""
    return 0


def one_at_a_time(pool: WorkerPool, jobs: list[Job]) -> None:
    for job in jobs:
        assert pool.submit(job).wait().ok  # type: ignore[union-attr]


def all_at_once(pool: WorkerPool, jobs: list[Job]) -> None:
    handles = [pool.submit(job) for job in jobs]
    assert all(handle.wait().ok for handle in handles)  # type: ignore[union-attr]


def measure(pool: WorkerPool, run: Callable[[WorkerPool, list[Job]], None], jobs: list[Job]) -> float:
    run(pool, jobs[: max(1, len(jobs) // 10)])  # warm: every worker ready, caches filled
    start = time.perf_counter()
    run(pool, jobs)
    return len(jobs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000, help="in-process jobs per row")
    parser.add_argument("--subprocess-jobs", type=int, default=300, help="subprocess jobs per row")
    parser.add_argument("--size", type=int, default=2, help="workers in the pool")
    parser.add_argument(
        "--log-dir", default=None, help="folder for the jobs' log files (default: a temp dir)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(dir=args.log_dir) as tmp,
        WorkerPool(args.size, in_process_commands={"noop": NOOP}) as pool,
    ):
        logs = Path(tmp)

        def jobs(argv: list[str], n: int, files: bool = False) -> list[Job]:
            return [
                Job(
                    f"j{i}",
                    argv,
                    stdout_path=logs / f"{i}.out" if files else None,
                    stderr_path=logs / f"{i}.err" if files else None,
                )
                for i in range(n)
            ]

        rows = [
            ("in-process, one at a time", one_at_a_time, jobs(["noop"], args.jobs)),
            ("in-process, all at once", all_at_once, jobs(["noop"], args.jobs)),
            ("in-process + log files, one at a time", one_at_a_time, jobs(["noop"], args.jobs, files=True)),
            ("in-process + log files, all at once", all_at_once, jobs(["noop"], args.jobs, files=True)),
            ("subprocess `true`, all at once", all_at_once, jobs(["true"], args.subprocess_jobs)),
            (
                "subprocess `python -c pass`, all at once",
                all_at_once,
                jobs([sys.executable, "-c", "pass"], 50),
            ),
        ]
        print(f"worker pool of {args.size}")
        print(f"{'jobs':<44} {'jobs/s':>9} {'ms/job':>8}")
        for name, run, batch in rows:
            rate = measure(pool, run, batch)
            print(f"{name:<44} {rate:>9.0f} {1000 / rate:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
