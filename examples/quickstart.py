"""A first flytecore workflow: tasks, a map task, a conditional and named outputs.

Run it locally:      python examples/quickstart.py
Compile it:          flytecore compile examples/quickstart.py:wf -o yaml
Run with inputs:     flytecore run examples/quickstart.py wf --n 5
"""

from __future__ import annotations

import typing

from flytecore import conditional, map_task, task, workflow


@task
def numbers(n: int) -> list[int]:
    """0, 1, ..., n-1."""
    return list(range(n))


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def describe(total: int, big: bool) -> str:
    return f"sum of squares is {total} ({'big' if big else 'small'})"


Summary = typing.NamedTuple("Summary", [("total", int), ("message", str)])


@workflow
def wf(n: int = 5) -> Summary:
    squares = map_task(square)(x=numbers(n=n))
    s = total(xs=squares)
    message = (
        conditional("size")
        .if_(s > 100)
        .then(describe(total=s, big=True))
        .else_()
        .then(describe(total=s, big=False))
    )
    return Summary(total=s, message=message)


if __name__ == "__main__":
    print(wf(n=5))
