"""Gate nodes waiting for signals, in the engine alone: what the gate asks ``Services.signals``
for, what it does with the answer (a value, nothing yet, a refusal, an outage), approvals and
rejections, and timeouts. Rounds are given explicit clocks; nothing sleeps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flytecore.propeller.engine import Engine, Run
from flytecore.propeller.handlers.gate import APPROVAL_TYPE, SignalRefused
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.literals import Literal, Primitive, Scalar
from flytecore.spec.phases import NodePhase, WorkflowExecutionPhase
from flytecore.spec.types import LiteralType, SimpleType
from tests.propeller import gate_workflows, harness

INT = LiteralType(simple=SimpleType.INTEGER)


def integer(value: int) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(integer=value)))


def boolean(value: bool) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(boolean=value)))


class FakeSignals:
    """``Services.signals`` over a dict; remembers every question, raises ``error`` if set."""

    def __init__(self) -> None:
        self.values: dict[str, Literal] = {}
        self.asked: list[tuple[str, str, LiteralType]] = []
        self.error: Exception | None = None

    def __call__(self, execution_id: WorkflowExecutionIdentifier, signal_id: str, literal_type: LiteralType) -> Literal | None:
        self.asked.append((execution_id.name, signal_id, literal_type))
        if self.error is not None:
            raise self.error
        return self.values.get(signal_id)


@pytest.fixture
def signals() -> FakeSignals:
    return FakeSignals()


@pytest.fixture
def engine(signals: FakeSignals) -> Engine:
    engine, _ = harness.make_engine(gate_workflows, signal_poll_interval=2.0)
    engine.services.signals = signals
    return engine


def test_an_input_gate_waits_asking_with_its_type_then_feeds_the_value_on(
    engine: Engine, signals: FakeSignals, tmp_path: Path
) -> None:
    run = Run(harness.workflow_object(gate_workflows.asks_for_n, tmp_path))
    now = time.time()
    assert engine.round(run, now) is False
    assert run.state.node("n0").phase == NodePhase.RUNNING
    assert run.state.node("n1").phase == NodePhase.NOT_YET_STARTED
    assert signals.asked == [(run.execution_id.name, "n", INT)]
    assert run.wake_at == pytest.approx(now + 2.0)  # the poll: a standalone propeller is never woken
    assert engine.round(run, now + 2) is False  # still nothing
    signals.values["n"] = integer(7)
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert run.state.node("n0").outputs.literals["o0"] == integer(7)
    assert run.state.workflow.outputs.literals["o0"] == integer(49)


def test_an_approval_asks_for_a_boolean_and_passes_the_approved_value_on(
    engine: Engine, signals: FakeSignals, tmp_path: Path
) -> None:
    run = Run(harness.workflow_object(gate_workflows.needs_approval, tmp_path, {"x": 4}))
    for _ in range(5):
        engine.round(run, time.time())
    assert run.state.node("n1").phase == NodePhase.RUNNING
    assert signals.asked[-1][1:] == ("ok", APPROVAL_TYPE)
    signals.values["ok"] = boolean(True)
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.string_value == "approved 16"


def test_a_rejected_approval_fails_the_execution_naming_the_signal(
    engine: Engine, signals: FakeSignals, tmp_path: Path
) -> None:
    signals.values["ok"] = boolean(False)
    run = Run(harness.workflow_object(gate_workflows.needs_approval, tmp_path))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert run.state.node("n1").phase == NodePhase.FAILED
    assert run.state.node("n2").phase != NodePhase.SUCCEEDED
    message = run.state.workflow.error.message
    assert "'ok'" in message and "rejected" in message


def test_a_value_of_the_wrong_type_fails_the_gate_naming_the_signal(
    engine: Engine, signals: FakeSignals, tmp_path: Path
) -> None:
    signals.values["n"] = boolean(True)
    run = Run(harness.workflow_object(gate_workflows.asks_for_n, tmp_path))
    harness.run_to_end(engine, run)
    assert run.state.node("n0").phase == NodePhase.FAILED
    assert run.state.workflow.error.code == "SignalTypeMismatch"
    assert "signal 'n'" in run.state.workflow.error.message


def test_a_refused_signal_fails_the_gate_and_an_outage_only_delays_it(
    engine: Engine, signals: FakeSignals, tmp_path: Path
) -> None:
    signals.error = ConnectionError("admin unreachable")
    waiting = Run(harness.workflow_object(gate_workflows.asks_for_n, tmp_path))
    now = time.time()
    assert engine.round(waiting, now) is False
    assert waiting.state.node("n0").phase == NodePhase.RUNNING
    assert "admin unreachable" in waiting.state.node("n0").message
    assert waiting.wake_at == pytest.approx(now + 2.0)

    signals.error = SignalRefused("exists with type str, not int")
    refused = Run(harness.workflow_object(gate_workflows.asks_for_n, tmp_path))
    harness.run_to_end(engine, refused)
    assert refused.state.node("n0").phase == NodePhase.FAILED
    assert "signal 'n'" in refused.state.workflow.error.message
    assert "exists with type str" in refused.state.workflow.error.message

    signals.error = None
    signals.values["n"] = integer(3)
    harness.run_to_end(engine, waiting)
    assert waiting.state.workflow.outputs.literals["o0"] == integer(9)


def test_a_gate_whose_timeout_passes_is_timed_out(engine: Engine, signals: FakeSignals, tmp_path: Path) -> None:
    run = Run(harness.workflow_object(gate_workflows.impatient, tmp_path))
    now = time.time()
    assert engine.round(run, now) is False
    assert run.wake_at == pytest.approx(now + 1.0)  # the deadline comes before the poll
    assert engine.round(run, now + 1.5) is True
    assert run.state.node("n0").phase == NodePhase.TIMED_OUT
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert "timeout" in run.state.workflow.error.message


def test_without_a_signal_source_a_gate_waits(tmp_path: Path) -> None:
    engine, _ = harness.make_engine(gate_workflows)
    run = Run(harness.workflow_object(gate_workflows.asks_for_n, tmp_path))
    assert engine.round(run, time.time()) is False
    assert run.state.node("n0").phase == NodePhase.RUNNING
    assert "no signal source" in run.state.node("n0").message
