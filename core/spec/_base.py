"""Shared helpers for spec models: one decorator and the oneof rule."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from typing_extensions import dataclass_transform

from flytecore.errors import SpecError

T = TypeVar("T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field, attrs.Factory))
def model(cls: type[T]) -> type[T]:
    """Declare a spec model: a frozen, slotted, keyword-only attrs class.

    Field names follow flyteidl's protobuf field names so that the flyteidl bridge maps them
    one to one; a protobuf ``oneof`` is a group of optional fields of which at most one is set
    (see :func:`oneof`).
    """
    return attrs.define(frozen=True, slots=True, kw_only=True)(cls)


def oneof(*names: str, required: bool = False) -> Callable[[Any], None]:
    """Return a check that at most (or, if ``required``, exactly) one of ``names`` is set.

    Models call it from ``__attrs_post_init__`` so that an impossible value fails where it is
    built, naming the model and the fields.
    """

    values = operator.attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
    most = len(names) - 1

    def check(obj: Any) -> None:
        # Every literal of a wide map passes here, often more than once: the common case (one
        # field set) is decided in C.
        unset = values(obj).count(None)
        if unset == most or (unset == len(names) and not required):
            return
        present = [n for n in names if getattr(obj, n) is not None]
        if len(present) > 1:
            raise SpecError(
                f"{type(obj).__name__}: only one of {', '.join(names)} may be set, got {', '.join(present)}"
            )
        if required and not present:
            raise SpecError(f"{type(obj).__name__}: one of {', '.join(names)} must be set")

    return check
