"""Dagster in-process: each workload is a graph of ops turned into a job and run with
``execute_in_process`` (in-process executor, in-memory IO manager) on an ephemeral
``DagsterInstance`` (in-memory run/event storage, no DAGSTER_HOME). The instance is made
before the clock. Protocol: see README.md here. Stdlib + dagster only."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from spec import run_protocol

warnings.filterwarnings("ignore")  # the same quieting for every tool: warnings off, logs at ERROR
os.environ.pop("DAGSTER_HOME", None)  # nothing global: the instance is ephemeral
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from dagster import (  # noqa: E402
    DagsterInstance,
    DynamicOut,
    DynamicOutput,
    GraphDefinition,
    graph,
    op,
)

logging.getLogger("dagster").setLevel(logging.ERROR)

# The console logger of every run (it logs each op's events at DEBUG by default).
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class Payload:
    name: str
    values: list[int]
    weights: dict[str, int]


@op
def inc(x: int) -> int:
    return x + 1


@op
def total(xs: list[int]) -> int:
    return sum(xs)


@op(out=DynamicOut(int))
def fan_list(xs: list[int]):
    for i, x in enumerate(xs):
        yield DynamicOutput(x, mapping_key=str(i))


@op(out=DynamicOut(int))
def fan_range(n: int):
    """The dynamic part: the number of outputs (and so of mapped inc ops) is its run-time input."""
    for i in range(n):
        yield DynamicOutput(i, mapping_key=str(i))


@op
def make(n: int) -> Payload:
    return Payload("p", list(range(n)), {str(i): i for i in range(n)})


@op
def double(p: Payload) -> Payload:
    return Payload(p.name, [v * 2 for v in p.values], {k: v * 2 for k, v in p.weights.items()})


@op
def summarize(p: Payload) -> int:
    return sum(p.values) + sum(p.weights.values())


def chain(n: int) -> tuple[GraphDefinition, dict[str, Any]]:
    """n invocations of inc wired in sequence (Dagster aliases them inc, inc_2, ...)."""

    def body(x: int) -> int:
        for _ in range(n):
            x = inc(x)
        return x

    body.__name__ = f"chain_{n}"
    return graph(body), {"x": 0}


@graph
def map_(xs: list[int]) -> int:
    return total(fan_list(xs).map(inc).collect())


@graph
def dynamic(n: int) -> int:
    return total(fan_range(n).map(inc).collect())


@graph
def data(n: int) -> int:
    return summarize(double(make(n)))


def build(workload: str, n: int) -> tuple[GraphDefinition, dict[str, Any]]:
    if workload == "chain":
        return chain(n)
    if workload == "map":
        return map_, {"xs": list(range(n))}
    return {"dynamic": dynamic, "data": data}[workload], {"n": n}


def run_one(workload: str, n: int, instance: DagsterInstance) -> int:
    g, inputs = build(workload, n)
    job = g.to_job(name=f"{workload}_{n}")
    res = job.execute_in_process(run_config=QUIET, instance=instance, input_values=inputs)
    if not res.success:
        raise RuntimeError("run did not succeed")
    return res.output_value()


def main() -> int:
    return run_protocol("dagster", run_one, set_up=lambda _: DagsterInstance.ephemeral(), description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
