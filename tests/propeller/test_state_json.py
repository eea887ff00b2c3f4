"""Statuses as the workflow store keeps them: the JSON document the json module would write
(orjson writes most of them), loading back to the same status, for any status a round makes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flytecore.propeller.state import (
    NodeStatus,
    WorkflowStatus,
    _converter,
    dump_node,
    dump_workflow,
    load_node,
    load_workflow,
)
from flytecore.spec.execution import ErrorKind, ExecutionError
from flytecore.spec.literals import Literal, LiteralMap, Primitive, Scalar
from flytecore.spec.phases import NodePhase, WorkflowExecutionPhase

_text = st.text(max_size=12)  # any code point: orjson writes UTF-8, the json module \\u escapes
_times = st.none() | st.floats(min_value=0, max_value=4e9, allow_nan=False)
_primitives = st.one_of(
    st.builds(Primitive, integer=st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(Primitive, float_value=st.floats()),  # NaN and infinities too
    st.builds(Primitive, string_value=_text),
    st.builds(Primitive, boolean=st.booleans()),
)
_maps = st.none() | st.builds(
    LiteralMap, literals=st.dictionaries(_text, st.builds(Literal, scalar=st.builds(Scalar, primitive=_primitives)), max_size=3)
)
_errors = st.none() | st.builds(ExecutionError, code=_text, message=_text, kind=st.sampled_from(ErrorKind))
_plugin_state = st.dictionaries(
    _text, st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _text | st.lists(st.integers(), max_size=3),
    max_size=3,
)
_nodes = st.builds(
    NodeStatus,
    phase=st.sampled_from(NodePhase),
    attempts=st.integers(min_value=0, max_value=5),
    queued_at=_times,
    started_at=_times,
    updated_at=_times,
    error=_errors,
    outputs=_maps,
    plugin_state=_plugin_state,
    message=st.none() | _text,
    inputs_inline=st.booleans(),
)
_workflows = st.builds(
    WorkflowStatus,
    phase=st.sampled_from(WorkflowExecutionPhase),
    started_at=_times,
    updated_at=_times,
    error=_errors,
    outputs=_maps,
    failed_node=st.none() | _text,
    abort_cause=st.none() | _text,
)


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (a task may return one)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    ("statuses", "dump", "load"),
    [(_nodes, dump_node, load_node), (_workflows, dump_workflow, load_workflow)],
    ids=["node", "workflow"],
)
def test_a_status_is_the_json_modules_document_and_loads_back(
    statuses: st.SearchStrategy[Any], dump: Callable[[Any], bytes], load: Callable[[bytes], Any]
) -> None:
    @settings(max_examples=250, deadline=None)
    @given(statuses)
    def check(status: Any) -> None:
        data = dump(status)
        reference = json.dumps(_converter.unstructure(status), separators=(",", ":"))
        assert _same(json.loads(data), json.loads(reference))
        assert _same(_converter.unstructure(load(data)), _converter.unstructure(load(reference.encode())))

    check()


def test_a_nan_output_and_an_integer_key_are_kept_as_the_json_module_writes_them() -> None:
    nan = LiteralMap(literals={"o0": Literal(scalar=Scalar(primitive=Primitive(float_value=math.nan)))})
    status = NodeStatus(phase=NodePhase.SUCCEEDED, outputs=nan, plugin_state={"elements": {3: "done"}})
    data = dump_node(status)
    assert b"NaN" in data and b'"3":"done"' in data
    loaded = load_node(data)
    assert loaded.outputs is not None and math.isnan(loaded.outputs.literals["o0"].scalar.primitive.float_value)


def test_a_kept_status_costs_its_own_size() -> None:
    """The propeller keeps every status it saved while the execution runs: orjson's bytes, which
    keep the 4 KiB buffer they were written in, are copied to their size."""
    import tracemalloc

    statuses = [NodeStatus(phase=NodePhase.RUNNING, attempts=1, plugin_state={"job": f"e-n{i}-0"}) for i in range(1000)]
    tracemalloc.start()
    try:
        kept = [dump_node(status) for status in statuses]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert max(len(data) for data in kept) < 100
    assert size < 1000 * 200, f"{size / 1000:.0f} bytes traced per kept status"
