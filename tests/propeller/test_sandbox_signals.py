"""Gates end to end in the in-process sandbox: an execution waits at ``wait_for_input`` or
``approve`` (RUNNING, its gate node RUNNING, the signal listed without a value) until SetSignal,
then finishes with the signalled value; a rejection fails it naming the signal; a gate whose
timeout passes is TIMED_OUT. The admin wakes the propeller when a signal is set; without that
hook (a propeller in its own process) the gate's poll still opens it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.propeller.runner import execution_key
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase, WorkflowExecutionPhase
from tests.admin.test_grpc import requests_for
from tests.propeller import gate_workflows

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=1)) as box:
        yield box


def launch(box: Sandbox, wf: Any, name: str, **inputs: int) -> identifier_pb2.WorkflowExecutionIdentifier:
    tasks, wf_request = requests_for(wf)
    for request in tasks:
        box.admin.create_task(request)
    box.admin.create_workflow(wf_request)
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=wf.name, version="v1"
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, name=name, spec=execution_pb2.ExecutionSpec(launch_plan=lp)
    )
    for key, value in inputs.items():
        request.inputs.literals[key].CopyFrom(integer(value))
    return box.admin.create_execution(request).id


def integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def boolean(value: bool) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value)))


def eventually(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    """The first truthy result of ``check``, polled; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def execution(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
    return box.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid))


def finished(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
    def ended() -> execution_pb2.Execution | None:
        current = execution(box, eid)
        return current if WorkflowExecutionPhase(current.closure.phase).is_terminal else None

    return eventually(f"execution {eid.name} ending", ended)  # type: ignore[no-any-return]


def node_phases(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, NodeExecutionPhase]:
    nodes = box.admin.list_node_executions(node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=eid, limit=100))
    return {n.id.node_id: NodeExecutionPhase(n.closure.phase) for n in nodes.node_executions}


def signals(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> list[signal_pb2.Signal]:
    return list(box.admin.list_signals(signal_pb2.SignalListRequest(workflow_execution_id=eid)).signals)


def waiting_at(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier, gate: str, signal_id: str) -> None:
    """Wait until the execution sits at its gate: the gate node RUNNING, the signal created."""
    eventually(
        f"{eid.name} waiting at gate {gate}",
        lambda: node_phases(box, eid).get(gate) == NodeExecutionPhase.RUNNING
        and [s.id.signal_id for s in signals(box, eid)] == [signal_id],
    )


def set_signal(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier, signal_id: str, value: literals_pb2.Literal) -> None:
    box.admin.set_signal(
        signal_pb2.SignalSetRequest(id=identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=eid), value=value)
    )


def test_an_input_gate_waits_for_its_signal_then_feeds_the_value_to_a_task(sandbox: Sandbox) -> None:
    eid = launch(sandbox, gate_workflows.asks_for_n, "asks1")
    waiting_at(sandbox, eid, "n0", "n")
    assert execution(sandbox, eid).closure.phase == WorkflowExecutionPhase.RUNNING
    assert "n1" not in node_phases(sandbox, eid)  # the task behind the gate has not started
    (waiting,) = signals(sandbox, eid)
    assert waiting.type.simple == 1 and not waiting.HasField("value")  # INTEGER, not set yet
    set_signal(sandbox, eid, "n", integer(7))
    done = finished(sandbox, eid)
    assert done.closure.phase == WorkflowExecutionPhase.SUCCEEDED, done.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"] == integer(49)
    assert [(s.id.signal_id, s.value) for s in signals(sandbox, eid)] == [("n", integer(7))]
    assert node_phases(sandbox, eid) == {"n0": NodeExecutionPhase.SUCCEEDED, "n1": NodeExecutionPhase.SUCCEEDED}


def test_an_approval_passes_the_approved_value_on(sandbox: Sandbox) -> None:
    eid = launch(sandbox, gate_workflows.needs_approval, "approve1", x=3)
    waiting_at(sandbox, eid, "n1", "ok")
    assert execution(sandbox, eid).closure.phase == WorkflowExecutionPhase.RUNNING
    assert node_phases(sandbox, eid)["n0"] == NodeExecutionPhase.SUCCEEDED
    set_signal(sandbox, eid, "ok", boolean(True))
    done = finished(sandbox, eid)
    assert done.closure.phase == WorkflowExecutionPhase.SUCCEEDED, done.closure.error.message
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    assert data.full_outputs.literals["o0"].scalar.primitive.string_value == "approved 9"
    assert [(s.id.signal_id, s.value) for s in signals(sandbox, eid)] == [("ok", boolean(True))]


def test_a_rejected_approval_fails_the_execution_naming_the_signal(sandbox: Sandbox) -> None:
    eid = launch(sandbox, gate_workflows.needs_approval, "reject1", x=3)
    waiting_at(sandbox, eid, "n1", "ok")
    set_signal(sandbox, eid, "ok", boolean(False))
    done = finished(sandbox, eid)
    assert done.closure.phase == WorkflowExecutionPhase.FAILED
    assert "'ok'" in done.closure.error.message and "rejected" in done.closure.error.message
    phases = node_phases(sandbox, eid)
    assert phases["n1"] == NodeExecutionPhase.FAILED and "n2" not in phases


