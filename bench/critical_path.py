"""Where a task of a chain spends its time on the sandbox: the critical path, segment by segment.

Run from the repository root: ``python bench/critical_path.py`` (a chain of 2,000 tasks on a
fresh sandbox; ``--tasks N``, ``--workers K``). A chain runs one task at a time, so its time per
task is one trip around this loop, timed per task (monotonic clock, shared by the processes):

- ``pre-submit``: the propeller's round, from its start until it sends the next task's job (the
  finished task's outputs, its events, the next node's inputs and start);
- ``send``: writing the job to the worker's socket;
- ``dispatch``: from the send until the worker starts the job (waking the worker);
- ``job``: the worker running it (the task entrypoint, in the worker process);
- ``return``: from the worker's answer until the pool thread has read it;
- ``recv->wake``: the pool thread completing the job until the propeller is woken;
- ``wake->round``: from that wake-up until the next round starts;
- ``post-submit``: the rest of the round after the send (its save, the events' encoding), which
  overlaps the job.

One trip is ``pre-submit + send + dispatch + job + return + recv->wake + wake->round`` when the
job is longer than ``post-submit``, else the propeller's round is the limit. Below the segments:
CPU per task of each thread of the sandbox's process and of its child processes (the workers,
the event process), read from /proc.

It times methods by wrapping them (the propeller's round, the pool's send and receive, the
propeller's wake, and in the workers, through a ``sitecustomize`` on their ``PYTHONPATH``, the job
runner): for finding where the time goes, not for the headline numbers (``python -m bench``).
"""

from __future__ import annotations

import argparse
import bisect
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "workloads"))

_WORKER_HOOK = '''
import os, sys, atexit, time
if "backends.local.worker import main" in " ".join(sys.argv) + open("/proc/self/cmdline", "rb").read().decode(errors="replace"):
    from flytecore.propeller.backends.local import worker as _worker
    _spans = []
    _run = _worker.JobRunner.run
    def run(self, message):
        start = time.monotonic()
        try:
            return _run(self, message)
        finally:
            _spans.append((start, time.monotonic()))
    _worker.JobRunner.run = run
    atexit.register(lambda: open(os.path.join({folder!r}, f"worker-{{os.getpid()}}.txt"), "w").write(
        "\\n".join(f"{{a}} {{b}}" for a, b in _spans)))
'''


class Stamps:
    """What the sandbox's process records: rounds and sends (start, end), answers read and
    wake-ups (when)."""

    def __init__(self) -> None:
        self.rounds: list[tuple[float, float]] = []
        self.sends: list[tuple[float, float]] = []
        self.received: list[float] = []
        self.wakes: list[float] = []


class _Timings(Stamps):
    """The propeller process's side: wrap, record, unwrap."""

    def __init__(self) -> None:
        from flytecore.propeller import runner
        from flytecore.propeller.backends.local import pool

        super().__init__()
        self._undo: list[tuple[object, str, object]] = []

        def span(into: list[tuple[float, float]], fn):  # type: ignore[no-untyped-def]
            def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                start = time.monotonic()
                try:
                    return fn(*args, **kwargs)
                finally:
                    into.append((start, time.monotonic()))

            return timed

        def after(into: list[float], fn):  # type: ignore[no-untyped-def]
            def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                result = fn(*args, **kwargs)
                into.append(time.monotonic())
                return result

            return timed

        def before(into: list[float], fn):  # type: ignore[no-untyped-def]
            def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                into.append(time.monotonic())
                return fn(*args, **kwargs)

            return timed

        self._wrap(runner.Propeller, "_round", lambda fn: span(self.rounds, fn))
        self._wrap(pool.WorkerPool, "_send", lambda fn: span(self.sends, fn))
        self._wrap(pool.WorkerPool, "_receive", lambda fn: after(self.received, fn))
        self._wrap(runner.Propeller, "wake", lambda fn: before(self.wakes, fn))

    def _wrap(self, owner: object, name: str, make) -> None:  # type: ignore[no-untyped-def]
        original = getattr(owner, name)
        self._undo.append((owner, name, original))
        setattr(owner, name, make(original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def _cpu_of_threads() -> dict[str, float]:
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), f"thread {tid}")
        found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_of_children() -> dict[str, float]:
    import psutil

    found: dict[str, float] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            times = child.cpu_times()
        except psutil.Error:
            continue
        kind = "event process" if "sandbox_events" in command else "worker" if "local.worker" in command else command[:40]
        found[f"{kind} {child.pid}"] = times.user + times.system
    return found


