"""Workflows for the sandbox tests: crashes, logs, child executions, long tasks."""

from __future__ import annotations

import os
import sys
import time

from flytecore import LaunchPlan, task, workflow


@task
def crash_once(marker: str, x: int) -> int:
    """Kills its worker process the first time (as a segfault or the OOM killer would)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return x * 10


@workflow
def crashy(marker: str, x: int = 4) -> int:
    return crash_once(marker=marker, x=x)


@task
def chatty(x: int) -> int:
    print(f"hello from stdout {x}")
    print(f"hello from stderr {x}", file=sys.stderr)
    os.write(1, b"raw fd write\n")
    return x


@workflow
def talk(x: int = 7) -> int:
    return chatty(x=x)


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def child(x: int) -> int:
    return double(x=x)


child_lp = LaunchPlan.get_or_create(child, name="child_lp", default_inputs={"x": 1})


@workflow
def parent(x: int = 5) -> int:
    return double(x=child_lp(x=x))


@task
def nap(seconds: float, marker: str) -> int:
    open(marker, "w").close()
    time.sleep(seconds)
    return 1


@workflow
def sleepy(marker: str, seconds: float = 60.0) -> int:
    return nap(seconds=seconds, marker=marker)


@task
def shout(text: str) -> str:
    return text.upper()


@workflow
def shouting(text: str = "hi") -> str:
    """Inputs and outputs as small or as large as ``text``: in memory or through storage."""
    return shout(text=shout(text=text))


@workflow
def doubling(x: int = 1) -> int:
    """A chain of 30 tasks."""
    for _ in range(30):
        x = double(x=x)
    return x
