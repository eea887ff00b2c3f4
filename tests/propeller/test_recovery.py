"""Durability: a propeller killed with SIGKILL mid-execution, and a new one finishing the work
without re-running finished nodes; two propellers on one store never run the same round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from flytecore.plugin import get_host
from flytecore.propeller.backends.local import WorkerPool
from flytecore.propeller.backends.local.executor import ContainerExecutor, LocalBackend
from flytecore.propeller.context import Services
from flytecore.propeller.data import FsspecDataStore
from flytecore.propeller.engine import Engine
from flytecore.propeller.runner import Propeller, add_to_store, execution_key
from flytecore.propeller.state import load_workflow
from flytecore.propeller.store import SqlWorkflowStore
from flytecore.spec.phases import WorkflowExecutionPhase
from flytecore.spec.workflow_object import WorkflowObject
from tests.propeller import harness, kill_tasks

ROOT = Path(__file__).parents[2]


def build_propeller(store_url: str, home: Path, workers: int = 1) -> tuple[Propeller, WorkerPool]:
    data = FsspecDataStore()
    pool = WorkerPool(workers, log_dir=home / "workers")
    backend = LocalBackend(ContainerExecutor(pool, data, home / "logs"), list(get_host().task_types))
    store = SqlWorkflowStore.from_url(store_url)
    return Propeller(store, Engine(Services(data=data, tasks=backend)), lease_seconds=2.0), pool


def lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


@pytest.mark.slow
def test_a_killed_propeller_is_replaced_and_finished_nodes_do_not_run_again(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    store_url = f"sqlite:///{tmp_path / 'propeller.db'}"
    obj = harness.workflow_object(kill_tasks.chain, tmp_path / "data", {"marker": str(marker), "x": 0})
    store = SqlWorkflowStore.from_url(store_url)
    Propeller(store, Engine(Services(data=FsspecDataStore(), tasks=None))).launch(obj)  # type: ignore[arg-type]

    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.propeller.kill_target", store_url, str(tmp_path / "first")],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(1 for line in lines(marker) if line.startswith("done")) < 2:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the first propeller made no progress"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the propeller and its workers, mid-task
        process.wait()
    finished_before = {line.split()[1] for line in lines(marker) if line.startswith("done")}
    assert finished_before and len(finished_before) < 6

    propeller, pool = build_propeller(store_url, tmp_path / "second")
    try:
        time.sleep(2.1)  # the dead propeller's lease runs out
        propeller.run_until_idle(timeout=90)
    finally:
        pool.close()
    snapshot = store.get(execution_key(obj.execution_id))
    assert snapshot is not None
    status = load_workflow(snapshot.state)
    assert status.phase == WorkflowExecutionPhase.SUCCEEDED, status.error
    assert status.outputs.literals["o0"].scalar.primitive.integer == 6
    done = [line.split()[1] for line in lines(marker) if line.startswith("done")]
    assert sorted(set(done), key=int) == [str(i) for i in range(6)]
    for x in finished_before:
        assert done.count(x) == 1, f"step {x} finished before the kill and ran again: {lines(marker)}"
    events = store.pending_events(10_000)
    assert events, "the outbox keeps the events of both propellers until an admin takes them"


def test_two_propellers_on_one_store_run_every_execution_once(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'propeller.db'}"
    first, pool1 = build_propeller(store_url, tmp_path / "a")
    second, pool2 = build_propeller(store_url, tmp_path / "b")
    try:
        objs = [harness.workflow_object(kill_tasks.chain, tmp_path / "data", {"marker": str(tmp_path / f"m{i}")}) for i in range(3)]
        for obj in objs:
            first.launch(obj)
            # Stored without its inputs and its closure (the admin stored them at inputs_uri and
            # closure_uri): whichever propeller takes it reads them from there (the tasks get the
            # marker path from the inputs).
            snapshot = first.store.get(execution_key(obj.execution_id))
            assert snapshot is not None
            stored = json.loads(snapshot.obj)
            assert stored["inputs"] is None and stored["closure"] is None
            assert stored["closure_uri"] == obj.closure_uri
        first.start()
        second.start()
        deadline = time.monotonic() + 120
        while not all(
            load_workflow(first.store.get(execution_key(o.execution_id)).state).phase.is_terminal for o in objs  # type: ignore[union-attr]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        first.stop()
        second.stop()
        pool1.close()
        pool2.close()
    for i in range(3):
        done = [line for line in lines(tmp_path / f"m{i}") if line.startswith("done")]
        assert len(done) == 6, done  # every step exactly once, whichever propeller ran it


def test_a_propeller_that_did_not_launch_an_execution_reads_its_closure_from_closure_uri(tmp_path: Path) -> None:
    """The store keeps the object without its compiled closure (the admin wrote it at
    closure_uri when it compiled the version): a propeller taking the execution over reads it
    from there; if the file is gone, the round fails naming it, and the stored execution is
    left as it was (QUEUED, for whoever can read it)."""
    store_url = f"sqlite:///{tmp_path / 'propeller.db'}"
    objs = [harness.workflow_object(kill_tasks.chain, tmp_path / "data", {"marker": str(tmp_path / f"m{i}")}) for i in range(2)]
    with SqlWorkflowStore.from_url(store_url) as store:
        for obj in objs:
            add_to_store(store, obj)
    Path(objs[1].closure_uri).unlink()
    propeller, pool = build_propeller(store_url, tmp_path / "p")
    try:
        with pytest.raises(TimeoutError):  # the second never starts
            propeller.run_until_idle(timeout=10)
        store = propeller.store
        first, second = (store.get(execution_key(o.execution_id)) for o in objs)
        assert first is not None and load_workflow(first.state).phase == WorkflowExecutionPhase.SUCCEEDED
        assert second is not None and load_workflow(second.state).phase == WorkflowExecutionPhase.QUEUED
        assert len([line for line in lines(tmp_path / "m0") if line.startswith("done")]) == 6  # every step once
        with pytest.raises(FileNotFoundError, match=f"compiled workflow of execution .* missing from {objs[1].closure_uri}"):
            propeller._load_offloaded(second.execution_id, WorkflowObject(**{**attrs.asdict(objs[1], recurse=False), "closure": None}))
    finally:
        propeller.stop()
        pool.close()
