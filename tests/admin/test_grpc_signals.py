"""SignalService through the real gRPC server, on SQLite and PostgreSQL: flyteidl's generated
stub, the status codes and messages a client sees, and nothing stored changed by a refusal."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.service import signal_pb2_grpc

from flytecore.admin.grpc import SERVED, implemented_rpcs
from flytecore.admin.service import AdminService
from tests.admin.conftest import ServedAdmin, execution, stored_state

PROJECT, DOMAIN, RUN = "flytesnacks", "development", "signal-run"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
BOOL = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)


def sig_id(signal_id: str, name: str = RUN) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(
        signal_id=signal_id,
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name),
    )


def integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


@pytest.fixture(scope="module")
def stub(served_admin: ServedAdmin) -> signal_pb2_grpc.SignalServiceStub:
    served_admin.service.repo.create_execution(execution(RUN))
    return signal_pb2_grpc.SignalServiceStub(served_admin.channel)


def refused(admin: ServedAdmin, call: Callable[[], object]) -> grpc.RpcError:
    before = stored_state(admin)
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert stored_state(admin) == before
    return info.value  # type: ignore[return-value]


def test_every_signal_rpc_is_served() -> None:
    signals = next(s for s in SERVED if s.descriptor.name == "SignalService")
    assert implemented_rpcs(AdminService, signals) == ["GetOrCreateSignal", "ListSignals", "SetSignal"]


def test_get_or_create_list_and_set_round_trip(served_admin: ServedAdmin, stub: signal_pb2_grpc.SignalServiceStub) -> None:
    created = stub.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=sig_id("n"), type=INT), timeout=30)
    assert created.id == sig_id("n") and created.type == INT and not created.HasField("value")
    stub.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=sig_id("approve me"), type=BOOL), timeout=30)
    stub.SetSignal(signal_pb2.SignalSetRequest(id=sig_id("n"), value=integer(42)), timeout=30)
    again = stub.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=sig_id("n"), type=INT), timeout=30)
    assert again.value == integer(42)
    listed = stub.ListSignals(
        signal_pb2.SignalListRequest(
            workflow_execution_id=sig_id("n").execution_id, limit=10, filters="value_in(signal_id,n;approve me)"
        ),
        timeout=30,
    )
    assert [(s.id.signal_id, s.HasField("value")) for s in listed.signals] == [("n", True), ("approve me", False)]
    assert listed.signals[0].value == integer(42) and listed.token == ""


@pytest.mark.parametrize(
    ("rpc", "request_of", "code", "says"),
    [
        ("SetSignal", lambda: signal_pb2.SignalSetRequest(id=sig_id("missing"), value=integer(1)),
         grpc.StatusCode.NOT_FOUND, f"execution {PROJECT}/{DOMAIN}/{RUN} has no signal 'missing' (yet)"),
        ("SetSignal", lambda: signal_pb2.SignalSetRequest(id=sig_id("typed"), value=integer(1)),
         grpc.StatusCode.INVALID_ARGUMENT, "cannot set signal 'typed'"),
        ("GetOrCreateSignal", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id("typed"), type=INT),
         grpc.StatusCode.FAILED_PRECONDITION, "exists with type bool, not int"),
        ("GetOrCreateSignal", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id("n", "ghost"), type=INT),
         grpc.StatusCode.NOT_FOUND, f"execution {PROJECT}/{DOMAIN}/ghost not found"),
        ("ListSignals", lambda: signal_pb2.SignalListRequest(workflow_execution_id=sig_id("n", "ghost").execution_id),
         grpc.StatusCode.NOT_FOUND, f"execution {PROJECT}/{DOMAIN}/ghost not found"),
        ("SetSignal", lambda: signal_pb2.SignalSetRequest(id=sig_id("a/\x01"), value=integer(1)),
         grpc.StatusCode.INVALID_ARGUMENT, "contains a control character"),
        ("ListSignals", lambda: b"\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, "not a valid flyteidl.admin.SignalListRequest"),
    ],
    ids=["unknown-signal", "wrong-type", "type-conflict", "unknown-execution", "list-unknown-execution", "bad-id",
         "malformed"],
)  # fmt: skip
def test_refusals_carry_the_status_and_the_reason_and_change_nothing(
    served_admin: ServedAdmin,
    stub: signal_pb2_grpc.SignalServiceStub,
    rpc: str,
    request_of: Callable[[], object],
    code: grpc.StatusCode,
    says: str,
) -> None:
    stub.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=sig_id("typed"), type=BOOL), timeout=30)
    request = request_of()
    if isinstance(request, bytes):
        method = served_admin.channel.unary_unary(f"/flyteidl.service.SignalService/{rpc}")
        err = refused(served_admin, lambda: method(request, timeout=30))
    else:
        err = refused(served_admin, lambda: getattr(stub, rpc)(request, timeout=30))
    assert err.code() == code, err.details()
    assert says in err.details()
