"""The events a round makes are built as flyteidl messages directly: each must be exactly the
message the spec's event model, built from the same status, converts to (what the admin got
before, field for field, presence included)."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from typing import Any

import pytest

from flytecore.propeller.events import array_fields, as_spec, node_event, task_event, workflow_event
from flytecore.propeller.sink import decode_event, encode_event
from flytecore.propeller.state import NodeStatus
from flytecore.spec.events import (
    CatalogCacheStatus,
    ExternalResourceInfo,
    NodeExecutionEvent,
    ParentNodeExecutionMetadata,
    TaskExecutionEvent,
    TaskNodeMetadata,
    WorkflowExecutionEvent,
    WorkflowNodeMetadata,
)
from flytecore.spec.execution import ErrorKind, ExecutionError, TaskLog
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.idl import to_idl
from flytecore.spec.literals import Literal, LiteralMap, Primitive, Scalar
from flytecore.spec.phases import NodePhase, TaskExecutionPhase, WorkflowExecutionPhase
from flytecore.spec.workflow import Node, NodeMetadata

EXECUTION = WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="e1", org="acme")
TASK = Identifier(resource_type=ResourceType.TASK, project="flytesnacks", domain="development", name="t.inc", version="v1")
NOW = 1_764_000_000.123457  # a microsecond that rounds
OUTPUTS = LiteralMap(literals={"o0": Literal(scalar=Scalar(primitive=Primitive(integer=7)))})
INPUTS = LiteralMap(literals={"x": Literal(scalar=Scalar(primitive=Primitive(string_value="a")))})
ERROR = ExecutionError(code="Boom", message="it failed", kind=ErrorKind.USER)
LOGS = (TaskLog(uri="/s/stdout.log", name="stdout"), TaskLog(uri="/s/stderr.log", name="stderr"))


class _Run:
    """What the event builders read of a run."""

    def __init__(self) -> None:
        self.obj = type("Obj", (), {"execution_id": EXECUTION})()
        self.producer_id = "propeller-test"
        self.memo: dict[str, dict[Any, Any]] = collections.defaultdict(dict)
        self.events: list[Any] = []


def _at(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def reference_node_event(run: _Run, key: str, node: Node, status: NodeStatus, now: float, *, parent_key: str | None,
                         kind: str, inputs: LiteralMap | None = None, input_uri: str | None = None,
                         output_uri: str | None = None, target: Identifier | None = None) -> NodeExecutionEvent:
    """The node event as the spec's model, as rounds built it before."""
    result: dict[str, object] = {}
    if status.phase == NodePhase.SUCCEEDED and output_uri:
        result["output_uri"] = output_uri
    elif status.phase == NodePhase.SUCCEEDED and status.outputs is not None:
        result["output_data"] = status.outputs
    elif status.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED) and status.error is not None:
        result["error"] = status.error
    child = None
    if status.child_execution:
        child = WorkflowExecutionIdentifier(project=EXECUTION.project, domain=EXECUTION.domain, name=status.child_execution)
    return NodeExecutionEvent(
        id=NodeExecutionIdentifier(node_id=key, execution_id=EXECUTION),
        producer_id=run.producer_id,
        phase=status.phase.to_execution_phase(),
        occurred_at=_at(now),
        input_data=inputs if not input_uri else None,
        input_uri=input_uri or None,
        workflow_node_metadata=WorkflowNodeMetadata(execution_id=child) if child else None,
        task_node_metadata=TaskNodeMetadata(cache_status=CatalogCacheStatus(status.cache_status)) if kind == "task" else None,
        parent_node_metadata=ParentNodeExecutionMetadata(node_id=parent_key) if parent_key else None,
        spec_node_id=node.id,
        node_name=node.metadata.name if node.metadata and node.metadata.name else node.id,
        is_parent=kind in ("branch", "subworkflow", "dynamic"),
        is_dynamic=kind == "dynamic",
        is_array=kind == "array",
        reported_at=_at(now),
        target_entity=target,
        **result,  # type: ignore[arg-type]
    )


