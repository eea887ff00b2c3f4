"""The task configuration and the local face of the ``example`` task type."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import attrs

__all__ = ["TASK_TYPE", "Example", "current_greeting", "greeting_context", "to_custom"]

TASK_TYPE = "example"

_GREETING: contextvars.ContextVar[str | None] = contextvars.ContextVar("example_greeting", default=None)


@attrs.define(frozen=True, kw_only=True)
class Example:
    """``@task(task_config=Example(...))`` selects the ``example`` task type.

    :ivar greeting: what :func:`current_greeting` returns inside the task body.
    """

    greeting: str = "hello"


def to_custom(config: Example) -> dict[str, Any]:
    """``TaskTemplate.custom``: the configuration as a JSON-able dict."""
    return {"greeting": config.greeting}


@contextlib.contextmanager
def greeting_context(config: Example, task: Any = None) -> Iterator[None]:
    """The local face: set up what the body needs (here, the greeting), tear it down after."""
    token = _GREETING.set(config.greeting)
    try:
        yield
    finally:
        _GREETING.reset(token)


def current_greeting() -> str:
    """The greeting of the ``example`` task whose body is running."""
    greeting = _GREETING.get()
    if greeting is None:
        raise RuntimeError("current_greeting() is only available inside an @task(task_config=Example(...)) body")
    return greeting
