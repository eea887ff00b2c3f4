"""The engine's rounds over real compiled workflows, tasks run in-process (see harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flytecore.propeller.engine import Run
from flytecore.spec.events import NodeExecutionEvent, TaskExecutionEvent, WorkflowExecutionEvent
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase
from tests.propeller import harness
from tests.propeller.harness import event_outputs

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))
import quickstart


def literal_int(lm, name):  # type: ignore[no-untyped-def]
    return lm.literals[name].scalar.primitive.integer


def test_quickstart_runs_to_the_end_with_map_and_branch(tmp_path: Path) -> None:
    engine, executor = harness.make_engine(quickstart)
    run = Run(harness.workflow_object(quickstart.wf, tmp_path, {"n": 5}))
    harness.run_to_end(engine, run)
    wf = run.state.workflow
    assert wf.phase == WorkflowExecutionPhase.SUCCEEDED, wf.error
    assert literal_int(wf.outputs, "total") == 30
    assert wf.outputs.literals["message"].scalar.primitive.string_value == "sum of squares is 30 (small)"
    # Each map element ran once, with its own element.
    assert sorted(c for c in executor.calls if c[0].endswith("square")) == [("quickstart.square", 0)] * 5
    events = harness.spec_events(run)
    wf_phases = [e.phase for e in events if isinstance(e, WorkflowExecutionEvent)]
    assert wf_phases == [WorkflowExecutionPhase.RUNNING, WorkflowExecutionPhase.SUCCEEDING, WorkflowExecutionPhase.SUCCEEDED]
    nodes = {e.id.node_id for e in events if isinstance(e, NodeExecutionEvent)}
    assert {"n0", "n1", "n2", "n3"} <= nodes
    # As FlytePropeller's array node: the elements are external resources of the array node's
    # task execution, not node executions of their own.
    assert not {n for n in nodes if n.startswith("n1-")}
    array = [e for e in events if isinstance(e, TaskExecutionEvent) and e.parent_node_execution_id.node_id == "n1"]
    assert array[0].input_uri and array[0].input_uri.endswith("/nodes/n1/inputs.pb")
    assert array[-1].phase == TaskExecutionPhase.SUCCEEDED and array[-1].task_type == "container_array"
    assert [e.phase_version for e in array] == list(range(len(array)))
    last = {}
    for e in array:
        for r in e.metadata.external_resources:
            last[r.index] = r
    assert sorted(last) == [0, 1, 2, 3, 4]
    assert {r.phase for r in last.values()} == {TaskExecutionPhase.SUCCEEDED}
    assert {log.name for log in last[3].logs} <= {"stdout-3", "stderr-3"}
    branch_child = [
        e
        for e in events
        if isinstance(e, NodeExecutionEvent)
        and e.parent_node_metadata
        and e.parent_node_metadata.node_id == "n3"
    ]
    assert branch_child and all(e.id.node_id.startswith("n3-0-") for e in branch_child)
    task_phases = [
        e.phase
        for e in events
        if isinstance(e, TaskExecutionEvent) and e.parent_node_execution_id.node_id == "n0"
    ]
    assert task_phases == [TaskExecutionPhase.SUCCEEDED]
    final = [e for e in events if isinstance(e, NodeExecutionEvent) and e.id.node_id == "n2"][-1]
    assert final.phase == NodeExecutionPhase.SUCCEEDED and literal_int(event_outputs(final), "o0") == 30


def test_big_input_takes_the_other_branch(tmp_path: Path) -> None:
    engine, _ = harness.make_engine(quickstart)
    run = Run(harness.workflow_object(quickstart.wf, tmp_path, {"n": 10}))
    harness.run_to_end(engine, run)
    assert (
        run.state.workflow.outputs.literals["message"].scalar.primitive.string_value
        == "sum of squares is 285 (big)"
    )


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single_element_maps(tmp_path: Path, n: int) -> None:
    engine, _ = harness.make_engine(quickstart)
    run = Run(harness.workflow_object(quickstart.wf, tmp_path, {"n": n}))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED, run.state.workflow.error
    assert literal_int(run.state.workflow.outputs, "total") == 0


def test_map_elements_of_a_task_typed_with_the_lists_read_the_whole_lists_and_their_index(tmp_path: Path) -> None:
    """flytekit's map_task (``is_original_sub_node_interface`` False): as in FlytePropeller, each
    element's ``{{.input}}`` is the array node's inputs.pb and its index is FLYTE_K8S_ARRAY_INDEX."""
    import attrs

    from flytecore.propeller.data import FsspecDataStore

    engine, executor = harness.make_engine(quickstart)
    obj = harness.workflow_object(quickstart.wf, tmp_path, {"n": 3})
    primary = obj.closure.primary
    nodes = tuple(
        attrs.evolve(n, array_node=attrs.evolve(n.array_node, is_original_sub_node_interface=False))
        if n.array_node is not None
        else n
        for n in primary.template.nodes
    )
    closure = attrs.evolve(obj.closure, primary=attrs.evolve(primary, template=attrs.evolve(primary.template, nodes=nodes)))
    run = Run(attrs.evolve(obj, closure=closure))
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED, run.state.workflow.error
    assert literal_int(run.state.workflow.outputs, "total") == 5  # 0 + 1 + 4

    elements = sorted((c for c in executor.contexts if c.template.id.name == "quickstart.square"), key=lambda c: c.job_id)
    whole = f"{obj.metadata_prefix}/nodes/n1/inputs.pb"
    assert [c.inputs_uri for c in elements] == [whole] * 3
    assert [c.environment["FLYTE_K8S_ARRAY_INDEX"] for c in elements] == ["0", "1", "2"]
    assert {c.environment["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] for c in elements} == {"FLYTE_K8S_ARRAY_INDEX"}
    assert [literal_int(c.inputs, "x") for c in elements] == [0, 1, 2]  # the element's own, for events
    stored = FsspecDataStore().read_literal_map(whole)
    assert [item.scalar.primitive.integer for item in stored.literals["x"].collection] == [0, 1, 2]
    assert not Path(obj.metadata_prefix, "nodes", "n1-0-0", "inputs.pb").exists()


@pytest.mark.parametrize("size", ["small", "large"])
def test_an_executor_that_hands_tasks_their_inputs_gets_small_ones_unstored(tmp_path: Path, size: str) -> None:
    """An executor with ``hands_inputs`` (the local pool's, for flytecore's entrypoint) gives the
    task its inputs itself: small ones are not stored, the node remembers it and its events
    carry them inline; above the hand-off limit they are stored and named as before."""
    from flytecore.propeller.state import NodeStatus, dump_node, load_node
    from flytecore.sdk import _handoff
    from tests.propeller import sandbox_tasks

    engine, executor = harness.make_engine(sandbox_tasks)
    asked: list[str] = []
    executor.hands_inputs = lambda template: asked.append(template.id.name) or True  # type: ignore[attr-defined]
    text = "hi" if size == "small" else "x" * (_handoff.LIMIT + 1)
    obj = harness.workflow_object(sandbox_tasks.shouting, tmp_path, {"text": text})
    run = Run(obj)
    harness.run_to_end(engine, run)
    assert run.state.workflow.phase == WorkflowExecutionPhase.SUCCEEDED, run.state.workflow.error
    assert run.state.workflow.outputs.literals["o0"].scalar.primitive.string_value == text.upper()
    assert asked == ["tests.propeller.sandbox_tasks.shout"] * 2  # once per node, when it starts
    small = size == "small"
    queued = {e.id.node_id: e for e in harness.spec_events(run)
              if isinstance(e, NodeExecutionEvent) and e.phase == NodeExecutionPhase.QUEUED}
    for key, expected in (("n0", text), ("n1", text.upper())):
        stored = Path(obj.metadata_prefix, "nodes", key, "inputs.pb")
        assert stored.exists() is not small
        assert run.state.nodes[key].inputs_inline is small
        context = next(c for c in executor.contexts if c.task_execution_id.node_execution_id.node_id == key)
        assert context.inputs_stored is not small
        event = queued[key]
        if small:
            assert event.input_uri is None
            assert event.input_data.literals["text"].scalar.primitive.string_value == expected
        else:
            assert event.input_data is None and event.input_uri == str(stored)
    # The workflow store keeps the mark (a restarted propeller's events carry the inputs too).
    assert load_node(dump_node(NodeStatus(inputs_inline=True))).inputs_inline is True
    assert load_node(dump_node(NodeStatus())).inputs_inline is False