NODE_CASES = [
    # (phase, kind, status extras, node_event keyword arguments)
    (NodePhase.QUEUED, "task", {}, {"inputs": INPUTS}),
    (NodePhase.QUEUED, "task", {}, {"input_uri": "/n/inputs.pb"}),
    (NodePhase.QUEUED, "task", {}, {"inputs": LiteralMap()}),
    (NodePhase.QUEUED, "branch", {}, {"inputs": INPUTS, "parent_key": "n0"}),
    (NodePhase.RUNNING, "task", {"cache_status": CatalogCacheStatus.CACHE_MISS}, {}),
    (NodePhase.RUNNING, "dynamic", {}, {"parent_key": "n1-0"}),
    (NodePhase.RUNNING, "launch_plan", {"child_execution": "e1-n2-0"}, {"target": TASK}),
    (NodePhase.SUCCEEDED, "task", {"outputs": OUTPUTS}, {}),
    (NodePhase.SUCCEEDED, "task", {"outputs": LiteralMap()}, {}),
    (NodePhase.SUCCEEDED, "task", {"outputs": OUTPUTS}, {"output_uri": "/n/0/outputs.pb"}),
    (NodePhase.SUCCEEDED, "array", {}, {}),
    (NodePhase.SUCCEEDED, "subworkflow", {"outputs": OUTPUTS}, {"parent_key": "n4"}),
    (NodePhase.FAILED, "task", {"error": ERROR, "cache_status": CatalogCacheStatus.CACHE_HIT}, {}),
    (NodePhase.TIMED_OUT, "gate", {"error": ERROR}, {}),
    (NodePhase.ABORTED, "task", {"error": ERROR}, {}),
    (NodePhase.ABORTED, "branch", {}, {}),
    (NodePhase.SKIPPED, "task", {"outputs": OUTPUTS}, {}),
    (NodePhase.FAILING, "task", {"error": ERROR}, {}),
]


@pytest.mark.parametrize("named", [True, False])
@pytest.mark.parametrize(("phase", "kind", "extras", "kwargs"), NODE_CASES)
def test_node_events_are_the_messages_their_spec_models_convert_to(
    phase: NodePhase, kind: str, extras: dict[str, Any], kwargs: dict[str, Any], named: bool
) -> None:
    run = _Run()
    node = Node(id="n3", metadata=NodeMetadata(name="square") if named else None)
    status = NodeStatus(phase=phase, **extras)
    arguments = {"parent_key": None, **kwargs}
    node_event(run, "n1-0-n3", node, status, NOW, kind=kind, **arguments)  # type: ignore[arg-type]
    (made,) = run.events
    expected = reference_node_event(run, "n1-0-n3", node, status, NOW, kind=kind, **arguments)
    assert made == to_idl(expected)
    assert made.SerializeToString(deterministic=True) == to_idl(expected).SerializeToString(deterministic=True)
    assert as_spec(made) == expected
    assert decode_event(encode_event(made)) == expected  # through the outbox


TASK_CASES = [
    (TaskExecutionPhase.QUEUED, {"logs": LOGS, "inputs": INPUTS, "reason": "submitted"}),
    (TaskExecutionPhase.QUEUED, {"logs": LOGS, "input_uri": "/n/inputs.pb"}),
    (TaskExecutionPhase.RUNNING, {"logs": ()}),
    (TaskExecutionPhase.RUNNING, {"logs": list(LOGS)}),  # a plugin's executor may give a list
    (TaskExecutionPhase.SUCCEEDED, {"logs": LOGS, "outputs": OUTPUTS}),
    (TaskExecutionPhase.SUCCEEDED, {"outputs": LiteralMap()}),
    (TaskExecutionPhase.SUCCEEDED, {"logs": LOGS, "output_uri": "/n/0/outputs.pb", "outputs": OUTPUTS}),
    (TaskExecutionPhase.FAILED, {"error": ERROR, "outputs": OUTPUTS, "output_uri": "/o"}),
    (TaskExecutionPhase.ABORTED, {"reason": "aborted by the user"}),
    (
        TaskExecutionPhase.RUNNING,
        array_fields([ExternalResourceInfo(index=3, retry_attempt=1, phase=TaskExecutionPhase.RUNNING, logs=LOGS)]),
    ),
]


