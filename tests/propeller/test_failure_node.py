"""The on-failure handler node (``@workflow(on_failure=...)``, the template's ``failure_node``):
run once when the workflow fails, with the workflow's inputs and ``err``, never on success or
abort; the workflow keeps its original error."""

from __future__ import annotations

import sys
import time
import typing
from pathlib import Path

from flytecore import FlyteError, task, workflow
from flytecore.propeller.engine import Run
from flytecore.propeller.state import ExecutionState, dump_node, dump_workflow
from flytecore.sdk.workflow import WorkflowFailurePolicy
from flytecore.spec.events import NodeExecutionEvent
from flytecore.spec.phases import NodeExecutionPhase, NodePhase, WorkflowExecutionPhase
from flytecore.spec.types import Error
from tests.propeller import harness
from tests.propeller.harness import event_inputs

THIS = sys.modules[__name__]
PREFIX = f"{__name__}."
handled: list[tuple[str, int, FlyteError | None]] = []


@task
def inc(x: int) -> int:
    return x + 1


@task
def slow(x: int) -> int:
    return x


@task
def broken(x: int) -> int:
    raise ValueError(f"bad value {x}")


@task
def clean_up(name: str, x: int, err: typing.Optional[FlyteError] = None) -> None:  # noqa: UP045 (flytekit's spelling)
    handled.append((name, x, err))


@task
def clean_up_required_err(name: str, x: int, err: FlyteError) -> None:
    handled.append((name, x, err))


@task
def clean_up_without_err(name: str, x: int) -> None:
    handled.append((name, x, None))


@task
def clean_up_fails(name: str, x: int, err: FlyteError | None = None) -> None:
    raise RuntimeError(f"cleanup of {name} broke")


@workflow
def clean_up_wf(name: str, x: int, err: FlyteError | None = None) -> None:
    clean_up(name=name, x=x, err=err)


@workflow(on_failure=clean_up)
def fails(name: str = "cluster", x: int = 1) -> int:
    return inc(x=broken(x=x))


@workflow(on_failure=clean_up, failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def fails_late(name: str = "cluster", x: int = 1) -> int:
    broken(x=x)
    return inc(x=slow(x=x))


@workflow(on_failure=clean_up)
def fails_fast_with_a_slow_node(name: str = "cluster", x: int = 1) -> int:
    s = slow(x=x)  # n0: running when n2 fails (n2 waits for n1, so n0 starts first in any order)
    broken(x=inc(x=x))
    return s


@workflow(on_failure=clean_up)
def succeeds(name: str = "cluster", x: int = 1) -> int:
    return inc(x=x)


@workflow(on_failure=clean_up)
def held(name: str = "cluster", x: int = 1) -> int:
    return slow(x=x)


@workflow(on_failure=clean_up_fails)
def handler_fails(name: str = "cluster", x: int = 1) -> int:
    return broken(x=x)


@workflow(on_failure=clean_up_required_err)
def required_err(name: str = "cluster", x: int = 1) -> int:
    return broken(x=x)


@workflow(on_failure=clean_up_without_err)
def without_err(name: str = "cluster", x: int = 1) -> int:
    return broken(x=x)


@workflow(on_failure=clean_up_wf)
def subworkflow_handler(name: str = "cluster", x: int = 1) -> int:
    return broken(x=x)


@workflow(on_failure=clean_up)
def sub_fails(name: str, x: int) -> int:
    return broken(x=x)


@workflow(on_failure=clean_up)
def parent_of_a_failing_sub(name: str = "parent", x: int = 1) -> int:
    return sub_fails(name="child", x=x)


def run_to_end(wf: typing.Any, tmp_path: Path, **inputs: typing.Any) -> tuple[Run, harness.InProcessExecutor]:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    run = Run(harness.workflow_object(wf, tmp_path, inputs))
    harness.run_to_end(engine, run)
    return run, executor


def node_events(run: Run, node_id: str) -> list[NodeExecutionEvent]:
    return [e for e in harness.spec_events(run) if isinstance(e, NodeExecutionEvent) and e.id.node_id == node_id]


def test_a_failing_workflow_runs_its_handler_once_and_keeps_its_error(tmp_path: Path) -> None:
    run, executor = run_to_end(fails, tmp_path, name="c1", x=5)
    wf = run.state.workflow
    assert wf.phase == WorkflowExecutionPhase.FAILED
    assert "bad value 5" in wf.error.message and wf.failed_node == "n0"
    assert [c[0] for c in executor.calls].count(f"{PREFIX}clean_up") == 1
    assert len(handled) == 1
    name, x, err = handled[0]
    assert (name, x) == ("c1", 5)
    assert err is not None and err.failed_node_id == "n0" and err.message == wf.error.message
    assert run.state.node("fn0").phase == NodePhase.SUCCEEDED
    assert run.state.node("n1").phase == NodePhase.NOT_YET_STARTED  # behind the failed node


def test_the_handler_node_is_reported_to_the_admin_with_its_inputs(tmp_path: Path) -> None:
    run, _ = run_to_end(fails, tmp_path, name="c1", x=5)
    events = node_events(run, "fn0")
    phases = [e.phase for e in events]
    assert phases[0] == NodeExecutionPhase.QUEUED and phases[-1] == NodeExecutionPhase.SUCCEEDED
    assert events[0].parent_node_metadata is None and events[0].spec_node_id == "fn0"
    inputs = event_inputs(events[0])  # a task node: its inputs are in storage
    assert inputs is not None
    assert inputs.literals["name"].scalar.primitive.string_value == "c1"
    union = inputs.literals["err"].scalar.union
    assert union is not None and union.type.structure.tag == "FlyteError"
    assert union.value.scalar.error == Error(failed_node_id="n0", message=run.state.workflow.error.message)


def test_workflow_events_go_failing_then_failed_after_the_handler(tmp_path: Path) -> None:
    from flytecore.spec.events import WorkflowExecutionEvent

    run, _ = run_to_end(fails, tmp_path)
    order = [
        ("wf", e.phase) if isinstance(e, WorkflowExecutionEvent) else ("fn0", e.phase)
        for e in harness.spec_events(run)
        if isinstance(e, WorkflowExecutionEvent)
        or (isinstance(e, NodeExecutionEvent) and e.id.node_id == "fn0")
    ]
    failing = order.index(("wf", WorkflowExecutionPhase.FAILING))
    failed = order.index(("wf", WorkflowExecutionPhase.FAILED))
    handler = [i for i, (who, _) in enumerate(order) if who == "fn0"]
    assert failing < min(handler) and max(handler) < failed
    assert order[-1] == ("wf", WorkflowExecutionPhase.FAILED)


def test_fail_after_executable_nodes_complete_runs_independent_nodes_before_the_handler(
    tmp_path: Path,
) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}slow")
    run = Run(harness.workflow_object(fails_late, tmp_path, {"x": 3}))
    for _ in range(3):
        assert engine.round(run, time.time()) is False
    # n0 failed, but slow (n1) still runs: the workflow is not failing yet and the handler waits.
    assert run.state.node("n0").phase == NodePhase.FAILED
    assert run.state.node("n1").phase == NodePhase.RUNNING
    assert run.state.workflow.phase == WorkflowExecutionPhase.RUNNING
    assert run.state.peek("fn0") is None and handled == []
    executor.hold.clear()
    harness.run_to_end(engine, run)
    names = [c[0].removeprefix(PREFIX) for c in executor.calls]
    assert names[-1] == "clean_up" and names.count("clean_up") == 1
    assert names.index("slow") < names.index("inc") < names.index("clean_up")
    assert run.state.node("n2").phase == NodePhase.SUCCEEDED
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert "bad value 3" in run.state.workflow.error.message
    assert handled[0][2] is not None and handled[0][2].failed_node_id == "n0"


