"""The events a round produces: workflow, node and task phase changes, built from statuses.

Every phase change the engine makes is reported to the admin as one of flyteidl's events
(FlytePropeller's event recorder). The round only appends them to the execution's list; the
propeller saves them with the state they describe (an outbox) and delivers them afterwards.

They are built as flyteidl messages, not as the spec's models converted afterwards: a chain
task makes five, each saved once, and the models with their checks and conversion took a
fifth of a round. :func:`as_spec` gives an event's spec model (what a sink delivers, from the
outbox), for whoever reads a round's events as models.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING, Any

from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2

from flytecore.spec import idl
from flytecore.spec._wellknown import enc_timestamp
from flytecore.spec.events import (
    ExternalResourceInfo,
    NodeExecutionEvent,
    TaskExecutionEvent,
    TaskExecutionMetadata,
    WorkflowExecutionEvent,
)
from flytecore.spec.execution import ExecutionError, TaskLog
from flytecore.spec.identifiers import Identifier
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase, TaskExecutionPhase, WorkflowExecutionPhase
from flytecore.spec.workflow import Node

if TYPE_CHECKING:
    from flytecore.propeller.engine import Run
    from flytecore.propeller.state import NodeStatus

__all__ = [
    "ARRAY_TASK_TYPE",
    "Event",
    "EventMessage",
    "array_fields",
    "LITERALS_MEMO",
    "as_spec",
    "literal_map_message",
    "node_event",
    "task_event",
    "workflow_event",
]

Event = WorkflowExecutionEvent | NodeExecutionEvent | TaskExecutionEvent
"""An event as the spec's model (what sinks deliver)."""

EventMessage = event_pb2.WorkflowExecutionEvent | event_pb2.NodeExecutionEvent | event_pb2.TaskExecutionEvent
"""An event as a round makes it: its flyteidl message."""

_FAILED = (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED)
_MEMO = "events"  # Run.memo: the run's ids as flyteidl, by their spec model
LITERALS_MEMO = "event literals"
"""``Run.memo`` key: this round's literal maps as flyteidl, by identity (cleared with its events)."""


def as_spec(event: EventMessage) -> Event:
    """``event`` as the spec's model (its twin in :mod:`flytecore.spec.idl`)."""
    return idl.from_idl(event)  # type: ignore[no-any-return]


