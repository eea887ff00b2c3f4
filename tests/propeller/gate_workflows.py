"""Workflows with gates for the signal tests: a typed input feeding a task, an approval of a
task's output, and an input gate with a short timeout."""

from __future__ import annotations

from datetime import timedelta

from flytecore import approve, task, wait_for_input, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def describe(x: int) -> str:
    return f"approved {x}"


@workflow
def asks_for_n() -> int:
    n = wait_for_input("n", timeout=timedelta(hours=1), expected_type=int)
    return square(x=n)


@workflow
def needs_approval(x: int = 3) -> str:
    y = square(x=x)
    return describe(x=approve(y, "ok", timeout=timedelta(hours=1)))


@workflow
def impatient() -> int:
    n = wait_for_input("late", timeout=timedelta(seconds=1), expected_type=int)
    return square(x=n)