def test_fail_immediately_aborts_running_nodes_then_runs_the_handler(tmp_path: Path) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}slow")
    run = Run(harness.workflow_object(fails_fast_with_a_slow_node, tmp_path))
    harness.run_to_end(engine, run)
    assert executor.aborted == [f"{PREFIX}slow"]
    assert run.state.node("n0").phase == NodePhase.ABORTED
    assert len(handled) == 1 and run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert handled[0][2] is not None and handled[0][2].failed_node_id == "n2"


def test_a_succeeding_workflow_never_runs_the_handler(tmp_path: Path) -> None:
    run, executor = run_to_end(succeeds, tmp_path, x=1)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 2
    assert handled == [] and f"{PREFIX}clean_up" not in [c[0] for c in executor.calls]
    assert run.state.peek("fn0") is None and node_events(run, "fn0") == []
    assert not run.state.workflow.failure_node_started


def test_a_failing_handler_leaves_the_original_error(tmp_path: Path) -> None:
    run, _ = run_to_end(handler_fails, tmp_path, name="c2", x=7)
    wf = run.state.workflow
    assert wf.phase == WorkflowExecutionPhase.FAILED
    assert "bad value 7" in wf.error.message and "cleanup" not in wf.error.message
    assert wf.failed_node == "n0"
    fn0 = run.state.node("fn0")
    assert fn0.phase == NodePhase.FAILED and "cleanup of c2 broke" in fn0.error.message
    events = node_events(run, "fn0")
    assert events[-1].phase == NodeExecutionPhase.FAILED
    assert events[-1].error is not None and "cleanup of c2 broke" in events[-1].error.message


def test_an_abort_never_runs_the_handler(tmp_path: Path) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}slow")
    run = Run(harness.workflow_object(held, tmp_path))
    engine.round(run, time.time())
    run.state.workflow.abort_cause = "stopped by alice"
    assert engine.round(run, time.time()) is True
    assert run.state.workflow.phase == WorkflowExecutionPhase.ABORTED
    assert run.state.peek("fn0") is None and handled == [] and node_events(run, "fn0") == []
    assert executor.aborted == [f"{PREFIX}slow"]


