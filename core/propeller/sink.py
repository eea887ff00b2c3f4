"""Event sinks: where the propeller's events go (the admin, in-process or over gRPC).

An event is delivered as flyteidl's ``Create{Workflow,Node,Task}Event`` request to a *client*:
any object with the snake_case methods of those RPCs taking the request messages — the admin
service itself in the sandbox (an in-process call), or :class:`GrpcAdminClient` when the
propeller runs as its own process. The propeller never imports the admin (DESIGN.md, floors).

The admin's answers decide what happens to an event:

- accepted, or ``ALREADY_EXISTS`` (a redelivery after a restart): delivered;
- ``FAILED_PRECONDITION`` / ``INVALID_ARGUMENT`` (the admin will never take it: the execution
  already ended, a transition it refuses): dropped, with a warning;
- anything else (the admin is down, a database error): kept, and retried in order.

:meth:`AdminEventSink.deliver_batch` hands the admin several events at once when the client
has ``create_events`` (the admin service in-process: one transaction for all of them), with the
same answers per event; over gRPC, which has no batch call, they go one by one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from flyteidl.admin import event_pb2

from flytecore.propeller.events import Event, EventMessage
from flytecore.spec import idl
from flytecore.spec.converter import make_converter
from flytecore.spec.events import NodeExecutionEvent, TaskExecutionEvent, WorkflowExecutionEvent

__all__ = [
    "AdminEventSink",
    "DeliveryFailed",
    "EventSink",
    "GrpcAdminClient",
    "decode_event",
    "encode_event",
    "error_message",
    "event_request",
    "status_name",
]

log = logging.getLogger(__name__)

_KINDS: dict[str, type] = {"workflow": WorkflowExecutionEvent, "node": NodeExecutionEvent, "task": TaskExecutionEvent}
_converter = make_converter()


_FLYTEIDL = b"\x01"
"""First byte of an outbox payload holding the event's flyteidl message (after one letter for its
kind: ``w``, ``n`` or ``t``); payloads written by older versions are JSON (they start with ``{``)."""
_CODES: dict[type, bytes] = {WorkflowExecutionEvent: b"w", NodeExecutionEvent: b"n", TaskExecutionEvent: b"t"}
_BY_CODE: dict[bytes, type] = {code: cls for cls, code in _CODES.items()}
_MESSAGE_CODES: dict[type, bytes] = {idl.TWINS[cls]: code for cls, code in _CODES.items()}
"""The same kinds by the models' flyteidl twins (the messages a round makes)."""
_REQUESTS: dict[bytes, Any] = {
    b"w": event_pb2.WorkflowExecutionEventRequest,
    b"n": event_pb2.NodeExecutionEventRequest,
    b"t": event_pb2.TaskExecutionEventRequest,
}


def encode_event(event: Event | EventMessage) -> bytes:
    """An event (as a round makes it, its flyteidl message, or as the spec's model) as outbox
    bytes: its flyteidl message, tagged with its kind. The admin takes flyteidl requests:
    :meth:`AdminEventSink.deliver_payloads` hands it the bytes as they are."""
    code = _MESSAGE_CODES.get(type(event))
    if code is not None:
        return _FLYTEIDL + code + event.SerializeToString()  # type: ignore[union-attr]
    return _FLYTEIDL + _CODES[type(event)] + idl.to_idl(event).SerializeToString()


def decode_event(data: bytes) -> Event:
    """The event :func:`encode_event` wrote (or, from an older outbox, JSON tagged with its kind)."""
    if data[:1] == b"{":
        doc = json.loads(data)
        return _converter.structure(doc["event"], _KINDS[doc["kind"]])  # type: ignore[no-any-return]
    cls = _BY_CODE[data[1:2]]
    return idl.from_idl(idl.TWINS[cls].FromString(data[2:]), cls)  # type: ignore[no-any-return]


def event_request(data: bytes) -> Any:
    """The admin's ``Create*EventRequest`` for an outbox payload, its event parsed straight from
    the stored bytes (no spec model in between)."""
    if data[:1] == b"{":
        return AdminEventSink._request(decode_event(data))
    # No request id: the request goes straight to the admin in this process (create_events),
    # which reads none; a random one per event was a tenth of parsing it.
    request = _REQUESTS[data[1:2]]()
    request.event.ParseFromString(data[2:])
    return request


class DeliveryFailed(Exception):
    """The admin could not take the event now; deliver it again later.

    From :meth:`AdminEventSink.deliver_batch`, ``handled`` says how many events of the batch,
    from the first, were delivered or dropped before the one that failed.
    """

    def __init__(self, message: str, *, handled: int = 0) -> None:
        super().__init__(message)
        self.handled = handled


class EventSink(Protocol):
    """Receives the propeller's events in order. A sink may also have
    ``deliver_batch(events) -> int`` (see :meth:`AdminEventSink.deliver_batch`), which the
    propeller then prefers."""

    def deliver(self, event: Event) -> None:
        """Deliver one event; raise :class:`DeliveryFailed` to have it retried later."""
        ...


def status_name(exc: BaseException) -> str | None:
    """The gRPC status name an admin error carries (an AdminError's code, an RpcError's code)."""
    code = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError
        try:
            code = code()
        except Exception:
            return None
    if code is None:
        return None
    value = getattr(code, "value", code)
    if isinstance(value, tuple):  # grpc.StatusCode's value is (number, "name")
        return str(getattr(code, "name", value[1])).upper()
    return str(value).upper()


_DROP = {"FAILED_PRECONDITION", "INVALID_ARGUMENT", "NOT_FOUND"}


class AdminEventSink:
    """Delivers events to an admin client (see the module docstring)."""

    def __init__(self, client: Any, producer_id: str = "flytecore-propeller") -> None:
        self.client = client
        self.producer_id = producer_id
        self.dropped: list[tuple[Event, str]] = []

    def deliver(self, event: Event) -> None:
        """Send one event; see the module docstring for how answers are treated."""
        request = self._request(event)
        try:
            if isinstance(event, WorkflowExecutionEvent):
                self.client.create_workflow_event(request)
            elif isinstance(event, NodeExecutionEvent):
                self.client.create_node_event(request)
            else:
                self.client.create_task_event(request)
        except Exception as exc:
            self._answered(event, exc)

    def deliver_batch(self, events: Sequence[Event]) -> int:
        """Send ``events`` in order, each treated as :meth:`deliver` treats it; returns how many
        were delivered or dropped (all of them).

        :raises DeliveryFailed: at the first event the admin cannot take now; its ``handled``
            says how many before it were delivered or dropped: that one and the rest are to be
            sent again later, in order.
        """
        create_events = getattr(self.client, "create_events", None)
        # A deliver replaced on this sink (a stand-in for an unavailable admin) is honoured.
        if create_events is None or "deliver" in vars(self):
            for i, event in enumerate(events):
                try:
                    self.deliver(event)
                except DeliveryFailed as exc:
                    raise DeliveryFailed(str(exc), handled=i) from exc
            return len(events)
        try:
            outcomes = create_events([self._request(event) for event in events])
        except Exception as exc:  # the admin failed as a whole: nothing of the batch was taken
            raise DeliveryFailed(f"{type(exc).__name__}: {error_message(exc)}", handled=0) from exc
        for i, (event, outcome) in enumerate(zip(events, outcomes, strict=True)):
            if outcome is not None:
                try:
                    self._answered(event, outcome)
                except DeliveryFailed as exc:
                    raise DeliveryFailed(str(exc), handled=i) from outcome
        return len(events)

    def deliver_payloads(self, payloads: Sequence[bytes]) -> int:
        """:meth:`deliver_batch` for events as the outbox holds them (:func:`encode_event`): the
        admin gets its requests parsed from the bytes; an event is decoded only to be reported
        when the admin refuses it."""
        if getattr(self.client, "create_events", None) is None or "deliver" in vars(self):
            return self.deliver_batch([decode_event(payload) for payload in payloads])
        try:
            outcomes = self.client.create_events([event_request(payload) for payload in payloads])
        except Exception as exc:  # the admin failed as a whole: nothing of the batch was taken
            raise DeliveryFailed(f"{type(exc).__name__}: {error_message(exc)}", handled=0) from exc
        for i, (payload, outcome) in enumerate(zip(payloads, outcomes, strict=True)):
            if outcome is not None:
                try:
                    self._answered(decode_event(payload), outcome)
                except DeliveryFailed as exc:
                    raise DeliveryFailed(str(exc), handled=i) from outcome
        return len(payloads)

    @staticmethod
    def _request(event: Event) -> Any:
        msg = idl.to_idl(event)
        request_id = uuid.uuid4().hex
        if isinstance(event, WorkflowExecutionEvent):
            return event_pb2.WorkflowExecutionEventRequest(request_id=request_id, event=msg)
        if isinstance(event, NodeExecutionEvent):
            return event_pb2.NodeExecutionEventRequest(request_id=request_id, event=msg)
        return event_pb2.TaskExecutionEventRequest(request_id=request_id, event=msg)

    def _answered(self, event: Event, exc: BaseException) -> None:
        """Treat the admin's error for ``event`` (see the module docstring): return if the event
        counts as delivered (or is dropped), raise :class:`DeliveryFailed` if it is to be retried."""
        status = status_name(exc)
        if status == "ALREADY_EXISTS":
            return
        if status in _DROP:
            log.warning("admin refused an event (%s), dropping it: %s", status, error_message(exc))
            self.dropped.append((event, f"{status}: {error_message(exc)}"))
            return
        raise DeliveryFailed(f"{type(exc).__name__}: {error_message(exc)}") from exc


def error_message(exc: BaseException) -> str:
    """The message an admin error carries (an RpcError's details, an AdminError's message)."""
    details = getattr(exc, "details", None)
    if callable(details):
        try:
            return str(details())
        except Exception:
            pass
    return str(getattr(exc, "message", exc))


class GrpcAdminClient:
    """The admin's AdminService (and SignalService) over gRPC, with the snake_case method names
    the sinks, the child execution launcher and the gate signals call (``create_node_event(request)``
    -> ``CreateNodeEvent``, ``get_or_create_signal(request)`` -> ``SignalService.GetOrCreateSignal``)."""

    def __init__(self, target: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        import grpc
        from flyteidl.service import admin_pb2_grpc, signal_pb2_grpc

        self.channel = grpc.insecure_channel(target)
        self.stub = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.signal_stub = signal_pb2_grpc.SignalServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else None
        self.timeout = timeout

    def __getattr__(self, name: str) -> Any:
        rpc = "".join(part.capitalize() for part in name.split("_"))
        stub = self.signal_stub if hasattr(self.signal_stub, rpc) else self.stub
        method = getattr(stub, rpc)

        def call(request: Any) -> Any:
            return method(request, timeout=self.timeout, metadata=self.metadata)

        return call

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()
