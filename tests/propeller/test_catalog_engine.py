"""The task cache in the engine (in-process harness, a real SQLite catalog): hits skip the task,
misses run and populate, overwrite_cache reruns, failures store nothing, cache serialization
lets one of two concurrent executions run the task and the other take its result."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from flytecore import map_task, task, workflow
from flytecore.propeller.catalog import SqlCatalog, catalog_key
from flytecore.propeller.engine import Engine, Run
from flytecore.propeller.events import as_spec
from flytecore.propeller.sink import decode_event, encode_event
from flytecore.spec.events import CatalogCacheStatus, NodeExecutionEvent, TaskExecutionEvent
from flytecore.spec.phases import NodeExecutionPhase, NodePhase, WorkflowExecutionPhase
from flytecore.spec.workflow_object import WorkflowObject
from tests.propeller import harness

THIS = sys.modules[__name__]
PREFIX = f"{__name__}."
counter = {"n": 0}


@task(cache=True, cache_version="1", cache_ignore_input_vars=("note",))
def numbered(x: int, note: str = "") -> int:
    """Returns a new number on every run: a rerun is visible in the outputs."""
    counter["n"] += 1
    return x * 1000 + counter["n"]


@task(cache=True, cache_version="1")
def broken(x: int) -> int:
    raise ValueError(f"bad value {x}")


@task(cache=True, cache_version="1", cache_serialize=True)
def serialized(x: int) -> int:
    return x * x


@task(cache=True, cache_version="1")
def square(x: int) -> int:
    return x * x


@workflow
def cached(x: int = 1, note: str = "") -> int:
    return numbered(x=x, note=note)


@workflow
def fails(x: int = 1) -> int:
    return broken(x=x)


@workflow
def serial(x: int = 3) -> int:
    return serialized(x=x)


@workflow
def mapped(xs: list[int]) -> list[int]:
    return map_task(square)(x=xs)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    opened = SqlCatalog.from_url(f"sqlite:///{tmp_path / 'propeller.db'}")
    yield opened
    opened.close()


def engine_with(catalog: Any) -> tuple[Engine, harness.InProcessExecutor]:
    engine, executor = harness.make_engine(THIS)
    engine.services.catalog = catalog
    return engine, executor


def run(engine: Engine, obj: WorkflowObject) -> Run:
    r = Run(obj)
    harness.run_to_end(engine, r)
    return r


def output(r: Run) -> Any:
    assert r.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED, r.state.workflow.error
    lit = r.state.workflow.outputs.literals["o0"]  # type: ignore[union-attr]
    if lit.collection is not None:
        return [item.scalar.primitive.integer for item in lit.collection]
    return lit.scalar.primitive.integer


def node_events(r: Run, node_id: str) -> list[NodeExecutionEvent]:
    return [e for e in map(as_spec, r.events) if isinstance(e, NodeExecutionEvent) and e.id.node_id == node_id]


def task_events(r: Run, node_id: str) -> list[TaskExecutionEvent]:
    return [
        e
        for e in map(as_spec, r.events)
        if isinstance(e, TaskExecutionEvent) and e.parent_node_execution_id.node_id == node_id
    ]


def with_task_metadata(obj: WorkflowObject, **changes: Any) -> WorkflowObject:
    """``obj`` with the metadata of every task changed (as a re-registered task would be)."""
    tasks = tuple(
        attrs.evolve(
            t, template=attrs.evolve(t.template, metadata=attrs.evolve(t.template.metadata, **changes))
        )
        for t in obj.closure.tasks
    )
    return attrs.evolve(obj, closure=attrs.evolve(obj.closure, tasks=tasks))


def reservations(catalog: SqlCatalog) -> int:
    with catalog.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM propeller_catalog_reservations").scalar_one())


def calls_of(executor: harness.InProcessExecutor, name: str) -> int:
    return sum(1 for called, _ in executor.calls if called == PREFIX + name)


def test_the_second_run_is_a_cache_hit_and_does_not_run_the_task(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    first = run(engine, harness.workflow_object(cached, tmp_path, {"x": 2}))
    assert calls_of(executor, "numbered") == 1
    assert first.state.node("n0").cache_status == CatalogCacheStatus.CACHE_POPULATED
    assert node_events(first, "n0")[-1].task_node_metadata.cache_status == CatalogCacheStatus.CACHE_POPULATED  # type: ignore[union-attr]

    # Another execution, another propeller (engine), the same catalog; a different ignored input.
    engine2, executor2 = engine_with(catalog)
    second = run(engine2, harness.workflow_object(cached, tmp_path, {"x": 2, "note": "other"}))
    assert executor2.calls == []
    assert output(second) == output(first)
    status = second.state.node("n0")
    assert status.phase == NodePhase.SUCCEEDED and status.cache_status == CatalogCacheStatus.CACHE_HIT
    assert f":{first.execution_id.name} node n0" in status.message
    done = node_events(second, "n0")[-1]
    assert done.phase == NodeExecutionPhase.SUCCEEDED
    assert done.task_node_metadata.cache_status == CatalogCacheStatus.CACHE_HIT  # type: ignore[union-attr]
    assert done.output_data == first.state.node("n0").outputs
    assert decode_event(encode_event(done)) == done  # it survives the outbox
    assert task_events(second, "n0") == []  # no attempt ran


def test_other_inputs_or_a_new_cache_version_miss(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    obj = harness.workflow_object(cached, tmp_path, {"x": 2})
    first = output(run(engine, obj))
    other_inputs = run(engine, harness.workflow_object(cached, tmp_path, {"x": 3}))
    assert calls_of(executor, "numbered") == 2 and output(other_inputs) != first
    bumped = run(
        engine, with_task_metadata(harness.workflow_object(cached, tmp_path, {"x": 2}), discovery_version="2")
    )
    assert calls_of(executor, "numbered") == 3 and output(bumped) != first
    assert bumped.state.node("n0").cache_status == CatalogCacheStatus.CACHE_POPULATED
    # Both versions stay cached.
    again = run(engine, harness.workflow_object(cached, tmp_path, {"x": 2}))
    assert calls_of(executor, "numbered") == 3 and output(again) == first


def test_an_uncached_task_or_no_catalog_always_runs(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    for _ in range(2):
        r = run(
            engine,
            with_task_metadata(harness.workflow_object(cached, tmp_path, {"x": 2}), discoverable=False),
        )
        assert r.state.node("n0").cache_status == CatalogCacheStatus.CACHE_DISABLED
    engine2, executor2 = engine_with(None)
    for _ in range(2):
        run(engine2, harness.workflow_object(cached, tmp_path, {"x": 2}))
    assert calls_of(executor, "numbered") == 2 and calls_of(executor2, "numbered") == 2


def test_overwrite_cache_reruns_and_replaces_the_entry(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    first = output(run(engine, harness.workflow_object(cached, tmp_path, {"x": 5})))
    overwriting = run(engine, harness.workflow_object(cached, tmp_path, {"x": 5}, overwrite_cache=True))
    assert calls_of(executor, "numbered") == 2
    assert output(overwriting) != first
    events = node_events(overwriting, "n0")
    assert events[-1].task_node_metadata.cache_status == CatalogCacheStatus.CACHE_POPULATED  # type: ignore[union-attr]
    later = run(engine, harness.workflow_object(cached, tmp_path, {"x": 5}))
    assert calls_of(executor, "numbered") == 2
    assert output(later) == output(overwriting)
    node = overwriting.obj.closure.primary.template.nodes[0]
    template = overwriting.closure.task(node.task_node.reference_id)  # type: ignore[union-attr]
    entry = catalog.get(catalog_key(template, overwriting.obj.inputs))  # the node's inputs are the workflow's
    assert entry is not None and entry.source_execution.endswith(f":{overwriting.execution_id.name}")


def test_a_failed_task_populates_nothing(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    for _ in range(2):
        r = run(engine, harness.workflow_object(fails, tmp_path, {"x": 1}))
        assert r.state.workflow.phase == WorkflowExecutionPhase.FAILED
        assert r.state.node("n0").cache_status == CatalogCacheStatus.CACHE_MISS
    assert calls_of(executor, "broken") == 2
    with catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM propeller_catalog_entries").scalar() == 0


def test_map_task_elements_are_cached_one_by_one(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    assert output(run(engine, harness.workflow_object(mapped, tmp_path, {"xs": [1, 2]}))) == [1, 4]
    assert calls_of(executor, "square") == 2
    second = run(engine, harness.workflow_object(mapped, tmp_path, {"xs": [2, 3, 1]}))
    assert output(second) == [4, 9, 1]
    assert calls_of(executor, "square") == 3  # only x=3 was new
    statuses = sorted(s.cache_status for k, s in second.state.nodes.items() if k.startswith("n0-"))
    assert statuses == sorted([CatalogCacheStatus.CACHE_HIT] * 2 + [CatalogCacheStatus.CACHE_POPULATED])


class FailingCatalog:
    """A catalog whose every call fails (a database that is down)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: object, **_kw: object) -> None:
            raise ConnectionError(f"catalog {name} failed")

        return fail


