"""Workflows for the sandbox's fan-out tests: a dynamic fan-out and a nested dynamic."""

from __future__ import annotations

from flytecore import dynamic, task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def add_all(xs: list[int]) -> int:
    return sum(xs)


@dynamic
def fan_out(n: int) -> int:
    return add_all(xs=[square(x=i) for i in range(n)])


@workflow
def dynamic_wf(n: int = 3) -> int:
    return fan_out(n=n)
