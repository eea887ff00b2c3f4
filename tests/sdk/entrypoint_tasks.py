"""Tasks that tests/sdk/test_entrypoint.py runs through the ``flytecore-execute`` entrypoint.

A real module (``tests.sdk.entrypoint_tasks``), so the default resolver imports it by name as a
task container would, in-process and in a subprocess started in the repository root.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

from flytecore import FlyteFile, FlyteRecoverableException, current_context, dynamic, map_task, task, workflow


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = ""


@task
def add(a: int, b: int = 10) -> int:
    return a + b


@task
def greet(name: str) -> str:
    return f"hello {name}"


@task
def summarize(xs: list[int], weights: dict[str, float]) -> tuple[list[int], dict[str, float]]:
    return sorted(xs), {k: v * 2 for k, v in weights.items()}


@task
def move(p: Point, dx: int) -> Point:
    return Point(x=p.x + dx, y=p.y, label=p.label + "!")


@task
def write_file(text: str) -> FlyteFile:
    path = os.path.join(current_context().working_directory, "note.txt")
    with open(path, "w") as f:
        f.write(text)
    return FlyteFile(path)


@task
def read_file(f: FlyteFile) -> str:
    with open(f) as opened:
        return opened.read()


@task
def fail(x: int) -> int:
    if x < 0:
        raise ValueError(f"x must be positive, got {x}")
    return x


@task
def flaky() -> int:
    raise FlyteRecoverableException("the service is busy, try again")


@task
def wrong_output() -> int:
    return "not a number"  # type: ignore[return-value]


@task
def context_info() -> dict[str, str]:
    ctx = current_context()
    assert ctx.task_id is not None
    return {
        "execution": f"{ctx.execution_id.project}/{ctx.execution_id.domain}/{ctx.execution_id.name}",
        "task": f"{ctx.task_id.project}/{ctx.task_id.domain}/{ctx.task_id.name}@{ctx.task_id.version}",
        "raw": ctx.raw_output_prefix,
        "outputs": ctx.output_metadata_prefix,
    }


@task
def resume(target: int) -> str:
    """Counts up to ``target``, one step per attempt, keeping the count in a checkpoint."""
    checkpoint = current_context().checkpoint
    assert checkpoint is not None
    previous = checkpoint.read()
    step = int(previous.decode()) + 1 if previous else 1
    checkpoint.write(str(step).encode())
    if step < target:
        raise FlyteRecoverableException(f"step {step} of {target} done")
    return f"done after {step} attempts"


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@workflow
def double_wf(x: int) -> int:
    return add(a=x, b=x)


@dynamic
def sum_of_squares(n: int) -> int:
    squares = [square(x=i) for i in range(n)]
    return total(xs=squares)


@dynamic
def plan(n: int) -> tuple[int, int]:
    """Task calls in a loop, a map task over a partial, and a subworkflow."""
    squares = [square(x=i) for i in range(n)]
    shifted = map_task(functools.partial(add, b=100))(a=list(range(n)))
    return total(xs=squares), double_wf(x=total(xs=shifted))


@dynamic
def shortcut(n: int) -> int:
    """A dynamic body that calls nothing: its value is the output."""
    return n * 2


@dynamic
def broken_plan(n: int) -> int:
    if n > 2:
        raise RuntimeError(f"cannot plan for {n}")
    return square(x=n)


class Namespace:
    """Tasks reached through an attribute path (``task-name Namespace.triple``)."""

    @task
    def triple(x: int) -> int:
        return 3 * x


def _plain_double(x: int) -> int:
    return 2 * x


renamed = task(_plain_double)
"""A task held by a variable of another name than its function."""


class RegistryResolver:
    """A resolver that finds tasks in a dict by key, as a plugin's resolver could."""

    location = "tests.sdk.entrypoint_tasks.registry_resolver"

    def __init__(self) -> None:
        self.tasks: dict[str, Any] = {}

    def loader_args(self, task: Any) -> list[str]:
        return ["key", task.short_name]

    def load_task(self, loader_args: Sequence[str]) -> Any:
        return self.tasks[loader_args[1]]


registry_resolver = RegistryResolver()


@task(task_resolver=registry_resolver)
def registered(x: int) -> int:
    return x - 1


registry_resolver.tasks["registered"] = registered


@task
def quits(code: int) -> int:
    raise SystemExit(code)


@task
def element_info(x: int, factor: int, probe: str) -> dict[str, str]:
    """A map element for ``--array-elements`` (tests/sdk/test_entrypoint_elements.py): writes its
    item to both streams (print and the raw fds) and says what it sees; ``probe`` is a path whose
    existence it reports."""
    ctx = current_context()
    workdir_was_empty = not os.listdir(ctx.working_directory)
    with open(os.path.join(ctx.working_directory, "left-behind.txt"), "w") as f:
        f.write("the next element must not see this")
    print(f"print out x={x}")
    print(f"print err x={x}", file=sys.stderr)
    os.write(1, f"fd1 x={x}\n".encode())
    os.write(2, f"fd2 x={x}\n".encode())
    return {
        "value": str(x * factor),
        "attempt": os.environ.get("FLYTE_ATTEMPT_NUMBER", "<unset>"),
        "node": os.environ.get("FLYTE_INTERNAL_NODE_ID", "<unset>"),
        "shared": os.environ.get("ELEMENTS_SHARED", "<unset>"),
        "execution": ctx.execution_id.name,
        "outputs": ctx.output_metadata_prefix,
        "raw": ctx.raw_output_prefix,
        "checkpoint": "" if ctx.checkpoint is None else ctx.checkpoint.checkpoint_dest,
        "probe": str(os.path.exists(probe)) if probe else "",
        "workdir_was_empty": str(workdir_was_empty),
    }