def test_a_failing_catalog_never_fails_the_node(tmp_path: Path) -> None:
    engine, executor = engine_with(FailingCatalog())
    executor.hold.add(PREFIX + "serialized")
    r = Run(harness.workflow_object(serial, tmp_path))
    engine.round(r, time.time())
    assert r.state.node("n0").cache_status == CatalogCacheStatus.CACHE_LOOKUP_FAILURE
    assert node_events(r, "n0")[-1].task_node_metadata.cache_status == CatalogCacheStatus.CACHE_LOOKUP_FAILURE  # type: ignore[union-attr]
    executor.hold.clear()
    harness.run_to_end(engine, r)
    assert output(r) == 9 and calls_of(executor, "serialized") == 1
    assert r.state.node("n0").cache_status == CatalogCacheStatus.CACHE_PUT_FAILURE


def test_cache_serialized_runs_launched_together_run_the_task_once(
    tmp_path: Path, catalog: SqlCatalog
) -> None:
    engine, executor = engine_with(catalog)
    executor.hold.add(PREFIX + "serialized")
    a = Run(harness.workflow_object(serial, tmp_path))
    b = Run(harness.workflow_object(serial, tmp_path))
    now = time.time()
    engine.round(a, now)
    engine.round(b, now)
    assert a.state.node("n0").plugin_state  # a's attempt started
    # a holds the reservation: it asks for a round before it could expire, to extend it.
    assert a.wake_at is not None and a.wake_at <= now + engine.config.poll_interval
    waiting = b.state.node("n0")
    assert waiting.phase == NodePhase.RUNNING and not waiting.plugin_state  # b's did not
    assert (
        f":{a.execution_id.name}/n0" in waiting.message
        and waiting.cache_status == CatalogCacheStatus.CACHE_MISS
    )
    assert b.wake_at is not None  # b looks again without being woken
    # b keeps waiting while a runs (a extends its reservation at every round).
    for step in range(1, 4):
        engine.round(a, now + 10 * step)
        engine.round(b, now + 10 * step)
        assert not b.state.node("n0").plugin_state
    executor.hold.clear()
    harness.run_to_end(engine, a)
    harness.run_to_end(engine, b)
    assert calls_of(executor, "serialized") == 1
    assert output(a) == output(b) == 9
    assert a.state.node("n0").cache_status == CatalogCacheStatus.CACHE_POPULATED
    assert b.state.node("n0").cache_status == CatalogCacheStatus.CACHE_HIT
    assert reservations(catalog) == 0  # a released it after storing its outputs


