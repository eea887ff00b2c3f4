"""How events are applied: read the record, judge the transition, write it conditionally (one
event, or a batch of them in one transaction, where each record is read once and written once);
and where an event's data (inline inputs and outputs, errors) goes.

Inline literal maps (``input_data``, ``output_data``) follow FlyteAdmin's inline event data
policy, by size (``AdminConfig.inline_data_bytes``): a small one is kept in the database
(inputs in the record's ``input_data`` column, outputs in its closure's ``output_data``), a larger
one is written to the record's ``inputs.pb`` / ``outputs.pb`` and its location recorded, as
FlyteAdmin's "offload" policy does. :meth:`ServiceBase._kept_inline` decides, for both (and for
an execution's inputs, :mod:`flytecore.admin.service.executions.create`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import literals_pb2
from google.protobuf.message import DecodeError

from flytecore.admin.db import AlreadyExists, ConcurrentUpdate, NotFound, WriteTransaction
from flytecore.admin.db import models as m
from flytecore.admin.db.repository import describe
from flytecore.admin.service.base import UPDATE_ATTEMPTS, ServiceBase
from flytecore.admin.service.errors import (
    AbortedError,
    AdminError,
    Code,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.events.rules import serialized
from flytecore.admin.service.executions.ids import node_execution_id_of
from flytecore.admin.service.limits import (
    MAX_EVENT_BYTES,
    MAX_EVENT_DATA_BYTES,
    OFFLOAD_EVENT_DATA,
    check_size,
)
from flytecore.spec.identifiers import NodeExecutionIdentifier

__all__ = ["EventPlan", "EventRecording", "InlineData"]

# The refusals: judged before anything is written, so a batch goes on after one.
_REFUSED = {Code.ALREADY_EXISTS, Code.FAILED_PRECONDITION, Code.INVALID_ARGUMENT, Code.NOT_FOUND}

EVENT_TOO_LARGE = (
    "send inputs and outputs by location (input_uri / output_uri), keep logs, custom_info and "
    "error messages short, and write large error documents to storage (error_uri)"
)


InlineData = dict[str, bytes]
"""An event's inline literal maps by field (``input_data``, ``output_data``), serialized and
checked by :meth:`EventRecording._check_event`: what is recorded, inline or in a file."""


@dataclass(frozen=True, slots=True)
class EventPlan:
    """One checked event, ready to be applied to its record."""

    what: str
    """The record, as people read it (for errors)."""
    model: type[m.Base]
    key: dict[str, Any]
    """The record's primary key."""
    judge: Callable[[Any], tuple[dict[str, Any], dict[str, Any]]]
    """From the stored row: the columns the update expects unchanged and the changes to write;
    raises the refusal (ALREADY_EXISTS, FAILED_PRECONDITION) without writing anything."""
    first: Callable[[], dict[str, Any]] | None = None
    """The values of the record this event creates when it is the first; None: the record must
    exist already (executions)."""