def _at(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


_stamped: tuple[float, Any] = (math.nan, None)
"""The last round clock :func:`_stamp` converted, with its Timestamp: a round's events (five
for a chain task) all carry its clock, two or three times each."""


def _stamp(msg: Any, now: float, *fields: str) -> None:
    """Set the timestamp ``fields`` of ``msg`` to ``now`` (as the spec's datetime would be)."""
    global _stamped
    at, stamp = _stamped
    if at != now:
        stamp = timestamp_pb2.Timestamp()
        enc_timestamp(_at(now), stamp)
        _stamped = (now, stamp)  # one tuple: another thread's round sees a whole pair
    for field in fields:
        getattr(msg, field).CopyFrom(stamp)


def _converted(run: Run, ident: Any) -> Any:
    """An id the run's events repeat (the execution's, a task's) as flyteidl, converted once per run."""
    memo = run.memo[_MEMO]
    found = memo.get(ident)
    if found is None:
        found = memo[ident] = idl.to_idl(ident)
    return found


def _node_execution_id(run: Run, key: str, msg: identifier_pb2.NodeExecutionIdentifier) -> None:
    msg.node_id = key
    msg.execution_id.CopyFrom(_converted(run, run.obj.execution_id))


def _set(msg: Any, field: str, value: Any) -> None:
    """A spec model into message field ``field``, marked present even when empty (as the bridge writes it)."""
    getattr(msg, field).CopyFrom(idl.to_idl(value))


def literal_map_message(run: Run, value: LiteralMap) -> Any:
    """``value`` as flyteidl, converted once per round however often it is sent: a task's
    inputs go to its worker and into its node's and its attempt's first events, its outputs
    into its attempt's and its node's last. Not to be changed: events copy it."""
    memo = run.memo[LITERALS_MEMO]
    found = memo.get(id(value))
    if found is None or found[0] is not value:
        # The map is kept with its message: its id cannot be reused while the entry lives.
        found = memo[id(value)] = (value, idl.to_idl(value))
    return found[1]


def _set_literals(run: Run, msg: Any, field: str, value: LiteralMap) -> None:
    getattr(msg, field).CopyFrom(literal_map_message(run, value))


def workflow_event(
    run: Run,
    phase: WorkflowExecutionPhase,
    now: float,
    *,
    outputs: LiteralMap | None = None,
    error: ExecutionError | None = None,
) -> None:
    """Report the execution's new phase (with its outputs or error when it ends)."""
    msg = event_pb2.WorkflowExecutionEvent(producer_id=run.producer_id, phase=int(phase))
    msg.execution_id.CopyFrom(_converted(run, run.obj.execution_id))
    _stamp(msg, now, "occurred_at")
    if error is not None:
        _set(msg, "error", error)
    elif outputs is not None:
        _set_literals(run, msg, "output_data", outputs)
    run.events.append(msg)


def node_event(
    run: Run,
    key: str,
    node: Node,
    status: NodeStatus,
    now: float,
    *,
    parent_key: str | None,
    kind: str,
    inputs: LiteralMap | None = None,
    input_uri: str | None = None,
    output_uri: str | None = None,
    target: Identifier | None = None,
) -> None:
    """Report a node's phase (admin sees :meth:`NodePhase.to_execution_phase`).

    Inputs and outputs already in storage are named by ``input_uri`` / ``output_uri`` (the admin
    records the location, as with FlytePropeller's events); others travel inline.
    """
    msg = event_pb2.NodeExecutionEvent(
        producer_id=run.producer_id,
        phase=int(status.phase.to_execution_phase()),
        spec_node_id=node.id,
        node_name=node.metadata.name if node.metadata and node.metadata.name else node.id,
        # As FlytePropeller: an array node is not a parent node but an array (flytekit's
        # FlyteRemote follows the two differently); its elements still name it as parent.
        is_parent=kind in ("branch", "subworkflow", "dynamic"),
        is_dynamic=kind == "dynamic",
        is_array=kind == "array",
    )
    _node_execution_id(run, key, msg.id)
    _stamp(msg, now, "occurred_at", "reported_at")
    if input_uri:
        msg.input_uri = input_uri
    elif inputs is not None:
        _set_literals(run, msg, "input_data", inputs)
    if status.phase == NodePhase.SUCCEEDED and output_uri:
        msg.output_uri = output_uri
    elif status.phase == NodePhase.SUCCEEDED and status.outputs is not None:
        _set_literals(run, msg, "output_data", status.outputs)
    elif status.phase in _FAILED and status.error is not None:
        _set(msg, "error", status.error)
    if status.child_execution:  # in the parent's project and domain
        eid, child = run.obj.execution_id, msg.workflow_node_metadata.execution_id
        child.project, child.domain, child.name = eid.project, eid.domain, status.child_execution
    elif kind == "task":
        msg.task_node_metadata.SetInParent()
        msg.task_node_metadata.cache_status = int(status.cache_status)
    if parent_key:
        msg.parent_node_metadata.node_id = parent_key
    if target is not None:
        _set(msg, "target_entity", target)
    run.events.append(msg)


def task_event(
    run: Run,
    key: str,
    task_id: Identifier,
    attempt: int,
    phase: TaskExecutionPhase,
    phase_version: int,
    now: float,
    *,
    task_type: str,
    logs: tuple[TaskLog, ...] = (),
    output_uri: str | None = None,
    outputs: LiteralMap | None = None,
    error: ExecutionError | None = None,
    inputs: LiteralMap | None = None,
    input_uri: str | None = None,
    reason: str = "",
    metadata: TaskExecutionMetadata | None = None,
    event_version: int = 0,
) -> None:
    """Report a task attempt's phase (or a new version of the same phase); inputs in storage
    are named by ``input_uri`` rather than sent inline."""
    msg = event_pb2.TaskExecutionEvent(
        retry_attempt=attempt,
        phase=int(phase),
        producer_id=run.producer_id,
        phase_version=phase_version,
        reason=reason,
        task_type=task_type,
        event_version=event_version,
    )
    msg.task_id.CopyFrom(_converted(run, task_id))
    _node_execution_id(run, key, msg.parent_node_execution_id)
    if logs:
        msg.logs.extend(_log_messages(tuple(logs)))  # a plugin may hand a list
    _stamp(msg, now, "occurred_at", "reported_at")
    if input_uri:
        msg.input_uri = input_uri
    elif inputs is not None:
        _set_literals(run, msg, "input_data", inputs)
    if error is not None:
        _set(msg, "error", error)
    elif output_uri:
        msg.output_uri = output_uri
    elif outputs is not None:
        _set_literals(run, msg, "output_data", outputs)
    if metadata is not None:
        _set(msg, "metadata", metadata)
    run.events.append(msg)


@functools.lru_cache(maxsize=256)
def _log_messages(logs: tuple[TaskLog, ...]) -> list[Any]:
    """An attempt's logs as flyteidl (the same for each of its events; copied into each)."""
    return [idl.to_idl(log) for log in logs]


ARRAY_TASK_TYPE = "container_array"
"""The task type of an array node's own task execution (FlytePropeller's)."""


def array_fields(resources: list[ExternalResourceInfo]) -> dict[str, Any]:
    """What makes a :func:`task_event` an array node's report, as FlytePropeller's default: its
    task type and event version, and the elements as external resources (index, attempt, phase,
    logs) rather than node and task events of their own (gathered, see
    :mod:`flytecore.propeller.handlers.array`)."""
    return {
        "task_type": ARRAY_TASK_TYPE,
        "event_version": 1,
        "metadata": TaskExecutionMetadata(external_resources=tuple(resources), plugin_identifier="k8s-array"),
    }
