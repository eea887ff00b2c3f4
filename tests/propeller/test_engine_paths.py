"""Engine behaviour on each path: retries, failure policies, subworkflows, gates, parallelism,
timeouts, aborts, unknown task types and a restart from saved statuses."""

from __future__ import annotations

import collections
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flytecore import FlyteRecoverableException, map_task, sleep, task, workflow
from flytecore.propeller.context import Services, TaskTransition
from flytecore.propeller.data import FsspecDataStore
from flytecore.propeller.engine import Engine, Run
from flytecore.propeller.state import ExecutionState, dump_node, dump_workflow
from flytecore.sdk.workflow import WorkflowFailurePolicy
from flytecore.spec.events import NodeExecutionEvent, TaskExecutionEvent
from flytecore.spec.execution import ErrorKind
from flytecore.spec.phases import NodeExecutionPhase, NodePhase, TaskExecutionPhase, WorkflowExecutionPhase
from tests.propeller import harness

THIS = sys.modules[__name__]
flaky_calls = {"n": 0}


@task
def inc(x: int) -> int:
    return x + 1


@task(retries=2)
def flaky(x: int) -> int:
    flaky_calls["n"] += 1
    if flaky_calls["n"] < 3:
        raise FlyteRecoverableException(f"try {flaky_calls['n']}")
    return x


@task(retries=5)
def broken(x: int) -> int:
    raise ValueError(f"bad value {x}")


@task
def slow(x: int) -> int:
    return x


@workflow
def chain(x: int = 1) -> int:
    return inc(x=inc(x=inc(x=x)))


@workflow
def with_flaky(x: int = 7) -> int:
    return flaky(x=x)


@workflow
def fails_fast(x: int = 1) -> int:
    a = broken(x=x)
    b = inc(x=x)
    return inc(x=a) + 0 if False else b


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def fails_late(x: int = 1) -> int:
    broken(x=x)
    return inc(x=inc(x=x))


@workflow
def inner(x: int) -> int:
    return inc(x=inc(x=x))


@workflow
def outer(x: int = 0) -> int:
    return inner(x=inner(x=x))


@workflow
def napping(x: int = 0) -> int:
    nap = sleep(timedelta(seconds=0.2))
    y = inc(x=x)
    nap >> y
    return y


@workflow
def wide(x: int = 0) -> list[int]:
    return [inc(x=x), inc(x=x), inc(x=x), inc(x=x)]


@workflow
def mapped_three_at_a_time(xs: list[int]) -> list[int]:
    return map_task(inc, concurrency=3)(x=xs)


@workflow
def held(x: int = 0) -> int:
    return slow(x=x)


def finish(run_obj, tmp_path, **config):  # type: ignore[no-untyped-def]
    engine, executor = harness.make_engine(THIS, **config)
    run = Run(run_obj)
    harness.run_to_end(engine, run)
    return run, executor


def test_chain_passes_values_along(tmp_path: Path) -> None:
    run, executor = finish(harness.workflow_object(chain, tmp_path, {"x": 1}), tmp_path)
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 4
    assert len(executor.calls) == 3


def test_recoverable_user_errors_are_retried_within_the_task_retries(tmp_path: Path) -> None:
    flaky_calls["n"] = 0
    run, executor = finish(harness.workflow_object(with_flaky, tmp_path), tmp_path)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert executor.calls == [("tests.propeller.test_engine_paths.flaky", a) for a in (0, 1, 2)]
    status = run.state.node("n0")
    assert (status.user_failures, status.system_failures, status.attempts) == (2, 0, 3)
    events = [e for e in harness.spec_events(run) if isinstance(e, TaskExecutionEvent)]
    assert [(e.retry_attempt, e.phase) for e in events] == [
        (0, TaskExecutionPhase.RETRYABLE_FAILED),
        (1, TaskExecutionPhase.RETRYABLE_FAILED),
        (2, TaskExecutionPhase.SUCCEEDED),
    ]