def test_a_waiting_run_takes_over_when_the_holder_stops_extending(
    tmp_path: Path, catalog: SqlCatalog
) -> None:
    engine, executor = engine_with(catalog)
    executor.hold.add(PREFIX + "serialized")
    a = Run(harness.workflow_object(serial, tmp_path))
    b = Run(harness.workflow_object(serial, tmp_path))
    now = time.time()
    engine.round(a, now)  # a takes the reservation, then its propeller dies
    engine.round(b, now)
    assert not b.state.node("n0").plugin_state
    executor.hold.clear()
    expired = now + engine.config.poll_interval * catalog.grace_multiplier
    assert engine.round(b, expired) is True
    assert output(b) == 9 and calls_of(executor, "serialized") == 1
    assert b.state.node("n0").cache_status == CatalogCacheStatus.CACHE_POPULATED


def test_an_aborted_holder_releases_its_reservation(tmp_path: Path, catalog: SqlCatalog) -> None:
    engine, executor = engine_with(catalog)
    executor.hold.add(PREFIX + "serialized")
    a = Run(harness.workflow_object(serial, tmp_path))
    engine.round(a, time.time())
    assert reservations(catalog) == 1
    a.state.workflow.abort_cause = "stopped"
    assert engine.round(a, time.time()) is True
    assert a.state.workflow.phase == WorkflowExecutionPhase.ABORTED
    assert reservations(catalog) == 0
