"""The benchmark's workloads in flytecore: the same tasks and shapes every peer runs (see
README.md here). Imported by the sandbox's worker processes, so tasks live at module level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import spec

from flytecore import dynamic, map_task, task, workflow


@dataclass
class Payload:
    name: str
    values: list[int]
    weights: dict[str, int]


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@dynamic
def fan_out(n: int) -> list[int]:
    return [inc(x=i) for i in range(n)]  # type: ignore[misc]


@task
def make(n: int) -> Payload:
    return Payload("p", list(range(n)), {str(i): i for i in range(n)})


@task
def double(p: Payload) -> Payload:
    return Payload(p.name, [v * 2 for v in p.values], {k: v * 2 for k, v in p.weights.items()})


@task
def summarize(p: Payload) -> int:
    return sum(p.values) + sum(p.weights.values())


def _named(fn: Any, name: str) -> Any:
    fn.__name__ = fn.__qualname__ = name
    return workflow(fn)


def chain(n: int) -> Any:
    """x = 0, then n sequential inc tasks (n nodes, built when the workflow is defined)."""

    def wf() -> int:
        x = inc(x=0)
        for _ in range(n - 1):
            x = inc(x=x)
        return x

    return _named(wf, f"chain_{n}")


def map_(n: int) -> Any:
    """inc mapped over list(range(n)) (one array node), then total."""

    def wf(xs: list[int]) -> int:
        return total(xs=map_task(inc)(x=xs))

    return _named(wf, f"map_{n}")


def dynamic_(n: int) -> Any:
    """A dynamic task that calls inc n times (n decided at run time), then total."""

    def wf(n: int) -> int:
        return total(xs=fan_out(n=n))

    return _named(wf, f"dynamic_{n}")


def data(n: int) -> Any:
    """A dataclass with a list and a dict of n elements through three tasks."""

    def wf(n: int) -> int:
        return summarize(p=double(p=make(n=n)))

    return _named(wf, f"data_{n}")


WORKLOADS = {"chain": chain, "map": map_, "dynamic": dynamic_, "data": data}
assert tuple(WORKLOADS) == spec.WORKLOADS


def inputs(workload: str, n: int) -> dict[str, Any]:
    """The workflow's inputs for ``workload`` of size ``n``."""
    if workload == "chain":
        return {}
    if workload == "map":
        return {"xs": list(range(n))}
    return {"n": n}