@pytest.mark.parametrize(("attempt", "phase_version"), [(0, 0), (2, 5)])
@pytest.mark.parametrize(("phase", "kwargs"), TASK_CASES)
def test_task_events_are_the_messages_their_spec_models_convert_to(
    phase: TaskExecutionPhase, kwargs: dict[str, Any], attempt: int, phase_version: int
) -> None:
    run = _Run()
    arguments = {"task_type": "python-task", **kwargs}
    task_event(run, "n2", TASK, attempt, phase, phase_version, NOW, **arguments)  # type: ignore[arg-type]
    task_event(run, "n2", TASK, attempt, phase, phase_version, NOW + 1, **arguments)  # the task id converted once
    for made, now in zip(run.events, (NOW, NOW + 1), strict=True):
        result = {}
        if kwargs.get("error") is not None:
            result["error"] = kwargs["error"]
        elif kwargs.get("output_uri"):
            result["output_uri"] = kwargs["output_uri"]
        elif kwargs.get("outputs") is not None:
            result["output_data"] = kwargs["outputs"]
        expected = TaskExecutionEvent(
            task_id=TASK,
            parent_node_execution_id=NodeExecutionIdentifier(node_id="n2", execution_id=EXECUTION),
            retry_attempt=attempt, phase=phase, producer_id=run.producer_id, logs=tuple(kwargs.get("logs", ())),
            occurred_at=_at(now), input_data=kwargs.get("inputs") if not kwargs.get("input_uri") else None,
            input_uri=kwargs.get("input_uri"), phase_version=phase_version, reason=kwargs.get("reason", ""),
            task_type=arguments["task_type"], reported_at=_at(now), metadata=kwargs.get("metadata"),
            event_version=kwargs.get("event_version", 0), **result,  # type: ignore[arg-type]
        )  # fmt: skip
        assert made == to_idl(expected)
        assert as_spec(made) == expected


@pytest.mark.parametrize(
    ("phase", "outputs", "error"),
    list(itertools.product(
        [WorkflowExecutionPhase.RUNNING, WorkflowExecutionPhase.SUCCEEDED, WorkflowExecutionPhase.FAILED],
        [None, OUTPUTS, LiteralMap()], [None, ERROR],
    )),
)  # fmt: skip
def test_workflow_events_are_the_messages_their_spec_models_convert_to(
    phase: WorkflowExecutionPhase, outputs: LiteralMap | None, error: ExecutionError | None
) -> None:
    run = _Run()
    workflow_event(run, phase, NOW, outputs=outputs, error=error)
    (made,) = run.events
    expected = WorkflowExecutionEvent(
        execution_id=EXECUTION, producer_id=run.producer_id, phase=phase, occurred_at=_at(NOW),
        output_data=outputs if error is None and outputs is not None else None, error=error,
    )  # fmt: skip
    assert made == to_idl(expected)
    assert as_spec(made) == expected


def test_a_literal_map_is_converted_once_per_round_however_many_events_carry_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.propeller import events as module
    from flytecore.propeller.scope import Run
    from flytecore.spec import idl

    converted: list[object] = []

    def counting(value: object, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, LiteralMap):
            converted.append(value)
        return to_idl(value, *args, **kwargs)

    monkeypatch.setattr(idl, "to_idl", counting)
    run = _Run()
    node = Node(id="n0", metadata=NodeMetadata(name="t.inc"))
    done = NodeStatus(phase=NodePhase.SUCCEEDED, attempts=1, outputs=OUTPUTS)
    task_event(run, "n0", TASK, 0, TaskExecutionPhase.SUCCEEDED, 0, NOW, task_type="python-task", outputs=OUTPUTS)  # type: ignore[arg-type]
    node_event(run, "n0", node, done, NOW, parent_key=None, kind="task")  # type: ignore[arg-type]
    assert converted == [OUTPUTS]
    assert module.literal_map_message(run, OUTPUTS) == to_idl(OUTPUTS)  # type: ignore[arg-type]
    # An equal map that is another object is another conversion (kept by identity).
    equal = LiteralMap(literals=dict(OUTPUTS.literals))
    node_event(run, "n0", node, NodeStatus(phase=NodePhase.SUCCEEDED, outputs=equal), NOW, parent_key=None, kind="task")  # type: ignore[arg-type]
    assert converted == [OUTPUTS, equal]
    # Both events carry the outputs, as the spec's models say.
    assert [as_spec(e).output_data for e in run.events] == [OUTPUTS, OUTPUTS, OUTPUTS]
    # The next round converts again: taking a round's events forgets its conversions.
    taken = Run.take_events(run)  # type: ignore[arg-type]
    assert len(taken) == 3 and run.events == []
    node_event(run, "n0", node, done, NOW, parent_key=None, kind="task")  # type: ignore[arg-type]
    assert converted == [OUTPUTS, equal, OUTPUTS]


def test_each_event_carries_its_own_clock_when_rounds_alternate() -> None:
    run = _Run()
    node = Node(id="n0", metadata=NodeMetadata(name="t.inc"))
    clocks = [NOW, NOW + 0.000001, NOW, NOW + 86_400.5, NOW + 86_400.5]
    for now in clocks:
        node_event(run, "n0", node, NodeStatus(phase=NodePhase.RUNNING), now, parent_key=None, kind="task")  # type: ignore[arg-type]
    stamps = [(as_spec(e).occurred_at, as_spec(e).reported_at) for e in run.events]
    assert stamps == [(_at(now), _at(now)) for now in clocks]