def test_an_abort_stops_a_running_handler(tmp_path: Path) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}clean_up")
    run = Run(harness.workflow_object(fails, tmp_path))
    for _ in range(3):
        engine.round(run, time.time())
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILING
    assert run.state.node("fn0").phase == NodePhase.RUNNING
    run.state.workflow.abort_cause = "stopped by alice"
    assert engine.round(run, time.time()) is True
    assert run.state.workflow.phase == WorkflowExecutionPhase.ABORTED
    assert run.state.node("fn0").phase == NodePhase.ABORTED
    assert executor.aborted == [f"{PREFIX}clean_up"] and handled == []
    assert node_events(run, "fn0")[-1].phase == NodeExecutionPhase.ABORTED


def test_err_takes_the_declared_type_or_is_left_out(tmp_path: Path) -> None:
    run, _ = run_to_end(required_err, tmp_path, x=2)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert handled[0][2] == FlyteError(message=run.state.workflow.error.message, failed_node_id="n0")
    event = node_events(run, "fn0")[0]
    inputs = event_inputs(event)
    assert inputs is not None and inputs.literals["err"].scalar.error is not None

    run, _ = run_to_end(without_err, tmp_path, x=2)
    assert run.state.node("fn0").phase == NodePhase.SUCCEEDED and handled == [("cluster", 2, None)]
    event = node_events(run, "fn0")[0]
    inputs = event_inputs(event)
    assert inputs is not None and set(inputs.literals) == {"name", "x"}


def test_a_workflow_as_handler_runs_nested_under_the_failure_node(tmp_path: Path) -> None:
    run, _ = run_to_end(subworkflow_handler, tmp_path, name="c3", x=4)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert run.state.node("fn0").phase == NodePhase.SUCCEEDED
    assert run.state.node("fn0-0-n0").phase == NodePhase.SUCCEEDED
    assert handled == [("c3", 4, FlyteError(message=run.state.workflow.error.message, failed_node_id="n0"))]


def test_a_restarted_engine_finishes_the_handler_with_the_same_error(tmp_path: Path) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}clean_up")
    obj = harness.workflow_object(fails, tmp_path, {"x": 9})
    run = Run(obj)
    for _ in range(3):
        engine.round(run, time.time())
    assert run.state.node("fn0").phase == NodePhase.RUNNING
    saved_wf = dump_workflow(run.state.workflow)
    saved_nodes = {k: dump_node(s) for k, s in run.state.nodes.items()}
    engine2, executor2 = harness.make_engine(THIS)
    run2 = Run(obj, ExecutionState.load(saved_wf, saved_nodes.items()))
    assert run2.state.workflow.failure_node_started
    harness.run_to_end(engine2, run2)
    assert [c[0] for c in executor2.calls] == [f"{PREFIX}clean_up"]  # broken did not run again
    assert run2.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert handled == [
        ("cluster", 9, FlyteError(message=run2.state.workflow.error.message, failed_node_id="n0"))
    ]


def test_a_failing_subworkflow_runs_its_own_handler_then_the_parent_fails(tmp_path: Path) -> None:
    run, executor = run_to_end(parent_of_a_failing_sub, tmp_path, x=6)
    wf = run.state.workflow
    assert wf.phase == WorkflowExecutionPhase.FAILED and "bad value 6" in wf.error.message
    # Both handlers run, the subworkflow's first, each with its own inputs (as in Flyte).
    assert handled == [
        ("child", 6, FlyteError(message=wf.error.message, failed_node_id="n0-0-n0")),
        ("parent", 6, FlyteError(message=wf.error.message, failed_node_id="n0")),
    ]
    assert run.state.node("n0-0-fn0").phase == NodePhase.SUCCEEDED
    assert run.state.node("n0").phase == NodePhase.FAILED
    events = node_events(run, "n0-0-fn0")
    assert (
        events
        and events[0].parent_node_metadata is not None
        and events[0].parent_node_metadata.node_id == "n0"
    )


def test_aborting_a_subworkflow_stops_its_running_handler(tmp_path: Path) -> None:
    handled.clear()
    engine, executor = harness.make_engine(THIS)
    executor.hold.add(f"{PREFIX}clean_up")
    run = Run(harness.workflow_object(parent_of_a_failing_sub, tmp_path))
    for _ in range(3):
        engine.round(run, time.time())
    assert run.state.node("n0-0-fn0").phase == NodePhase.RUNNING
    assert run.state.node("n0").phase == NodePhase.RUNNING  # the node waits for its handler
    run.state.workflow.abort_cause = "stopped by bob"
    assert engine.round(run, time.time()) is True
    assert run.state.node("n0-0-fn0").phase == NodePhase.ABORTED
    assert executor.aborted == [f"{PREFIX}clean_up"] and run.state.peek("fn0") is None
