"""A map's elements run in batches on the local backend (handlers/array_batch.py): each element
is still its own attempt (documents, logs, environment, retries), as the admin sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.propeller.backends.local.jobs import Job
from flytecore.propeller.backends.local.pool import WorkerPool
from flytecore.propeller.handlers.array_batch import MAX_BATCH
from flytecore.sdk.entrypoint import _parse_manifest
from flytecore.spec.phases import TaskExecutionPhase, WorkflowExecutionPhase
from tests.propeller import batch_tasks
from tests.propeller.test_sandbox import register, wait
from tests.propeller.test_sandbox_paths import start


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    jobs: list[Job] = []
    submit = WorkerPool.submit
    monkeypatch.setattr(WorkerPool, "submit", lambda pool, job: jobs.append(job) or submit(pool, job))
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)) as box:
        box.jobs = jobs  # type: ignore[attr-defined]
        yield box


def map_task_execution(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> task_execution_pb2.TaskExecution:
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n1", execution_id=eid)
    found = box.admin.list_task_executions(task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=10))
    assert len(found.task_executions) == 1
    return found.task_executions[0]


def resources(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[tuple[int, int], TaskExecutionPhase]:
    closure = map_task_execution(box, eid).closure
    return {(r.index, r.retry_attempt): TaskExecutionPhase(r.phase) for r in closure.metadata.external_resources}


def outputs(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> int:
    data = box.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    return int(data.full_outputs.literals["o0"].scalar.primitive.integer)


def manifests(box: Sandbox, name: str) -> list[Any]:
    """The manifests of execution ``name``'s batches, as the entrypoint reads them: they go to
    the workers with the jobs (no file)."""
    found = []
    for job in box.jobs:  # type: ignore[attr-defined]
        if "--array-elements" in job.argv:
            path = job.argv[job.argv.index("--array-elements") + 1]
            if f"/{name}/nodes/n1/0/" in path:
                assert not Path(path).exists()
                found.append(_parse_manifest(json.loads(job.hand_in[path])))
    return found


def run_flaky_map(box: Sandbox, tmp_path: Path, name: str, n: int) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Run ``flaky_map`` over ``n`` elements to success; returns the execution's id."""
    register(box, batch_tasks.flaky_map)
    markers = tmp_path / "markers"
    markers.mkdir()
    eid = start(box, batch_tasks.flaky_map.name, name, marker_dir=str(markers), n=n)
    execution = wait(box, eid, timeout=120)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    return eid


def test_elements_retry_alone_when_one_fails_and_one_kills_its_worker(sandbox: Sandbox, tmp_path: Path) -> None:
    eid = run_flaky_map(sandbox, tmp_path, "flaky1", 12)
    assert outputs(sandbox, eid) == sum(i * i for i in range(12))
    found = resources(sandbox, eid)
    # Element 3 raised a recoverable error and element 5 killed its worker: each ran twice; every
    # other element ran once (those after 5 in its batch were not charged an attempt).
    assert found[(3, 0)] == found[(5, 0)] == TaskExecutionPhase.FAILED
    assert found[(3, 1)] == found[(5, 1)] == TaskExecutionPhase.SUCCEEDED
    assert sorted(found) == sorted([(i, 0) for i in range(12)] + [(3, 1), (5, 1)])
    assert {found[(i, 0)] for i in range(12) if i not in (3, 5)} == {TaskExecutionPhase.SUCCEEDED}
    # The elements ran in batches: fewer jobs than attempts, each listing its elements.
    batches = manifests(sandbox, "flaky1")
    assert 1 < len(batches) < 14
    ran = sorted((e.index, e.output_prefix.rsplit("/", 1)[1]) for b in batches for e in b.elements)
    assert (3, "1") in ran and (5, "1") in ran and all(len(b.elements) <= MAX_BATCH for b in batches)


