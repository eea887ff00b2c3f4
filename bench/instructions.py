"""Instructions per chain task on the sandbox, per process, counted by callgrind: a measure that
does not move with the machine.

Run from the repository root: ``python bench/instructions.py`` (chains of 30 and 130 tasks on a
fresh sandbox each, every process of it under ``valgrind --tool=callgrind``; about ten minutes).
Each process's instructions in the shorter chain are taken from those in the longer one and
divided by the difference in tasks, so start-up, registration of a warm-up and shut-down cancel
out, and what is left is what one more task costs: in the sandbox's process (the admin, the
propeller, the pool's threads, the client's polls), in the worker, in the event process.

``--tree PATH`` measures the ``flytecore`` package of another checkout (its ``core/``, e.g. a
``git worktree`` of the commit before a change) with the same script and tasks, so that a change
is measured against its parent in the same way; ``--tasks A,B`` picks the two chain lengths.

What it does not count: time in the kernel and waiting (a syscall is a few instructions here).
Work done by the clock rather than by tasks is counted by how long each run took: the client
polls every 5 s (at 1% of the elapsed time, as the benchmarks poll, the longer run made ~250
polls more, which moved the sandbox process's figure by up to a quarter), and the idle passes and a
worker's log publishing (every 0.25 s) move the figures by a few percent between runs of the
same code. Under callgrind a task takes ~0.2 s, so the event process delivers after nearly
every task instead of in batches, and its figure moves most (±15%): it is an upper bound of what
it does per task in a real run. Needs valgrind (``apt-get install valgrind``); on kernels that
refuse ``pidfd_open`` under it the pool polls its workers instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHAIN = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, {workloads!r})
import flytecore_tasks as tasks
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.testing import execute_on, register_on

n = int(sys.argv[1])
home = Path(tempfile.mkdtemp(prefix="flytecore-instructions-")) / "home"
with Sandbox(SandboxConfig(home=home, http_port=None, grpc_port=0, workers=1)) as box:
    # Under valgrind the event process takes minutes to import what it needs.
    if not box.wait_until_delivering(3600):
        raise SystemExit("the event process did not start delivering")
    warm = tasks.WORKLOADS["chain"](20)
    execute_on(box, warm, register_on(box, warm, version="warm"), name="warm", poll=None, **tasks.inputs("chain", 20))
    chain = tasks.WORKLOADS["chain"](n)
    # Polled every 5 s: each poll is counted, and how many there are depends on the time the run
    # takes (at every 1% of it, the longer run would poll some 250 times more).
    run = execute_on(box, chain, register_on(box, chain, version="measured"), name="measured", timeout=36000,
                     poll=5, **tasks.inputs("chain", n))
    if run.phase != "SUCCEEDED":
        raise SystemExit(f"the chain ended {{run.phase}}")
"""

# The process a callgrind file is from, by its command line.
_KINDS = (("sandbox_events import main", "event process"), ("worker import main", "worker"))


def kind_of(command: str) -> str:
    """Which of the sandbox's processes ran ``command``."""
    return next((kind for marker, kind in _KINDS if marker in command), "sandbox process")


def totals(folder: Path) -> dict[str, int]:
    """Instructions by kind of process, from the callgrind files in ``folder``."""
    found: dict[str, int] = {}
    for path in sorted(folder.glob("callgrind.*")):
        text = path.read_text(errors="replace")
        command = re.search(r"^cmd: (.*)$", text, re.M)
        total = re.search(r"^totals: (\d+)$", text, re.M) or re.search(r"^summary: (\d+)$", text, re.M)
        if command is None or total is None:
            raise ValueError(f"{path} is not a complete callgrind file (did its process end?)")
        kind = kind_of(command.group(1))
        found[kind] = found.get(kind, 0) + int(total.group(1))
    if not found:
        raise ValueError(f"no callgrind files in {folder}")
    return found


def per_task(short: dict[str, int], long: dict[str, int], tasks: int) -> dict[str, float]:
    """What each kind of process did per task more in the longer run (``tasks`` more tasks)."""
    kinds = sorted(set(short) | set(long))
    return {kind: (long.get(kind, 0) - short.get(kind, 0)) / tasks for kind in kinds}


def _run(tree: Path, tasks: int, folder: Path, script: Path) -> None:
    folder.mkdir(parents=True)
    package = folder.parent / "path"
    if not package.exists():
        package.mkdir()
        (package / "flytecore").symlink_to(tree / "core")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), *filter(None, [os.environ.get("PYTHONPATH")])])}
    # Compiled once beforehand, so that neither run pays for compiling the modules it imports.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "core"), str(HERE / "workloads")],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    command = [
        "valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={folder}/callgrind.%p",
        sys.executable, str(script), str(tasks),
    ]
    done = subprocess.run(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the chain of {tasks} under callgrind failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="30,130", help="the two chain lengths (default 30,130)")
    parser.add_argument("--tree", type=Path, default=HERE.parent, help="the checkout whose core/ to measure")
    args = parser.parse_args(argv)
    short, long = sorted(int(n) for n in args.tasks.split(","))
    if short == long:
        parser.error("--tasks needs two different lengths")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    work = Path(tempfile.mkdtemp(prefix="flytecore-instructions-"))
    try:
        script = work / "chain.py"
        script.write_text(_CHAIN.format(workloads=str(HERE / "workloads")))
        for n in (short, long):
            _run(args.tree.resolve(), n, work / str(n), script)
        figures = per_task(totals(work / str(short)), totals(work / str(long)), long - short)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"instructions per chain task (callgrind; chains of {short} and {long}; {args.tree.resolve()})\n")
    print("| process | instructions per task |")
    print("|---|---|")
    for kind, value in figures.items():
        print(f"| {kind} | {value:,.0f} |")
    print(f"| all | {sum(figures.values()):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
