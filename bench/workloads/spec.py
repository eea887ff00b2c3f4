"""The workloads every tool runs, by name, their right results, and the protocol every workload
script follows (stdlib only: the harness and every tool's script, in every peer's venv, import
it)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, SupportsInt, TypeVar

_Prepared = TypeVar("_Prepared")

WORKLOADS = ("chain", "map", "dynamic", "data")
"""chain: N sequential trivial tasks; map: one map task over N elements, then a reduce;
dynamic: a task that calls N tasks decided at run time, then a reduce; data: a dataclass with a
list and a dict of N elements through three tasks."""


def expected(workload: str, n: int) -> int:
    """The right result of ``workload`` at size ``n``: every run is checked against it."""
    results = {"chain": n, "map": n * (n + 1) // 2, "dynamic": n * (n + 1) // 2, "data": 2 * n * (n - 1)}
    return results[workload]


def tasks_of(workload: str, n: int) -> int:
    """How many task runs ``workload`` makes at size ``n`` (what ms/task divides by)."""
    return {"chain": n, "map": n + 1, "dynamic": n + 2, "data": 3}[workload]


def run_protocol(
    tool: str | Callable[[argparse.Namespace], str],
    run_one: Callable[[str, int, _Prepared], SupportsInt],
    *,
    set_up: Callable[[argparse.Namespace], AbstractContextManager[_Prepared]] | None = None,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
    description: str | None = None,
) -> int:
    """A workload script's ``main()``: run one workload once and report it as README.md here says.

    Parses ``--workload W --n N`` (plus the script's own ``options``), enters ``set_up(args)``
    (the tool's one-off set-up a deployment has already done, so before the clock; no set-up:
    ``None`` is passed on), times ``run_one(W, N, prepared)`` with ``time.perf_counter()`` and
    prints the result line ``{"tool": T, "workload": W, "n": N, "seconds": S, "result": R}`` as
    the last stdout line. Anything raised, in the set-up or the run, is one line on stderr,
    ``<tool> <workload> n=<n> failed: <type>: <message>``, and exit status 1.

    :param tool: the tool's name in the result line, or a function of the parsed arguments
        giving it (one script, several tools: ``flyte2`` and ``flyte2-persist``).
    :param run_one: builds the workload for this N and runs it to completion; returns its result.
    :param set_up: a context manager made from the parsed arguments, entered before the clock and
        left after it; what it yields is ``run_one``'s third argument.
    :param options: adds the script's own arguments to the parser.
    :param description: the script's ``--help`` text (its module docstring).
    :returns: the exit status, for ``sys.exit``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--n", type=int, required=True)
    if options is not None:
        options(parser)
    args = parser.parse_args()
    name = tool(args) if callable(tool) else tool
    try:
        context: AbstractContextManager[Any] = set_up(args) if set_up is not None else nullcontext()
        with context as prepared:
            start = time.perf_counter()
            result = run_one(args.workload, args.n, prepared)
            seconds = time.perf_counter() - start
        line = {
            "tool": name,
            "workload": args.workload,
            "n": args.n,
            "seconds": seconds,
            "result": int(result),
        }
    except Exception as e:
        print(f"{name} {args.workload} n={args.n} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(line))
    return 0