def test_each_element_attempt_has_its_own_logs(sandbox: Sandbox, tmp_path: Path) -> None:
    eid = run_flaky_map(sandbox, tmp_path, "logs1", 8)
    closure = map_task_execution(sandbox, eid).closure
    logs = {(r.index, r.retry_attempt): {log.name: log.uri for log in r.logs} for r in closure.metadata.external_resources}
    stdout = Path(logs[(2, 0)]["stdout-2"].removeprefix("file://")).read_text()
    assert stdout == "element 2 attempt 0 of logs1\n"
    assert Path(logs[(2, 0)]["stderr-2"].removeprefix("file://")).read_text() == "element 2 to stderr\n"
    assert Path(logs[(3, 1)]["stdout-3"].removeprefix("file://")).read_text() == "element 3 attempt 1 of logs1\n"
    # Element 5's first attempt killed its worker: what it wrote until then is in its own logs,
    # with the reason its attempt ended.
    assert Path(logs[(5, 0)]["stdout-5"].removeprefix("file://")).read_text() == "element 5 attempt 0 of logs1\n"
    crashed = Path(logs[(5, 0)]["stderr-5"].removeprefix("file://")).read_text()
    assert crashed.startswith("element 5 to stderr\n") and "exited with code 7 while running job" in crashed, crashed
    # Elements that wrote nothing have no log files (their links lead nowhere until they do).


def test_failed_elements_give_none_within_the_success_ratio(sandbox: Sandbox) -> None:
    register(sandbox, batch_tasks.picky_map)
    eid = start(sandbox, batch_tasks.picky_map.name, "picky1", n=10)
    execution = wait(sandbox, eid, timeout=120)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    assert outputs(sandbox, eid) == sum(i for i in range(10) if i % 4)
    found = resources(sandbox, eid)
    assert {i for (i, _), phase in found.items() if phase == TaskExecutionPhase.FAILED} == {0, 4, 8}
    assert len(found) == 10  # a non-recoverable user error is not retried


def test_a_map_whose_elements_fail_names_the_first_failure(sandbox: Sandbox) -> None:
    register(sandbox, batch_tasks.strict_map)
    eid = start(sandbox, batch_tasks.strict_map.name, "strict1", n=10)
    execution = wait(sandbox, eid, timeout=120)
    assert execution.closure.phase == WorkflowExecutionPhase.FAILED
    message = execution.closure.error.message
    assert "3 of 10 elements failed, at least 10 had to succeed" in message, message
    assert "is a multiple of four" in message, message


def test_a_map_over_a_dynamic_task_runs_its_elements_as_nodes(sandbox: Sandbox) -> None:
    register(sandbox, batch_tasks.dynamic_map)
    eid = start(sandbox, batch_tasks.dynamic_map.name, "dynmap1", n=5)
    execution = wait(sandbox, eid, timeout=120)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    assert outputs(sandbox, eid) == sum(i * i for i in range(5))
    # The entrypoint refused the batch (a dynamic task writes a workflow, not outputs): the
    # elements ran as nodes, each with its dynamic sub-workflow, and reported as before.
    assert set(resources(sandbox, eid).values()) == {TaskExecutionPhase.SUCCEEDED}
    assert len(resources(sandbox, eid)) == 5
    refused = manifests(sandbox, "dynmap1")
    assert refused and not any(
        (Path(e.output_prefix.removeprefix("file://")) / "outputs.pb").exists() and e.output_prefix.endswith("/1")
        for b in refused for e in b.elements
    )


def test_a_map_s_concurrency_bounds_its_batches(sandbox: Sandbox) -> None:
    register(sandbox, batch_tasks.limited_map)
    eid = start(sandbox, batch_tasks.limited_map.name, "limited1", n=30)
    execution = wait(sandbox, eid, timeout=120)
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
    assert outputs(sandbox, eid) == sum(i * i for i in range(30))
    batches = manifests(sandbox, "limited1")
    assert batches and max(len(b.elements) for b in batches) <= 3
    assert sum(len(b.elements) for b in batches) == 30