class EventRecording(ServiceBase):
    """What the Create*Event calls share."""

    def _plan(self, request: Any) -> EventPlan:
        raise NotImplementedError  # the Create*Event mixins' _plan_* methods, by request type

    def _apply(self, plan: EventPlan) -> None:
        """Apply one event in its own transaction: read the record (create it on the first
        event), judge the transition and write it conditionally; when a concurrent event won,
        judge it again in a new transaction."""
        for _ in range(UPDATE_ATTEMPTS):
            try:
                with self.repo.transaction() as tx:
                    self._apply_in(tx, plan)
                return
            except (ConcurrentUpdate, AlreadyExists):
                continue  # a concurrent event updated (or first created) the record: judge again
            except NotFound as exc:  # its execution or node execution does not exist
                raise NotFoundError(str(exc)) from exc
        raise AbortedError(f"{plan.what} kept changing concurrently; send the event again")

    @staticmethod
    def _apply_in(tx: WriteTransaction, plan: EventPlan) -> None:
        """One attempt at applying ``plan`` within ``tx``. A refusal raises before anything is
        written; a repository error (a concurrent writer, a missing parent) leaves ``tx`` to be
        rolled back."""
        row = tx.row(plan.model, plan.key)
        if row is None:
            if plan.first is None:
                raise NotFoundError(str(NotFound(plan.model.ENTITY, describe(plan.model, plan.key))))
            tx.insert(plan.model, plan.first())
            return
        expect, changes = plan.judge(row)
        tx.update(plan.model, plan.key, changes, expect)

    def create_events(self, requests: Sequence[Any]) -> list[BaseException | None]:
        """Apply a batch of Create{Workflow,Node,Task}Event requests in order, as the calls one
        by one would, in one transaction; returns each event's outcome: None (recorded) or the
        error the call would have raised.

        The transaction writes back (:meth:`WriteTransaction.write_back`): each record the
        batch touches is read once, every event of the batch is judged against the record as the
        events before it left it, and the record is written once at the end, conditional on what
        was read.

        A refused event (ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND) is
        judged before anything is written: the batch goes on after it. Any other error (the
        database failing, a concurrent writer, found when the batch writes its records at the
        end or before) undoes the transaction, and the events are then applied one by one, each
        in its own transaction; the first that fails otherwise than by a refusal stops the
        batch: the events after it are not applied (ABORTED).
        """
        outcomes: list[BaseException | None] = []
        try:
            with self.repo.transaction() as tx, tx.write_back():
                for request in requests:
                    try:
                        self._apply_in(tx, self._plan(request))
                    except AdminError as exc:
                        if exc.code not in _REFUSED:
                            raise
                        outcomes.append(exc)
                    else:
                        outcomes.append(None)
        except Exception:
            # Rare (a lost race, a missing parent, a failing database): the slow, exact way.
            return self._create_events_one_by_one(requests)
        return outcomes

    def _create_events_one_by_one(self, requests: Sequence[Any]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for request in requests:
            try:
                self._create_event(request)
            except AdminError as exc:
                outcomes.append(exc)
                if exc.code not in _REFUSED:
                    break
            except Exception as exc:
                outcomes.append(exc)
                break
            else:
                outcomes.append(None)
        left = len(requests) - len(outcomes)
        if left:
            failed = len(outcomes) - 1
            why = f"not applied: event {failed} of the batch failed before it; send it again"
            outcomes += [AbortedError(why) for _ in range(left)]
        return outcomes

    def _create_event(self, request: Any) -> None:
        raise NotImplementedError  # EventService: one Create*Event call by request type

    def _check_event(self, event: Any, kind: str, what: str) -> InlineData:
        """What every event must be, checked before anything is read: within the size limits
        (as a whole and its inline literal maps), its inline literal maps readable back, with an
        error kind flyteidl knows. ``what`` names the record (for errors). Returns the inline
        literal maps, serialized once here for :meth:`_result` and :meth:`_inputs`."""
        check_size(event, MAX_EVENT_BYTES, f"the {kind} event", EVENT_TOO_LARGE)
        data: InlineData = {}
        for field in ("input_data", "output_data"):
            if field in event.DESCRIPTOR.fields_by_name and event.HasField(field):
                serialized_map = serialized(getattr(event, field))
                name = f"the {kind} event's {field}"
                check_size(len(serialized_map), MAX_EVENT_DATA_BYTES, name, OFFLOAD_EVENT_DATA)
                _check_readable(serialized_map, f"{what}: {name}")
                data[field] = serialized_map
        if event.HasField("error") and event.error.kind not in core_execution_pb2.ExecutionError.ErrorKind.values():
            kinds = ", ".join(core_execution_pb2.ExecutionError.ErrorKind.keys())
            raise InvalidArgumentError(f"the {kind} event's error kind {event.error.kind} is not one of {kinds}")
        return data

    def _node_id(self, proto_id: Any) -> NodeExecutionIdentifier:
        return node_execution_id_of(proto_id, self.config.domains)

    def _offload(self, data: bytes, uri: Callable[[], str]) -> str:
        """Write an event's literal map to ``uri()`` (FlyteAdmin's offload policy); returns that URI."""
        location = uri()
        self.store.write_bytes(location, data)
        return location

    def _result(
        self, event: Any, data: InlineData, closure: Any, changes: dict[str, Any], outputs_uri: Callable[[], str]
    ) -> None:
        """Record an event's outputs or error on ``closure`` and ``changes``.

        Outputs by location (``output_uri``) are recorded as given. Inline outputs of a node or
        task execution stay in its closure (``output_data``, ``output_uri`` left empty) when
        :meth:`_kept_inline`; otherwise they are written to ``outputs_uri()`` and that location
        recorded. An execution's inline outputs always go to storage (its ``outputs.uri`` and
        ``outputs_uri`` column): the policy spares a file per task, an execution writes one at
        its end. An error goes to the closure and the ``error`` column.
        """
        execution = isinstance(closure, execution_pb2.ExecutionClosure)
        uri = event.output_uri
        if not uri and "output_data" in data:
            if not execution and self._kept_inline(data["output_data"]):
                closure.output_data.CopyFrom(event.output_data)
            else:
                uri = self._offload(data["output_data"], outputs_uri)
        elif not uri and event.HasField("error"):
            closure.error.CopyFrom(event.error)
            changes["error"] = {
                "code": event.error.code, "message": event.error.message, "error_uri": event.error.error_uri,
                "kind": core_execution_pb2.ExecutionError.ErrorKind.Name(event.error.kind),
            }
        if uri and execution:
            closure.outputs.uri = changes["outputs_uri"] = uri
        elif uri:
            closure.output_uri = changes["output_uri"] = uri

    def _inputs(self, event: Any, data: InlineData, row: Any, inputs_uri: Callable[[], str]) -> dict[str, Any]:
        """The columns that record an event's inputs on its node or task execution (``row``;
        None when the event creates it): ``input_uri`` as given; inline inputs in the
        ``input_data`` column when :meth:`_kept_inline`, else written to ``inputs_uri()`` and that
        location recorded. No columns when the event has no inputs, or when the record has its
        inputs already: they are fixed once recorded, by location or inline (FlyteAdmin keeps the
        first).
        """
        if row is not None and (row.input_uri or row.input_data is not None):
            return {}
        if event.input_uri:
            return {"input_uri": event.input_uri}
        if "input_data" not in data:
            return {}
        if self._kept_inline(data["input_data"]):
            return {"input_data": data["input_data"]}
        return {"input_uri": self._offload(data["input_data"], inputs_uri)}


def _varint(value: int) -> bytes:
    """``value`` in protobuf's varint encoding (a length prefix)."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# The tag of a Literal's `map` field (length-delimited): a map behind it is parsed one level down.
_LITERAL_MAP_TAG = _varint(literals_pb2.Literal.DESCRIPTOR.fields_by_name["map"].number << 3 | 2)


def _check_readable(data: bytes, what: str) -> None:
    """Refuse a serialized literal map that would not read back: INVALID_ARGUMENT naming ``what``.

    It is parsed one level down, as a closure (kept outputs) and a Get*Data answer hold it. A map
    that came over gRPC always passes (the server parsed it deeper, inside its request); one built
    in process can fail, nested deeper than protobuf reads (100 levels), and would otherwise make
    its record unreadable.
    """
    try:
        literals_pb2.Literal.FromString(_LITERAL_MAP_TAG + _varint(len(data)) + data)
    except DecodeError as exc:
        raise InvalidArgumentError(
            f"{what} is not a readable flyteidl LiteralMap ({exc}); the event was not recorded: "
            "send it by location (input_uri / output_uri) or flatten the value"
        ) from None