def test_non_recoverable_user_error_fails_at_once_with_the_message(tmp_path: Path) -> None:
    run, executor = finish(harness.workflow_object(fails_fast, tmp_path), tmp_path)
    wf = run.state.workflow
    assert wf.phase == WorkflowExecutionPhase.FAILED
    assert "bad value 1" in wf.error.message and wf.error.kind == ErrorKind.USER
    assert [c for c in executor.calls if c[0].endswith("broken")] == [
        ("tests.propeller.test_engine_paths.broken", 0)
    ]


def test_system_failures_have_their_own_budget(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(THIS, max_system_retries=2)
    executor.system_failures["tests.propeller.test_engine_paths.inc"] = 2
    run = Run(harness.workflow_object(chain, tmp_path))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert run.state.node("n0").system_failures == 2 and run.state.node("n0").user_failures == 0

    engine, executor = harness.make_engine(THIS, max_system_retries=2)
    executor.system_failures["tests.propeller.test_engine_paths.inc"] = 3
    run = Run(harness.workflow_object(chain, tmp_path))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert run.state.workflow.error.kind == ErrorKind.SYSTEM


def test_an_attempt_keeps_its_task_context_while_it_runs_and_a_retry_gets_its_own(tmp_path: Path) -> None:
    from flytecore.propeller.context import TASK_CONTEXTS

    engine, executor = harness.make_engine(THIS, max_system_retries=2)
    name = "tests.propeller.test_engine_paths.inc"
    executor.system_failures[name] = 1
    seen: list[tuple[int, float, Any]] = []
    handle = executor.handle

    def recording(ctx: Any) -> TaskTransition:
        seen.append((ctx.task_execution_id.retry_attempt, ctx.now, ctx))
        return handle(ctx)

    executor.handle = recording  # type: ignore[method-assign]
    executor.hold.add(name)
    run = Run(harness.workflow_object(chain, tmp_path))
    for now in (100.0, 101.0, 102.0):
        engine.round(run, now)
    # The first node's attempt ran through three rounds on one context, with each round's clock.
    assert [(attempt, now) for attempt, now, _ in seen] == [(0, 100.0), (0, 101.0), (0, 102.0)]
    assert len({id(ctx) for _, _, ctx in seen}) == 1
    assert set(run.memo[TASK_CONTEXTS]) == {"n0"}
    executor.hold.clear()
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    first = [ctx for attempt, _, ctx in seen[3:] if ctx.task_execution_id.node_execution_id.node_id == "n0"]
    # Its system failure ended it; the retry (attempt 1) got a context of its own.
    assert [c.task_execution_id.retry_attempt for c in first] == [0, 1]
    assert first[0] is seen[0][2] and first[1] is not first[0]
    assert first[1].output_prefix.endswith("/n0/1") and first[1].plugin_state is run.state.node("n0").plugin_state
    assert run.memo[TASK_CONTEXTS] == {}  # dropped as each attempt ended


def test_fail_after_executable_nodes_complete_runs_the_independent_nodes(tmp_path: Path) -> None:
    run, executor = finish(harness.workflow_object(fails_late, tmp_path), tmp_path)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert [c[0].rsplit(".", 1)[1] for c in executor.calls].count("inc") == 2
    assert run.state.workflow.failed_node == "n0"


def test_subworkflows_run_nested_with_unique_node_ids(tmp_path: Path) -> None:
    run, _ = finish(harness.workflow_object(outer, tmp_path, {"x": 0}), tmp_path)
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 4
    assert run.state.node("n1-0-n1").phase == NodePhase.SUCCEEDED
    events = [e for e in harness.spec_events(run) if isinstance(e, NodeExecutionEvent) and e.id.node_id == "n0-0-n0"]
    assert events and events[0].parent_node_metadata.node_id == "n0"


def test_sleep_gate_asks_for_a_round_when_due(tmp_path: Path) -> None:
    engine, _ = harness.make_engine(THIS)
    run = Run(harness.workflow_object(napping, tmp_path))
    start = time.time()
    assert engine.round(run, start) is False
    assert run.wake_at is not None and 0.1 < run.wake_at - start <= 0.2 + 1e-6
    assert (
        run.state.node("n0").phase == NodePhase.RUNNING
        and run.state.node("n1").phase == NodePhase.NOT_YET_STARTED
    )
    assert engine.round(run, start + 0.25) is True
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 1


def test_max_parallelism_holds_tasks_back(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(THIS)
    executor.hold.add("tests.propeller.test_engine_paths.inc")
    run = Run(harness.workflow_object(wide, tmp_path, max_parallelism=2))
    engine.round(run, time.time())
    running = [k for k, s in run.state.nodes.items() if s.phase == NodePhase.RUNNING]
    assert len(running) == 2
    executor.hold.clear()
    harness.run_to_end(engine, run)
    assert [lit.scalar.primitive.integer for lit in run.state.workflow.outputs.literals["o0"].collection] == [
        1
    ] * 4


class WakingExecutor(harness.InProcessExecutor):
    """Holds every attempt RUNNING until released, saying it wakes the node when it changes (as
    the local pool does); counts how often each node is asked."""

    def __init__(self, tasks: dict[str, Any]) -> None:
        super().__init__(tasks)
        self.asked: collections.Counter[str] = collections.Counter()
        self.released: set[str] = set()
        self.contexts_by_node: dict[str, Any] = {}

    def handle(self, ctx: Any) -> TaskTransition:
        key = ctx.task_execution_id.node_execution_id.node_id
        self.asked[key] += 1
        self.contexts_by_node[key] = ctx
        if key not in self.released:
            ctx.plugin_state["started"] = True
            return TaskTransition(TaskExecutionPhase.RUNNING, wakes=True)
        return super().handle(ctx)


def test_a_task_whose_executor_wakes_it_is_asked_again_only_when_woken(tmp_path: Path) -> None:
    executor = WakingExecutor(harness.tasks_of(THIS))
    engine = Engine(Services(data=FsspecDataStore(), tasks=harness.Backend(executor)))
    run = Run(harness.workflow_object(wide, tmp_path))
    engine.round(run, time.time())
    assert executor.asked == {"n0": 1, "n1": 1, "n2": 1, "n3": 1}
    for _ in range(3):
        engine.round(run, time.time())
    assert executor.asked == {"n0": 1, "n1": 1, "n2": 1, "n3": 1}  # nothing woke them: not asked
    executor.released.add("n1")
    executor.contexts_by_node["n1"].wake()
    engine.round(run, time.time())
    assert executor.asked == {"n0": 1, "n1": 2, "n2": 1, "n3": 1}
    assert run.state.node("n1").phase == NodePhase.SUCCEEDED
    executor.released.update({"n0", "n2", "n3"})
    for key in ("n0", "n2", "n3"):
        executor.contexts_by_node[key].wake()
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    executor.contexts_by_node["n0"].wake()  # a late wake of a finished execution is not kept
    assert engine._woken == {}
    # After a restart (a new run from the saved statuses) every running node is asked once.
    again = Run(harness.workflow_object(wide, tmp_path))
    executor.released.clear()
    engine.round(again, time.time())
    restarted = Run(again.obj, ExecutionState.load(dump_workflow(again.state.workflow), [
        (k, dump_node(s)) for k, s in again.state.nodes.items()
    ]))
    before = dict(executor.asked)
    engine.round(restarted, time.time())
    assert all(executor.asked[k] == before.get(k, 0) + 1 for k in restarted.state.nodes)


@pytest.mark.parametrize("max_parallelism", [0, 2])
def test_a_map_starts_its_held_back_elements_in_order_as_slots_free_up(tmp_path: Path, max_parallelism: int) -> None:
    engine, executor = harness.make_engine(THIS)
    executor.hold.add("tests.propeller.test_engine_paths.inc")
    run = Run(harness.workflow_object(mapped_three_at_a_time, tmp_path, {"xs": list(range(40))}, max_parallelism=max_parallelism))
    engine.round(run, time.time())
    running = sorted(k for k, s in run.state.nodes.items() if s.phase == NodePhase.RUNNING and k.startswith("n0-"))
    limit = min(3, max_parallelism or 3)
    assert running == [f"n0-0-{i}" for i in range(limit)]
    executor.hold.clear()
    started: list[int] = []
    while not run.state.workflow.phase.is_terminal:
        engine.round(run, time.time())
        now_running = [k for k, s in run.state.nodes.items() if k.startswith("n0-0-") and not s.phase.is_terminal]
        assert len(now_running) <= limit
        started.extend(int(k.rsplit("-", 1)[1]) for k in now_running if int(k.rsplit("-", 1)[1]) not in started)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert [lit.scalar.primitive.integer for lit in run.state.workflow.outputs.literals["o0"].collection] == [
        x + 1 for x in range(40)
    ]
    assert [name for name, _ in executor.calls] == ["tests.propeller.test_engine_paths.inc"] * 40


def test_timeout_retries_then_times_out(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(THIS)
    executor.hold.add("tests.propeller.test_engine_paths.slow")
    obj = harness.workflow_object(held, tmp_path)
    node = obj.closure.primary.template.nodes[0]
    import attrs

    from flytecore.spec.workflow import NodeMetadata

    timed = attrs.evolve(node, metadata=NodeMetadata(name="slow", timeout=timedelta(seconds=1)))
    primary = attrs.evolve(
        obj.closure.primary, template=attrs.evolve(obj.closure.primary.template, nodes=(timed,))
    )
    obj = attrs.evolve(obj, closure=attrs.evolve(obj.closure, primary=primary))
    run = Run(obj)
    now = time.time()
    engine.round(run, now)
    assert run.wake_at == pytest.approx(now + 1)  # the engine asks to look again at the deadline
    engine.round(run, now + 2)
    assert run.state.workflow.phase == WorkflowExecutionPhase.FAILED
    assert run.state.node("n0").phase == NodePhase.TIMED_OUT
    assert executor.aborted == ["tests.propeller.test_engine_paths.slow"]
    assert "timeout" in run.state.workflow.error.message


def test_abort_stops_running_nodes_and_ends_aborted(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(THIS)
    executor.hold.add("tests.propeller.test_engine_paths.slow")
    run = Run(harness.workflow_object(held, tmp_path))
    engine.round(run, time.time())
    run.state.workflow.abort_cause = "stopped by alice"
    assert engine.round(run, time.time()) is True
    assert run.state.workflow.phase == WorkflowExecutionPhase.ABORTED
    assert run.state.node("n0").phase == NodePhase.ABORTED
    assert executor.aborted == ["tests.propeller.test_engine_paths.slow"]
    phases = [e.phase for e in harness.spec_events(run) if isinstance(e, NodeExecutionEvent)]
    assert phases[-1] == NodeExecutionPhase.ABORTED


def test_unknown_task_type_names_the_type_and_the_installed_ones(tmp_path: Path) -> None:
    import attrs

    obj = harness.workflow_object(chain, tmp_path)
    tasks = tuple(attrs.evolve(t, template=attrs.evolve(t.template, type="spark")) for t in obj.closure.tasks)
    obj = attrs.evolve(obj, closure=attrs.evolve(obj.closure, tasks=tasks))
    run, _ = finish(obj, tmp_path)
    message = run.state.workflow.error.message
    assert "'spark'" in message and "python-task" in message and "flyte-plugin-spark" in message


def test_a_restarted_engine_continues_without_rerunning_finished_nodes(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(THIS)
    obj = harness.workflow_object(chain, tmp_path, {"x": 10})
    run = Run(obj)
    engine.round(run, time.time())
    # Simulate a crash after the first round: only what was saved survives.
    saved_wf = dump_workflow(run.state.workflow)
    saved_nodes = {k: dump_node(s) for k, s in run.state.nodes.items()}
    done_before = len(executor.calls)
    engine2, executor2 = harness.make_engine(THIS)
    run2 = Run(obj, ExecutionState.load(saved_wf, saved_nodes.items()))
    harness.run_to_end(engine2, run2)
    assert run2.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 13
    assert done_before + len(executor2.calls) == 3


@task(interruptible=True)
def spot(x: int) -> int:
    return x


@workflow
def on_spot(x: int = 1) -> int:
    return inc(x=spot(x=x))


@pytest.mark.parametrize(
    ("override", "expected"),
    [(None, {"spot": True, "inc": False}), (False, {"spot": False, "inc": False}), (True, {"spot": True, "inc": True})],
)
def test_interruptible_is_carried_to_the_task_from_task_or_execution(
    tmp_path: Path, override: bool | None, expected: dict[str, bool]
) -> None:
    run, executor = finish(harness.workflow_object(on_spot, tmp_path, interruptible=override), tmp_path)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    seen = {ctx.template.id.name.rsplit(".", 1)[1]: ctx.interruptible for ctx in executor.contexts}
    assert seen == expected
    flags = {ctx.template.id.name.rsplit(".", 1)[1]: ctx.environment.get("FLYTE_INTERNAL_INTERRUPTIBLE") for ctx in executor.contexts}
    assert flags == {name: ("true" if on else None) for name, on in expected.items()}


class FinalizingTaskHandler:
    """The real task handler with a finalize step that records calls and fails on demand."""

    def __init__(self, failures: int = 0) -> None:
        from flytecore.propeller.handlers import TaskHandler

        self.inner = TaskHandler()
        self.finalized: list[tuple[str, NodePhase]] = []
        self.failures = failures

    def handle(self, ctx):  # type: ignore[no-untyped-def]
        return self.inner.handle(ctx)

    def abort(self, ctx, cause):  # type: ignore[no-untyped-def]
        self.inner.abort(ctx, cause)

    def finalize(self, ctx):  # type: ignore[no-untyped-def]
        self.finalized.append((ctx.key, ctx.status.phase))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("cleanup failed")


def test_nodes_pass_through_succeeding_or_failing_while_their_handler_finalizes(tmp_path: Path) -> None:
    handler = FinalizingTaskHandler()
    engine, _ = harness.make_engine(THIS)
    engine.handlers["task"] = handler
    run = Run(harness.workflow_object(chain, tmp_path))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED
    assert handler.finalized == [("n0", NodePhase.SUCCEEDING), ("n1", NodePhase.SUCCEEDING), ("n2", NodePhase.SUCCEEDING)]

    handler = FinalizingTaskHandler()
    engine.handlers["task"] = handler
    run = Run(harness.workflow_object(fails_fast, tmp_path))
    harness.run_to_end(engine, run)
    assert ("n0", NodePhase.FAILING) in handler.finalized
    assert run.state.node("n0").phase == NodePhase.FAILED


def test_a_failed_finalize_is_retried_before_the_node_ends(tmp_path: Path) -> None:
    handler = FinalizingTaskHandler(failures=1)
    engine, _ = harness.make_engine(THIS)
    engine.handlers["task"] = handler
    run = Run(harness.workflow_object(chain, tmp_path, {"x": 1}))
    now = time.time()
    engine.round(run, now)
    assert run.state.node("n0").phase == NodePhase.SUCCEEDING  # outputs kept, end not reported yet
    assert run.wake_at == pytest.approx(now + 1.0)
    assert not any(isinstance(e, NodeExecutionEvent) and e.phase == NodeExecutionPhase.SUCCEEDED for e in harness.spec_events(run))
    harness.run_to_end(engine, run)
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.integer == 4
    assert handler.finalized.count(("n0", NodePhase.SUCCEEDING)) == 2
