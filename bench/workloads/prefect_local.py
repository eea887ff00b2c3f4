"""Prefect 3 in-process: each workload is a ``@flow`` called as a plain function, every
``@task`` call a task run in this process (``.map``/``.submit`` on the default
ThreadPoolTaskRunner). The API is Prefect's ephemeral server (a subprocess on 127.0.0.1
with a SQLite DB), under a fresh PREFECT_HOME temp dir removed at exit; no Cloud, no
profile, no analytics. The server is started before the clock (in a deployment it is
already running); its start-up time is reported on stderr. Protocol: see README.md here.
Stdlib + prefect only."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from spec import run_protocol

warnings.filterwarnings("ignore")  # the same quieting for every tool: warnings off, logs at ERROR
_HOME = tempfile.mkdtemp(prefix="bench-prefect-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _var in list(os.environ):  # nothing inherited may point at a server (PREFECT_API_URL), Cloud or profile
    if _var.startswith("PREFECT_"):
        del os.environ[_var]
os.environ.update(
    {
        "PREFECT_HOME": _HOME,
        "PREFECT_PROFILES_PATH": os.path.join(_HOME, "profiles.toml"),
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",  # alias PREFECT_SERVER_ALLOW_EPHEMERAL_MODE
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",  # busy 2-core machine
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "ERROR",
        # The server subprocess is killed at exit while its event recorder is still flushing:
        # it would log tracebacks of that (after the clock, harmless) at ERROR.
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
)

from prefect import flow, task  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402


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


@task
def make(n: int) -> Payload:
    return Payload("p", list(range(n)), {str(i): i for i in range(n)})


@task
def double(p: Payload) -> Payload:
    return Payload(p.name, [v * 2 for v in p.values], {k: v * 2 for k, v in p.weights.items()})


@task
def summarize(p: Payload) -> int:
    return sum(p.values) + sum(p.weights.values())


@flow
def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@flow
def map_(xs: list[int]) -> int:
    ys = inc.map(xs).result()
    return total(ys)


@flow
def fan_out(n: int) -> list[int]:
    """The dynamic part: a subflow whose number of task runs is its run-time input."""
    futures = [inc.submit(i) for i in range(n)]
    return [f.result() for f in futures]


@flow
def dynamic(n: int) -> int:
    return total(fan_out(n))


@flow
def data(n: int) -> int:
    return summarize(double(make(n)))


WORKLOADS = {"chain": chain, "map": map_, "dynamic": dynamic, "data": data}


@contextmanager
def set_up(_: argparse.Namespace) -> Iterator[None]:
    t0 = time.perf_counter()
    with get_client(sync_client=True) as client:  # starts the ephemeral server
        client.hello()
    print(f"prefect: ephemeral server up in {time.perf_counter() - t0:.2f}s", file=sys.stderr)
    yield


def run_one(workload: str, n: int, _: None) -> int:
    kwargs = {"xs": list(range(n))} if workload == "map" else {"n": n}
    return WORKLOADS[workload](**kwargs)


def main() -> int:
    return run_protocol("prefect", run_one, set_up=set_up, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
