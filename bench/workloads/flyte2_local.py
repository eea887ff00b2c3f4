"""Flyte 2 SDK (``flyte``) local mode: ``flyte.init()`` with no endpoint (before the clock),
then ``flyte.run(driver, ...)`` runs the driver task and every task it awaits in this
process, each call a separate action through the type engine. ``--persist`` adds
``flyte.init(local_persistence=True)``: every run and action is recorded in the SDK's local
SQLite run store (kept here in a fresh temp dir, not ~/.flyte). Protocol: see README.md here.
Stdlib + flyte only."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import logging
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
# Nothing global: the SDK keeps its local DB (run store, cache) beside the config file it
# finds, else under ~/.flyte, so point HOME at a fresh temp dir (no config file there); raw
# data goes there too. Local runs always make (empty) per-action dirs under the fixed
# /tmp/flyte/metadata/<run name>: the run gets a known name and that dir is removed at exit.
_HOME = tempfile.mkdtemp(prefix="bench-flyte2-")
_RUN_NAME = "bench-" + os.path.basename(_HOME).rsplit("-", 1)[-1].lower().replace("_", "")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
atexit.register(shutil.rmtree, f"/tmp/flyte/metadata/{_RUN_NAME}", ignore_errors=True)
os.environ["HOME"] = _HOME
os.environ.setdefault("LOG_LEVEL", "error")
os.environ.setdefault("DISABLE_RICH_LOGGING", "1")

import flyte  # noqa: E402

env = flyte.TaskEnvironment(name="bench")


@dataclass
class Payload:
    name: str
    values: list[int]
    weights: dict[str, int]


@env.task
async def inc(x: int) -> int:
    return x + 1


@env.task
async def total(xs: list[int]) -> int:
    return sum(xs)


# chain: one driver task awaiting n sequential inc actions.
@env.task
async def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await inc(x)
    return x


# map: flyte.map of inc over the input list, then total.
@env.task
async def map_(xs: list[int]) -> int:
    ys = [y async for y in flyte.map.aio(inc, xs, return_exceptions=False)]
    return await total(ys)


# dynamic: a task whose fan-out (n inc actions) is decided by its run-time input.
@env.task
async def fan_out(n: int) -> list[int]:
    return list(await asyncio.gather(*(inc(i) for i in range(n))))


@env.task
async def dynamic(n: int) -> int:
    return await total(await fan_out(n))


@env.task
async def make(n: int) -> Payload:
    return Payload("p", list(range(n)), {str(i): i for i in range(n)})


@env.task
async def double(p: Payload) -> Payload:
    return Payload(p.name, [v * 2 for v in p.values], {k: v * 2 for k, v in p.weights.items()})


@env.task
async def summarize(p: Payload) -> int:
    return sum(p.values) + sum(p.weights.values())


@env.task
async def data(n: int) -> int:
    return await summarize(await double(await make(n)))


WORKLOADS = {"chain": chain, "map": map_, "dynamic": dynamic, "data": data}


def inputs(workload: str, n: int) -> dict[str, object]:
    return {"xs": list(range(n))} if workload == "map" else {"n": n}


def tool(args: argparse.Namespace) -> str:
    return "flyte2-persist" if args.persist else "flyte2"


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--persist", action="store_true", help="flyte.init(local_persistence=True)")


@contextmanager
def set_up(args: argparse.Namespace) -> Iterator[None]:
    t0 = time.perf_counter()
    flyte.init(log_level=logging.ERROR, local_persistence=args.persist)
    print(f"{tool(args)}: flyte.init in {time.perf_counter() - t0:.2f}s", file=sys.stderr)
    yield


def run_one(workload: str, n: int, _: None) -> int:
    run = flyte.with_runcontext(mode="local", name=_RUN_NAME, raw_data_path=f"{_HOME}/raw_data").run(
        WORKLOADS[workload], **inputs(workload, n)
    )
    result = run.outputs()
    return result[0] if isinstance(result, (tuple, list)) else result


def main() -> int:
    return run_protocol(tool, run_one, set_up=set_up, options=options, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
