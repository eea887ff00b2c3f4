"""A small user project for the remote command line tests, and ways to serve an admin for them.

``write_project(folder)`` writes the project's files; the tests register and run them against
either an in-process sandbox (:func:`in_process_sandbox`) or a ``flytecore sandbox`` subprocess
(:func:`sandbox_process`).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.admin.test_grpc import free_port

MODULE = "cli_remote_wfs"

WORKFLOWS = '''
import dataclasses
import datetime
import sys
import time

from flytecore import LaunchPlan, task, workflow


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def add_wf(a: int, b: int = 10) -> int:
    return add(a=a, b=b)


add_lp = LaunchPlan.create("add_lp", add_wf, default_inputs={"b": 100}, fixed_inputs={"a": 1})


@task
def chatty(x: int) -> int:
    print(f"hello from stdout {x}")
    print(f"hello from stderr {x}", file=sys.stderr)
    return x


@workflow
def chatty_wf(x: int = 7) -> int:
    return chatty(x=x)


@task
def nap(seconds: int) -> int:
    print(f"napping {seconds}s", flush=True)
    time.sleep(seconds)
    return seconds


@workflow
def long_wf(seconds: int = 600) -> int:
    return nap(seconds=seconds)


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@workflow
def failing(x: int = 3) -> int:
    return boom(x=x)


@dataclasses.dataclass
class Point:
    x: float
    y: float


@task
def shift(p: Point, by: list[int], when: datetime.datetime) -> dict[str, Point]:
    return {when.isoformat(): Point(x=p.x + sum(by), y=p.y)}


@workflow
def shift_wf(p: Point, by: list[int], when: datetime.datetime) -> dict[str, Point]:
    return shift(p=p, by=by, when=when)
'''

PACKAGE_TASKS = '''
from flytecore import task


@task
def double(x: int) -> int:
    return 2 * x
'''


def write_project(folder: Path) -> Path:
    """The project's files in ``folder``: ``cli_remote_wfs.py`` and a package ``pkg``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(WORKFLOWS))
    (folder / "pkg").mkdir(exist_ok=True)
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "tasks.py").write_text(textwrap.dedent(PACKAGE_TASKS))
    return folder


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120.0) -> object:
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class SandboxProcess:
    """A ``flytecore sandbox`` subprocess and what it printed."""

    process: subprocess.Popen[str]
    address: str
    http_port: int
    home: Path
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _pump(stream: object, sink: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line.rstrip("\n"))
    sink.put(None)


@contextmanager
def sandbox_process(home: Path, *extra: str, workers: int = 2) -> Iterator[SandboxProcess]:
    """Start ``flytecore sandbox`` on free ports with ``home``; yields once it printed that it is
    ready; SIGTERM at the end (the caller may have stopped it already)."""
    port, http_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "flytecore.cli.main", "sandbox", "--home", str(home), "--port", str(port),
        "--http-port", str(http_port), "--workers", str(workers), *extra,
    ]  # fmt: skip
    env = {**os.environ, "FLYTECORE_HOME": str(home)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True).start()  # type: ignore[arg-type]
    served = SandboxProcess(process, f"127.0.0.1:{port}", http_port, home, errors=errors)
    try:
        deadline = time.monotonic() + 120
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if line is None:
                process.wait(10)
                raise AssertionError(f"sandbox exited with {process.returncode}: {''.join(errors)}")
            served.lines.append(line)
            if "sandbox ready" in line:
                break
        threading.Thread(target=lambda: _drain(lines, served.lines), daemon=True).start()
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _drain(lines: queue.Queue[str | None], into: list[str]) -> None:
    while (line := lines.get()) is not None:
        into.append(line)


def flytecore(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``flytecore`` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "flytecore.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
