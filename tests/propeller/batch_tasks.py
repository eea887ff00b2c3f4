"""Map workflows for the batched-elements tests: retries, crashes, failures, logs, bound inputs."""

from __future__ import annotations

import functools
import os
import sys

from flytecore import current_context, dynamic, map_task, task, workflow
from flytecore.errors import FlyteRecoverableException


@task
def upto(n: int) -> list[int]:
    return list(range(n))


@task
def total(values: list[int | None]) -> int:
    return sum(v for v in values if v is not None)


@task(retries=1)
def flaky(marker_dir: str, x: int) -> int:
    """Element 3 fails recoverably on its first attempt; element 5 kills its worker once."""
    marker = os.path.join(marker_dir, f"seen-{x}")
    first = not os.path.exists(marker)
    open(marker, "w").close()
    print(f"element {x} attempt {os.environ['FLYTE_ATTEMPT_NUMBER']} of {current_context().execution_id.name}")
    print(f"element {x} to stderr", file=sys.stderr)
    if first and x == 3:
        raise FlyteRecoverableException(f"element {x} flaked")
    if first and x == 5:
        os._exit(7)
    return x * x


@workflow
def flaky_map(marker_dir: str, n: int = 12) -> int:
    return total(values=map_task(functools.partial(flaky, marker_dir=marker_dir))(x=upto(n=n)))


@task
def picky(x: int) -> int:
    if x % 4 == 0:
        raise ValueError(f"{x} is a multiple of four")
    return x


@workflow
def picky_map(n: int = 10) -> int:
    return total(values=map_task(picky, min_success_ratio=0.5)(x=upto(n=n)))


@workflow
def strict_map(n: int = 10) -> int:
    return total(values=map_task(picky)(x=upto(n=n)))


@task
def square(x: int) -> int:
    return x * x


@dynamic
def squares_of(x: int) -> int:
    return square(x=x)


@workflow
def dynamic_map(n: int = 5) -> int:
    return total(values=map_task(squares_of)(x=upto(n=n)))


@workflow
def limited_map(n: int = 30) -> int:
    return total(values=map_task(square, concurrency=3)(x=upto(n=n)))
