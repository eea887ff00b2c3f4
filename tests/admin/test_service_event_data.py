"""Admin service: FlyteAdmin's inline event data policy. A node or task event's small inline
inputs and outputs are kept in the database (no file written) and served back by the Get*Data
calls; larger ones are offloaded to files as before; ``inline_data_bytes=0`` offloads all;
the first inputs recorded win; unreadable inline data is refused. On SQLite and PostgreSQL.
Batches (``create_events``) with inline data: test_service_event_batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import literals_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db import node_execution_key
from flytecore.admin.service import AdminService, FailedPreconditionError, InvalidArgumentError
from flytecore.admin.service.events.rules import serialized
from flytecore.admin.service.executions.ids import task_execution_id_of
from flytecore.admin.service.limits import MAX_EVENT_DATA_BYTES
from flytecore.spec import WorkflowExecutionIdentifier
from flytecore.spec.identifiers import NodeExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase as Node
from flytecore.spec.phases import TaskExecutionPhase as Task
from flytecore.spec.phases import WorkflowExecutionPhase as Wf
from tests.admin import test_service_events as events
from tests.admin.conftest import database_rows, storage_files
from tests.admin.test_service_event_batches import node, task
from tests.admin.test_service_events import RUN, node_event, node_id, outputs, task_event, task_id, wf_event
from tests.admin.test_service_executions import DOMAIN, PROJECT, exec_id, integer, ints, launch, text

admin = events.admin
launcher = events.launcher

EXECUTION = f"metadata/{PROJECT}/{DOMAIN}/executions/{RUN}"
"""The execution's metadata folder in the admin's storage."""
NID = NodeExecutionIdentifier(
    node_id="n0", execution_id=WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=RUN)
)
TID = task_execution_id_of(task_id("n0"), (DOMAIN,))


@pytest.fixture
def run(admin: AdminService) -> AdminService:
    """The admin with execution ``run-1`` created (QUEUED): its small inputs kept in its row, no file."""
    launch(admin, {"a": integer(1)}, name=RUN)
    return admin


def storage(admin: AdminService) -> Path:
    return Path(admin.store.prefix)


def limited(admin: AdminService, limit: int) -> AdminService:
    admin.config = attrs.evolve(admin.config, inline_data_bytes=limit)
    return admin


def files(admin: AdminService) -> dict[str, bytes]:
    """The admin's storage files below the execution's folder, with their bytes."""
    folder = storage(admin) / EXECUTION
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def node_data(admin: AdminService) -> node_execution_pb2.NodeExecutionGetDataResponse:
    return admin.get_node_execution_data(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id("n0")))


def task_data(admin: AdminService) -> task_execution_pb2.TaskExecutionGetDataResponse:
    return admin.get_task_execution_data(task_execution_pb2.TaskExecutionGetDataRequest(id=task_id("n0")))


def a_task_node(admin: AdminService, inputs: literals_pb2.LiteralMap, result: literals_pb2.LiteralMap) -> None:
    """A task node reporting its inputs and outputs inline, as the propeller is to send them."""
    node_event(admin, "n0", Node.QUEUED, 1, input_data=inputs)
    node_event(admin, "n0", Node.RUNNING, 2)
    task_event(admin, "n0", Task.RUNNING, 3, input_data=inputs)
    task_event(admin, "n0", Task.SUCCEEDED, 4, output_data=result)
    node_event(admin, "n0", Node.SUCCEEDED, 5, output_data=result)


def test_small_inline_data_is_kept_in_the_database_and_served_back(run: AdminService) -> None:
    assert run.config.inline_data_bytes == 64 * 1024  # the default
    before = files(run)
    assert before == {}  # CreateExecution kept the execution's small inputs in the database
    inputs, result = outputs(a=1, b=3), outputs(o0=4)
    a_task_node(run, inputs, result)

    assert files(run) == before  # not one file per task
    row = run.repo.get_node_execution(NID)
    assert (row.input_uri, row.output_uri, row.input_data) == ("", "", serialized(inputs))
    attempt = run.repo.get_task_execution(TID)
    assert (attempt.input_uri, attempt.output_uri, attempt.input_data) == ("", "", serialized(inputs))

    node_closure = run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0")))
    assert node_closure.input_uri == ""
    assert node_closure.closure.WhichOneof("output_result") == "output_data"
    assert node_closure.closure.output_data == result
    task_closure = run.get_task_execution(task_execution_pb2.TaskExecutionGetRequest(id=task_id("n0")))
    assert task_closure.input_uri == "" and task_closure.closure.output_uri == ""
    assert task_closure.closure.output_data == result

    for data in (node_data(run), task_data(run)):
        assert (ints(data.full_inputs), ints(data.full_outputs)) == ({"a": 1, "b": 3}, {"o0": 4})
        # No file to point at: empty locations, as FlyteAdmin answers for inline data.
        assert data.inputs == common_pb2.UrlBlob() and data.outputs == common_pb2.UrlBlob()


def test_an_executions_outputs_still_go_to_storage(run: AdminService) -> None:
    wf_event(run, Wf.RUNNING, 1)
    wf_event(run, Wf.SUCCEEDED, 2, output_data=outputs(o0=8))
    assert files(run)["outputs.pb"] == serialized(outputs(o0=8))
    execution = run.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(RUN)))
    assert execution.closure.outputs.uri.endswith(f"{EXECUTION}/outputs.pb")


def big(size: int, char: str = "x") -> literals_pb2.LiteralMap:
    """A literal map of exactly ``size`` bytes serialized: one string of ``char``."""
    literal_map = literals_pb2.LiteralMap(literals={"s": text("")})
    length = size - literal_map.ByteSize()
    primitive = literal_map.literals["s"].scalar.primitive
    primitive.string_value = char * length
    while literal_map.ByteSize() > size:  # the length prefixes around the string grew
        length -= 1
        primitive.string_value = char * length
    assert literal_map.ByteSize() == size
    return literal_map


@pytest.mark.parametrize(("limit", "inline"), [(1000, True), (999, False), (0, False)])
def test_data_is_kept_up_to_the_limit_and_offloaded_above_it(run: AdminService, limit: int, inline: bool) -> None:
    inputs, result = big(1000), big(1000, "y")
    a_task_node(limited(run, limit), inputs, result)

    row = run.repo.get_node_execution(NID)
    attempt = run.repo.get_task_execution(TID)
    stored = files(run)
    if inline:
        assert stored == {}
        assert row.input_data == attempt.input_data == serialized(inputs)
        assert row.input_uri == attempt.input_uri == row.output_uri == attempt.output_uri == ""
    else:  # offloaded exactly as before: the node's inputs.pb, the node's and the attempt's outputs.pb
        assert stored["nodes/n0/inputs.pb"] == serialized(inputs)
        assert stored["nodes/n0/outputs.pb"] == stored["nodes/n0/0/outputs.pb"] == serialized(result)
        assert row.input_data is None and attempt.input_data is None
        assert row.input_uri == attempt.input_uri == str(storage(run) / EXECUTION / "nodes/n0/inputs.pb")
        assert row.output_uri == str(storage(run) / EXECUTION / "nodes/n0/outputs.pb")
        assert attempt.output_uri == str(storage(run) / EXECUTION / "nodes/n0/0/outputs.pb")
        closure = node_execution_pb2.NodeExecutionClosure.FromString(row.closure)
        assert closure.WhichOneof("output_result") == "output_uri" and closure.output_uri == row.output_uri
    for data in (node_data(run), task_data(run)):
        assert (data.full_inputs, data.full_outputs) == (inputs, result)
        assert data.inputs.url == ("" if inline else row.input_uri)
        assert data.inputs.bytes == (0 if inline else 1000)


def test_zero_offloads_even_an_empty_map(run: AdminService) -> None:
    node_event(limited(run, 0), "n0", Node.QUEUED, 1, input_data=literals_pb2.LiteralMap())
    row = run.repo.get_node_execution(NID)
    assert row.input_data is None and row.input_uri.endswith("/nodes/n0/inputs.pb")
    assert files(run)["nodes/n0/inputs.pb"] == b""


def test_an_empty_map_is_kept_inline_and_counts_as_recorded_inputs(run: AdminService) -> None:
    node_event(run, "n0", Node.QUEUED, 1, input_data=literals_pb2.LiteralMap())
    node_event(run, "n0", Node.RUNNING, 2, input_data=outputs(a=5))
    assert run.repo.get_node_execution(NID).input_data == b""
    assert ints(node_data(run).full_inputs) == {}


FIRST = outputs(a=1)
SECOND = outputs(a=2)
ELSEWHERE = "file:///elsewhere/inputs.pb"


@pytest.mark.parametrize(
    ("first", "second", "input_uri", "input_data"),
    [
        ({"input_data": FIRST}, {"input_data": SECOND}, "", serialized(FIRST)),
        ({"input_uri": ELSEWHERE}, {"input_data": SECOND}, ELSEWHERE, None),
        ({"input_data": FIRST}, {"input_uri": ELSEWHERE}, "", serialized(FIRST)),
        ({}, {"input_data": SECOND}, "", serialized(SECOND)),  # none yet: the first that has some
    ],
    ids=["inline-then-inline", "uri-then-inline", "inline-then-uri", "none-then-inline"],
)
@pytest.mark.parametrize("limit", [64 * 1024, 0])
def test_the_first_inputs_recorded_win(
    run: AdminService, first: dict[str, Any], second: dict[str, Any], input_uri: str, input_data: bytes | None,
    limit: int,
) -> None:  # fmt: skip
    limited(run, limit)
    node_event(run, "n0", Node.QUEUED, 1, **first)
    node_event(run, "n0", Node.RUNNING, 2, **second)
    task_event(run, "n0", Task.QUEUED, 3, **first)
    task_event(run, "n0", Task.RUNNING, 4, **second)
    for row in (run.repo.get_node_execution(NID), run.repo.get_task_execution(TID)):
        if limit or input_data is None:
            assert (row.input_uri, row.input_data) == (input_uri, input_data)
        else:  # offloaded: the first inline inputs are the ones in the node's inputs.pb
            assert row.input_data is None and row.input_uri.endswith("/nodes/n0/inputs.pb")
            assert files(run)["nodes/n0/inputs.pb"] == input_data


def deep(levels: int) -> literals_pb2.LiteralMap:
    """A literal map of lists nested ``levels`` deep."""
    literal_map = literals_pb2.LiteralMap()
    literal = literal_map.literals["x"]
    for _ in range(levels):
        literal = literal.collection.literals.add()
    literal.scalar.primitive.integer = 1
    return literal_map


def with_map(request: Any, field: str, literal_map: literals_pb2.LiteralMap) -> Any:
    # Copied in, not given to the constructor: protobuf would parse it there, and refuse it.
    getattr(request.event, field).CopyFrom(literal_map)
    return request


# 48 levels read back alone but not inside a closure or a Get*Data answer (protobuf reads 100
# message levels): unreadable where the admin keeps and serves it. Only an in-process caller can
# send one (gRPC parsed the request, the map inside it, deeper still).
TOO_DEEP, DEEPEST = 48, 47


@pytest.mark.parametrize("field", ["input_data", "output_data"])
@pytest.mark.parametrize("limit", [64 * 1024, 0])
def test_an_unreadable_inline_map_is_refused_naming_the_event_and_field_and_nothing_is_stored(
    run: AdminService, field: str, limit: int
) -> None:
    node_event(limited(run, limit), "n0", Node.RUNNING, 1)
    before = database_rows(run.repo.engine), storage_files(storage(run))
    with pytest.raises(InvalidArgumentError) as refused:
        run.create_node_event(with_map(node("n0", Node.SUCCEEDED, 2), field, deep(TOO_DEEP)))
    assert str(refused.value).startswith(
        f"node n0 of execution {PROJECT}/{DOMAIN}/{RUN}: the node execution event's {field} is not a readable "
        "flyteidl LiteralMap (Error parsing message"
    )
    with pytest.raises(InvalidArgumentError, match=f"^task .* attempt 0 of node n0 of .*: the task execution event's {field} is not"):
        run.create_task_event(with_map(task("n0", Task.SUCCEEDED, 2), field, deep(TOO_DEEP)))
    outcomes = run.create_events([with_map(node("n0", Node.SUCCEEDED, 2), field, deep(TOO_DEEP))])
    assert isinstance(outcomes[0], InvalidArgumentError) and f"event's {field} is not a readable" in str(outcomes[0])
    assert (database_rows(run.repo.engine), storage_files(storage(run))) == before

    assert run.create_events([with_map(node("n0", Node.SUCCEEDED, 2), field, deep(DEEPEST))]) == [None]
    data = node_data(run)
    assert (data.full_inputs if field == "input_data" else data.full_outputs) == deep(DEEPEST)
    assert run.get_node_execution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0"))).closure.phase == Node.SUCCEEDED


def test_inline_data_over_the_event_data_limit_is_refused_whatever_the_setting(run: AdminService) -> None:
    limited(run, 2 * MAX_EVENT_DATA_BYTES)
    node_event(run, "n0", Node.RUNNING, 1)
    before = database_rows(run.repo.engine), storage_files(storage(run))
    with pytest.raises(InvalidArgumentError, match="the node execution event's output_data: 2 MiB .* over the limit of 2 MiB"):
        node_event(run, "n0", Node.SUCCEEDED, 2, output_data=big(MAX_EVENT_DATA_BYTES + 1))
    assert (database_rows(run.repo.engine), storage_files(storage(run))) == before
    node_event(run, "n0", Node.SUCCEEDED, 2, output_data=big(MAX_EVENT_DATA_BYTES))  # at the limit: kept inline
    assert node_data(run).full_outputs == big(MAX_EVENT_DATA_BYTES) and files(run) == {}


def test_unreadable_inline_inputs_in_the_database_fail_the_read_naming_the_record(run: AdminService) -> None:
    node_event(run, "n0", Node.QUEUED, 1, input_data=outputs(a=1))
    with run.repo.transaction() as tx:
        tx.update(m.NodeExecution, node_execution_key(NID), {"input_data": b"\xff\xff"}, {})
    with pytest.raises(FailedPreconditionError, match=f"recorded inputs of node n0 of execution {PROJECT}/{DOMAIN}/{RUN} cannot be read"):
        node_data(run)