def test_a_gate_whose_timeout_passes_is_timed_out(sandbox: Sandbox) -> None:
    eid = launch(sandbox, gate_workflows.impatient, "late1")
    done = finished(sandbox, eid)
    assert done.closure.phase == WorkflowExecutionPhase.FAILED
    assert node_phases(sandbox, eid)["n0"] == NodeExecutionPhase.TIMED_OUT
    assert "timeout" in done.closure.error.message


def test_without_the_admin_hook_the_poll_still_opens_the_gate(sandbox: Sandbox) -> None:
    sandbox.admin.on_signal_set = None  # as with a propeller in its own process
    eid = launch(sandbox, gate_workflows.asks_for_n, "polled1")
    waiting_at(sandbox, eid, "n0", "n")
    set_signal(sandbox, eid, "n", integer(5))
    done = finished(sandbox, eid)
    assert done.closure.phase == WorkflowExecutionPhase.SUCCEEDED, done.closure.error.message


def test_setting_a_signal_makes_the_waiting_execution_due_at_once(tmp_path: Path) -> None:
    """The sandbox's hook, without the propeller's loop: the gate polls only every hour here, so
    only the admin's wake-up can make the execution due again."""
    box = Sandbox(SandboxConfig(home=tmp_path / "home", workers=1))
    try:
        assert box.admin.on_signal_set == box.propeller.wake
        box.engine.config.signal_poll_interval = 3600.0
        eid = launch(box, gate_workflows.asks_for_n, "woken1")
        key = execution_key(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="woken1"))
        assert box.propeller.step() == 1
        info = box.store.get(key)
        assert info is not None and info.next_round_at is not None and info.next_round_at > time.time() + 1000
        assert box.propeller.step() == 0  # nothing is due
        set_signal(box, eid, "n", integer(2))
        info = box.store.get(key)
        assert info is not None and info.next_round_at is not None and info.next_round_at <= time.time()
        assert box.propeller.step() == 1
        assert box.propeller.deliver() > 0
        assert node_phases(box, eid)["n0"] == NodeExecutionPhase.SUCCEEDED
    finally:
        box.stop()


def test_admin_signals_over_grpc_as_a_standalone_propeller_reads_them(tmp_path: Path) -> None:
    """``AdminSignals`` on ``GrpcAdminClient`` (what ``flytecore propeller run`` uses): the first
    read creates the signal, a set value comes back, a type conflict is a refusal that fails the
    gate, an unreachable admin an ordinary error that only delays it."""
    from flytecore.admin.config import AdminConfig
    from flytecore.admin.db import models
    from flytecore.admin.grpc import start_in_thread
    from flytecore.admin.service import AdminService
    from flytecore.propeller.handlers.gate import SignalRefused
    from flytecore.propeller.signals import AdminSignals
    from flytecore.propeller.sink import GrpcAdminClient
    from flytecore.spec.literals import Literal, Primitive, Scalar
    from flytecore.spec.types import LiteralType, SimpleType
    from tests.admin.test_grpc import free_port

    service = AdminService.create(
        AdminConfig(db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=str(tmp_path / "store"))
    )
    service.repo.create_execution(models.Execution(project=PROJECT, domain=DOMAIN, name="remote1"))
    eid = WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="remote1")
    proto_eid = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="remote1")
    int_type, str_type = LiteralType(simple=SimpleType.INTEGER), LiteralType(simple=SimpleType.STRING)
    running = start_in_thread(service, http_port=None)
    client = GrpcAdminClient(f"127.0.0.1:{running.grpc_port}", timeout=10)
    try:
        read = AdminSignals(client)
        assert read(eid, "n", int_type) is None
        listed = service.list_signals(signal_pb2.SignalListRequest(workflow_execution_id=proto_eid))
        assert [(s.id.signal_id, s.type.simple) for s in listed.signals] == [("n", 1)]  # created, INTEGER
        service.set_signal(
            signal_pb2.SignalSetRequest(
                id=identifier_pb2.SignalIdentifier(signal_id="n", execution_id=proto_eid), value=integer(8)
            )
        )
        assert read(eid, "n", int_type) == Literal(scalar=Scalar(primitive=Primitive(integer=8)))
        with pytest.raises(SignalRefused, match="FAILED_PRECONDITION.*exists with type int, not str"):
            read(eid, "n", str_type)
    finally:
        client.close()
        running.stop()
    gone = GrpcAdminClient(f"127.0.0.1:{free_port()}", timeout=2)
    try:
        with pytest.raises(Exception) as unreachable:
            AdminSignals(gone)(eid, "n", int_type)
        assert not isinstance(unreachable.value, SignalRefused)
    finally:
        gone.close()
