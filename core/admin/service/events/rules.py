"""The phase-transition rules every kind of record shares, and the times a phase change sets.

The rules are FlyteAdmin's; :mod:`flytecore.admin.service.events` lists them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf.message import Message

from flytecore.admin.db import models as m
from flytecore.admin.service.base import timestamp
from flytecore.admin.service.errors import AlreadyExistsError, FailedPreconditionError, InvalidArgumentError
from flytecore.spec._wellknown import dec_timestamp
from flytecore.spec.phases import TaskExecutionPhase as TaskPhase
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = [
    "TASK_NOT_STARTED",
    "WF_NOT_STARTED",
    "check_transition",
    "occurred_at",
    "phase_of",
    "record_times",
    "serialized",
]

# Phases before anything ran; an event for one of these after them is going back in time.
WF_NOT_STARTED = {WfPhase.UNDEFINED, WfPhase.QUEUED}
TASK_NOT_STARTED = {TaskPhase.UNDEFINED, TaskPhase.QUEUED, TaskPhase.WAITING_FOR_RESOURCES, TaskPhase.INITIALIZING}


def phase_of(enum_cls: Any, value: int, what: str) -> Any:
    """An event's phase as ``enum_cls``; unknown or unset is INVALID_ARGUMENT."""
    try:
        phase = enum_cls(value)
    except ValueError:
        raise InvalidArgumentError(f"{what} event phase {value} is not a phase of flyteidl") from None
    if phase == enum_cls.UNDEFINED:
        raise InvalidArgumentError(f"{what} event has no phase")
    return phase


def check_transition(what: str, current: Any, phase: Any, terminal: bool, *, started: bool) -> None:
    """The rules every kind of record shares (see the package docstring)."""
    if current == phase:
        raise AlreadyExistsError(f"{what}: phase {phase.name} was already recorded")
    if terminal:
        raise FailedPreconditionError(f"{what} already ended ({current.name}); the {phase.name} event was not recorded")
    if phase.name == "QUEUED" and started:
        raise FailedPreconditionError(f"{what} is {current.name}; it cannot go back to QUEUED")


def occurred_at(event: Any) -> dt.datetime:
    """When the event happened: its ``occurred_at``, or now if it has none."""
    if event.HasField("occurred_at"):
        return dec_timestamp(event.occurred_at)
    return m.utcnow()


def record_times(closure: Any, started_at: dt.datetime | None, running: bool, terminal: bool, at: dt.datetime) -> dict[str, Any]:
    """started_at on the first RUNNING, the duration at the end (0 if it never ran)."""
    changes: dict[str, Any] = {}
    closure.updated_at.CopyFrom(timestamp(at))
    if running and started_at is None:
        started_at = changes["started_at"] = at
        closure.started_at.CopyFrom(timestamp(at))
    if terminal:
        duration = max(at - started_at, dt.timedelta(0)) if started_at is not None else dt.timedelta(0)
        changes["duration"] = duration.total_seconds()
        closure.duration.FromTimedelta(duration)
    return changes


def serialized(message: Message) -> bytes:
    """A message's deterministic bytes, as stored."""
    return message.SerializeToString(deterministic=True)
