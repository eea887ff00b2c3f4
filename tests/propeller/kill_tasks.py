"""Tasks for the kill-and-recover test: each run appends a line to the marker file it is given,
so the test can count how often every task ran."""

from __future__ import annotations

import time

from flytecore import task, workflow


@task
def step(x: int, marker: str) -> int:
    with open(marker, "a") as f:
        f.write(f"start {x}\n")
    time.sleep(0.4)
    with open(marker, "a") as f:
        f.write(f"done {x}\n")
    return x + 1


@workflow
def chain(marker: str, x: int = 0) -> int:
    a = step(x=x, marker=marker)
    b = step(x=a, marker=marker)
    c = step(x=b, marker=marker)
    d = step(x=c, marker=marker)
    e = step(x=d, marker=marker)
    return step(x=e, marker=marker)
