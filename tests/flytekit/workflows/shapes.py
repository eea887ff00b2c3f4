"""Workflows a Flyte user writes with flytekit, run on flytecore's sandbox by flytekit's own CLI
and FlyteRemote (tests/flytekit/test_end_to_end.py). Kept small: every task is a
``pyflyte-execute`` process."""

from __future__ import annotations

from dataclasses import dataclass

from flytekit import conditional, map_task, task, workflow


@dataclass
class Settings:
    """A dataclass input: flytekit sends it as a msgpack binary literal."""

    factor: int = 2
    label: str = "total"


@task
def double(x: int) -> int:
    return x * 2


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def chain(x: int = 3) -> int:
    """Several tasks, one feeding the next: x*2 + x."""
    return add(a=double(x=x), b=x)


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def summarize(values: list[int], s: Settings) -> str:
    return f"{s.label}: {sum(values)}"


@task
def numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@workflow
def mapped(n: int = 3, s: Settings = Settings()) -> str:
    """A dataclass input and a map task with a bound input: sum of factor*i for i in 1..n."""
    scaled = map_task(scale, concurrency=2, bound_inputs={"factor"})(x=numbers(n=n), factor=s.factor)
    return summarize(values=scaled, s=s)


@task
def small(x: int) -> str:
    return f"{x} is small"


@task
def big(x: int) -> str:
    return f"{x} is big"


@workflow
def branch(x: int) -> str:
    """A conditional on a workflow input."""
    return conditional("size").if_(x < 10).then(small(x=x)).else_().then(big(x=x))


@task
def explode(x: int) -> int:
    if x > 0:
        raise ValueError(f"cannot handle x={x}")
    return x


@workflow
def failing(x: int = 1) -> int:
    """A task that raises: the execution fails with the task's error message."""
    return explode(x=x)
