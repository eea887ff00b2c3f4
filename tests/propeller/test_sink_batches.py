"""AdminEventSink.deliver_batch and Propeller.deliver handing it the outbox: the answers per
event are treated as deliver treats them (delivered, dropped, or stop and retry from there)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from flytecore.propeller.runner import Propeller
from flytecore.propeller.sink import AdminEventSink, DeliveryFailed, encode_event
from flytecore.spec.events import NodeExecutionEvent
from flytecore.spec.identifiers import NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase


class Refused(Exception):
    """An admin error as the sink sees one: a ``code`` with a gRPC status name."""

    def __init__(self, code: str) -> None:
        super().__init__(f"refused: {code}")
        self.code = code


def event(node: str) -> NodeExecutionEvent:
    eid = WorkflowExecutionIdentifier(project="p", domain="development", name="e1")
    return NodeExecutionEvent(
        id=NodeExecutionIdentifier(node_id=node, execution_id=eid), phase=NodeExecutionPhase.RUNNING,
        occurred_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
    )  # fmt: skip


class BatchClient:
    """An admin with ``create_events``: answers per node id (an exception or None)."""

    def __init__(self, answers: dict[str, BaseException | None] | None = None) -> None:
        self.answers = answers or {}
        self.batches: list[list[str]] = []

    def create_events(self, requests: list[Any]) -> list[BaseException | None]:
        nodes = [r.event.id.node_id for r in requests]
        self.batches.append(nodes)
        return [self.answers.get(n) for n in nodes]


class OneByOneClient:
    """An admin without a batch call (as GrpcAdminClient): the Create*Event calls."""

    def __init__(self, fail_at: str = "") -> None:
        self.fail_at = fail_at
        self.calls: list[str] = []

    def create_node_event(self, request: Any) -> None:
        self.calls.append(request.event.id.node_id)
        if request.event.id.node_id == self.fail_at:
            raise ConnectionError("admin down")


def test_a_batch_goes_in_one_call_in_order() -> None:
    client = BatchClient()
    sink = AdminEventSink(client)
    assert sink.deliver_batch([event("n0"), event("n1"), event("n2")]) == 3
    assert client.batches == [["n0", "n1", "n2"]]
    assert sink.dropped == []


def test_refused_events_are_delivered_or_dropped_and_a_failure_stops_the_batch_there() -> None:
    client = BatchClient(
        {"n1": Refused("ALREADY_EXISTS"), "n2": Refused("FAILED_PRECONDITION"), "n3": Refused("UNAVAILABLE")}
    )
    sink = AdminEventSink(client)
    with pytest.raises(DeliveryFailed, match="UNAVAILABLE") as info:
        sink.deliver_batch([event(f"n{i}") for i in range(5)])
    assert info.value.handled == 3  # n0 accepted, n1 already there, n2 dropped; n3 and n4 wait
    assert [(e.id.node_id, why.split(":")[0]) for e, why in sink.dropped] == [("n2", "FAILED_PRECONDITION")]


def test_a_client_without_a_batch_call_gets_the_events_one_by_one() -> None:
    client = OneByOneClient(fail_at="n2")
    sink = AdminEventSink(client)
    with pytest.raises(DeliveryFailed, match="admin down") as info:
        sink.deliver_batch([event(f"n{i}") for i in range(4)])
    assert info.value.handled == 2
    assert client.calls == ["n0", "n1", "n2"]


def test_an_admin_failing_as_a_whole_takes_nothing_of_the_batch() -> None:
    class Down(BatchClient):
        def create_events(self, requests: list[Any]) -> list[BaseException | None]:
            raise ConnectionError("database is down")

    with pytest.raises(DeliveryFailed, match="database is down") as info:
        AdminEventSink(Down()).deliver_batch([event("n0")])
    assert info.value.handled == 0


class Outbox:
    def __init__(self, events: list[NodeExecutionEvent]) -> None:
        self.items = [SimpleNamespace(seq=i + 1, payload=encode_event(e)) for i, e in enumerate(events)]
        self.acked: list[int] = []

    def pending_events(self, limit: int, *, after: int = 0) -> list[Any]:
        return [i for i in self.items if i.seq not in self.acked and i.seq > after][:limit]

    def ack_events(self, seqs: list[int]) -> None:
        self.acked += seqs


def propeller(sink: Any, outbox: Outbox) -> Any:
    """What Propeller.deliver uses of a propeller: the outbox, the sink and two metrics."""
    gauge = SimpleNamespace(set=lambda value: None, inc=lambda n: None)
    return SimpleNamespace(
        sink=sink, store=outbox, metrics=SimpleNamespace(events_delivered=gauge, outbox=gauge)
    )


def test_the_propeller_hands_the_sink_its_outbox_and_acks_what_was_handled() -> None:
    outbox = Outbox([event(f"n{i}") for i in range(5)])
    client = BatchClient({"n1": Refused("NOT_FOUND"), "n3": Refused("INTERNAL")})
    sink = AdminEventSink(client)
    assert Propeller.deliver(propeller(sink, outbox)) == 3
    assert outbox.acked == [1, 2, 3]  # n3 and everything after it wait, in order
    assert [e.id.node_id for e, _ in sink.dropped] == ["n1"]
    client.answers = {}
    assert Propeller.deliver(propeller(sink, outbox)) == 2
    assert outbox.acked == [1, 2, 3, 4, 5]
    assert client.batches == [["n0", "n1", "n2", "n3", "n4"], ["n3", "n4"]]


def test_a_sink_without_batches_is_still_given_the_events_one_by_one() -> None:
    class Plain:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def deliver(self, e: NodeExecutionEvent) -> None:
            if e.id.node_id == "n2":
                raise DeliveryFailed("later")
            self.seen.append(e.id.node_id)

    outbox, sink = Outbox([event(f"n{i}") for i in range(4)]), Plain()
    assert Propeller.deliver(propeller(sink, outbox)) == 2
    assert sink.seen == ["n0", "n1"] and outbox.acked == [1, 2]


def test_outbox_payloads_are_flyteidl_messages_and_older_json_ones_still_read() -> None:
    import json

    from flyteidl.admin import event_pb2

    from flytecore.propeller.sink import _converter, decode_event, event_request
    from flytecore.spec import idl

    original = event("n7")
    payload = encode_event(original)
    assert payload[:2] == b"\x01n"
    assert decode_event(payload) == original
    request = event_request(payload)
    # For the admin in this process, which reads no request id: none is made up per event.
    assert isinstance(request, event_pb2.NodeExecutionEventRequest) and request.request_id == ""
    assert request.event == idl.to_idl(original)
    # What an outbox written by an older version holds: JSON tagged with its kind.
    legacy = json.dumps({"kind": "node", "event": _converter.unstructure(original)}).encode()
    assert decode_event(legacy) == original
    assert event_request(legacy).event == idl.to_idl(original)


def test_payloads_go_to_the_admin_parsed_and_a_refusal_is_reported_decoded() -> None:
    client = BatchClient({"n1": Refused("FAILED_PRECONDITION"), "n2": Refused("UNAVAILABLE")})
    sink = AdminEventSink(client)
    with pytest.raises(DeliveryFailed, match="UNAVAILABLE") as info:
        sink.deliver_payloads([encode_event(event(f"n{i}")) for i in range(4)])
    assert client.batches == [["n0", "n1", "n2", "n3"]]
    assert info.value.handled == 2  # n0 delivered, n1 dropped; n2 and n3 wait
    assert [(e.id.node_id, why.split(":")[0]) for e, why in sink.dropped] == [("n1", "FAILED_PRECONDITION")]
    assert sink.dropped[0][0] == event("n1")
