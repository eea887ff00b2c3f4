"""flytekit 1.16 in-process local execution (``python wf.py`` style): a ``@workflow`` called
as a plain function runs every node in this process, each value through flytekit's type
engine. Protocol: see README.md here. Stdlib + flytekit only."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spec import run_protocol

warnings.filterwarnings("ignore")  # the same quieting for every tool: warnings off, logs at ERROR
# Nothing global: flytekit makes its local sandbox and user-space dirs with tempfile at
# import time and leaves them behind, so give it a private temp dir, removed at exit.
tempfile.tempdir = tempfile.mkdtemp(prefix="bench-flytekit-")
atexit.register(shutil.rmtree, tempfile.tempdir, ignore_errors=True)
# Quiet logging before flytekit is imported (it reads these at import time).
os.environ.setdefault("FLYTE_SDK_LOGGING_LEVEL", "40")  # ERROR
os.environ.setdefault("FLYTE_SDK_RICH_TRACEBACKS", "0")

from flytekit import dynamic, map_task, task, workflow  # noqa: E402
from flytekit.loggers import logger as _flytekit_logger  # noqa: E402

_flytekit_logger.setLevel(logging.ERROR)
logging.getLogger().setLevel(logging.ERROR)


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
    return [inc(x=i) for i in range(n)]


@task
def make(n: int) -> Payload:
    return Payload("p", list(range(n)), {str(i): i for i in range(n)})


@task
def double(p: Payload) -> Payload:
    return Payload(p.name, [v * 2 for v in p.values], {k: v * 2 for k, v in p.weights.items()})


@task
def summarize(p: Payload) -> int:
    return sum(p.values) + sum(p.weights.values())


def _wf(fn: Callable[..., int], name: str) -> Any:
    fn.__name__ = fn.__qualname__ = name
    return workflow(fn)


def chain(n: int) -> int:
    def wf() -> int:
        x = inc(x=0)
        for _ in range(n - 1):
            x = inc(x=x)
        return x

    return _wf(wf, f"chain_{n}")()


def map_(n: int) -> int:
    def wf(xs: list[int]) -> int:
        return total(xs=map_task(inc)(x=xs))

    return _wf(wf, f"map_{n}")(xs=list(range(n)))


def dynamic_(n: int) -> int:
    def wf(n: int) -> int:
        return total(xs=fan_out(n=n))

    return _wf(wf, f"dynamic_{n}")(n=n)


def data(n: int) -> int:
    def wf(n: int) -> int:
        return summarize(p=double(p=make(n=n)))

    return _wf(wf, f"data_{n}")(n=n)


WORKLOADS = {"chain": chain, "map": map_, "dynamic": dynamic_, "data": data}


def main() -> int:
    return run_protocol("flytekit", lambda workload, n, _: WORKLOADS[workload](n), description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