def _segments(timings: Stamps, jobs: list[tuple[float, float]], skip: int) -> dict[str, list[float]]:
    """Per task (after the first ``skip``, warming up), the segments of the module docstring."""
    rounds = sorted(timings.rounds)
    round_starts = [r[0] for r in rounds]
    job_starts = [j[0] for j in jobs]
    received, wakes = sorted(timings.received), sorted(timings.wakes)

    def first_after(values: list[float], at: float) -> float | None:
        i = bisect.bisect_left(values, at)
        return values[i] if i < len(values) else None

    names = ("pre-submit", "send", "dispatch", "job", "return", "recv->wake", "wake->round", "post-submit", "trip")
    segments: dict[str, list[float]] = {name: [] for name in names}
    previous = None
    for sent, sent_end in sorted(timings.sends)[skip:]:
        i = bisect.bisect_right(round_starts, sent) - 1
        j = bisect.bisect_left(job_starts, sent)
        if i < 0 or j >= len(jobs) or not rounds[i][0] <= sent <= rounds[i][1]:
            continue
        round_start, round_end = rounds[i]
        job_start, job_end = jobs[j]
        got = first_after(received, job_end)
        woken = first_after(wakes, got) if got is not None else None
        next_round = first_after(round_starts, woken) if woken is not None else None
        if next_round is None:
            continue
        assert got is not None and woken is not None
        for name, value in (
            ("pre-submit", sent - round_start), ("send", sent_end - sent), ("dispatch", job_start - sent),
            ("job", job_end - job_start), ("return", got - job_end), ("recv->wake", woken - got),
            ("wake->round", next_round - woken), ("post-submit", round_end - sent_end),
        ):
            segments[name].append(value)
        if previous is not None:
            segments["trip"].append(sent - previous)
        previous = sent
    return segments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="length of the chain (default 2000)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the sandbox's)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="flytecore-critical-path-"))
    hook = folder / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_WORKER_HOOK.format(folder=str(folder)))
    # The workers inherit this process's environment (put back afterwards).
    python_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(hook), *filter(None, [python_path])])
    try:
        return _measure(args, folder)
    finally:
        if python_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = python_path
        shutil.rmtree(folder, ignore_errors=True)


def _measure(args: argparse.Namespace, folder: Path) -> int:

    import flytecore_tasks as tasks

    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
    from flytecore.testing import execute_on, register_on

    timings = _Timings()
    extra = {"workers": args.workers} if args.workers else {}
    try:
        with Sandbox(SandboxConfig(home=folder / "home", http_port=None, grpc_port=0, **extra)) as box:
            if not box.wait_until_delivering():
                raise RuntimeError("the sandbox's event process did not start delivering within a minute")
            warm = tasks.WORKLOADS["chain"](20)
            execute_on(box, warm, register_on(box, warm, version="warm"), name="warm", poll=None, **tasks.inputs("chain", 20))
            chain = tasks.WORKLOADS["chain"](args.tasks)
            launch_plan = register_on(box, chain, version="measured")
            threads, children = _cpu_of_threads(), _cpu_of_children()
            started = time.perf_counter()
            run = execute_on(box, chain, launch_plan, name="measured", timeout=3600, poll=None, **tasks.inputs("chain", args.tasks))
            seconds = time.perf_counter() - started
            threads_after, children_after = _cpu_of_threads(), _cpu_of_children()
            if run.phase != "SUCCEEDED":
                raise RuntimeError(f"the chain ended {run.phase}: {run.error}")
        jobs: list[tuple[float, float]] = []
        for path in folder.glob("worker-*.txt"):
            jobs += [(float(a), float(b)) for a, b in (line.split() for line in path.read_text().splitlines() if line)]
        jobs.sort()
        segments = _segments(timings, jobs, skip=20 + 20)  # the warm-up's tasks, and as many more
    finally:
        timings.restore()

    n = args.tasks
    print(f"chain of {n:,} tasks on the sandbox: {seconds:.2f} s, {seconds / n * 1e3:.3f} ms per task (CreateExecution to outputs read)\n")
    print("| segment | p50 µs | mean µs | p90 µs |")
    print("|---|---|---|---|")
    for name, values in segments.items():
        if values:
            ordered = sorted(values)
            print(f"| {name} | {statistics.median(values) * 1e6:.0f} | {statistics.mean(values) * 1e6:.0f} | {ordered[int(len(ordered) * 0.9)] * 1e6:.0f} |")
    print(f"\n({len(segments['job'])} tasks timed)\n")
    print("| CPU per task | µs |")
    print("|---|---|")
    rows = [(k, threads_after[k] - threads.get(k, 0.0)) for k in threads_after]
    rows += [(k, children_after[k] - children.get(k, 0.0)) for k in children_after]
    total = 0.0
    for name, used in sorted(rows, key=lambda row: -row[1]):
        if used / n * 1e6 >= 5:
            print(f"| {name} | {used / n * 1e6:.0f} |")
            total += used
    print(f"| all | {total / n * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
