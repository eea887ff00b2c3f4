"""The task cache in the sandbox: real worker processes, the catalog in the store's database;
the admin shows the second execution's node as a cache hit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.spec.events import CatalogCacheStatus
from flytecore.spec.phases import WorkflowExecutionPhase
from tests.admin.test_grpc import requests_for
from tests.propeller import catalog_tasks
from tests.propeller.test_sandbox import wait as finished

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=1)) as box:
        yield box


def launch(box: Sandbox, name: str, x: int, marker: Path) -> identifier_pb2.WorkflowExecutionIdentifier:
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=catalog_tasks.cached_wf.name,
        version="v1",
    )
    inputs = literals_pb2.LiteralMap(
        literals={
            "x": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=x))
            ),
            "marker": literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=str(marker)))
            ),
        }
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=inputs,
    )
    return box.admin.create_execution(request).id


def node(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> node_execution_pb2.NodeExecution:
    return box.admin.get_node_execution(
        node_execution_pb2.NodeExecutionGetRequest(
            id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=eid)
        )
    )


def attempts(box: Sandbox, eid: identifier_pb2.WorkflowExecutionIdentifier) -> int:
    listed = box.admin.list_task_executions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=eid), limit=10
        )
    )
    return len(listed.task_executions)


def test_the_second_execution_is_a_cache_hit_on_the_admin(sandbox: Sandbox, tmp_path: Path) -> None:
    tasks, wf_request = requests_for(catalog_tasks.cached_wf)
    for request in tasks:
        sandbox.admin.create_task(request)
    sandbox.admin.create_workflow(wf_request)

    first_marker, second_marker = tmp_path / "first", tmp_path / "second"
    first = finished(sandbox, launch(sandbox, "cached1", 7, first_marker))
    assert first.closure.phase == WorkflowExecutionPhase.SUCCEEDED, first.closure.error.message
    assert first_marker.read_text() == "squared 7"
    assert (
        node(sandbox, first.id).closure.task_node_metadata.cache_status == CatalogCacheStatus.CACHE_POPULATED
    )
    assert attempts(sandbox, first.id) == 1

    # The marker is ignored by the cache: same key, so the task does not run again.
    second = finished(sandbox, launch(sandbox, "cached2", 7, second_marker))
    assert second.closure.phase == WorkflowExecutionPhase.SUCCEEDED, second.closure.error.message
    closure = node(sandbox, second.id).closure
    assert closure.task_node_metadata.cache_status == CatalogCacheStatus.CACHE_HIT
    assert not second_marker.exists()
    assert attempts(sandbox, second.id) == 0
    data = sandbox.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=second.id))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 49

    # Other inputs miss and run.
    third = finished(sandbox, launch(sandbox, "cached3", 8, tmp_path / "third"))
    assert (
        node(sandbox, third.id).closure.task_node_metadata.cache_status == CatalogCacheStatus.CACHE_POPULATED
    )
    assert (tmp_path / "third").read_text() == "squared 8"
