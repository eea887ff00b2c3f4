"""What a plugin's local face gives the task body through ``current_context()``.

``with context_attribute("spark_session", session): ...`` makes ``current_context().spark_session``
(case-insensitive, as flytekit's ``current_context().spark_session``) return ``session`` inside
the block, in this thread or task. The SDK reads them (:func:`task_attributes`); the plugin floor
keeps them so that a plugin needs nothing but :mod:`flytecore.plugin`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["context_attribute", "task_attributes"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_attributes: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "flytecore_task_attributes", default=_EMPTY
)


@contextlib.contextmanager
def context_attribute(name: str, value: Any) -> Iterator[Any]:
    """Give the running task ``current_context().<name>`` (case-insensitive) while inside; an
    outer value of the same name comes back when the block ends."""
    token = _attributes.set(MappingProxyType({**_attributes.get(), name.upper(): value}))
    try:
        yield value
    finally:
        _attributes.reset(token)


def task_attributes() -> Mapping[str, Any]:
    """The attributes set by :func:`context_attribute` here, by upper-case name."""
    return _attributes.get()
