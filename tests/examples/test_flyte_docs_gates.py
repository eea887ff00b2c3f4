"""Flyte's gate documentation example (examples/flyte_docs/control_flow_waiting_for_external_inputs.py,
only import lines changed) runs locally with answers given to its gates.

The example has no ``__main__`` block, so ``test_flyte_docs.py`` only imports it as a script and
compiles its workflows. Here its workflows run. In a local run ``wait_for_input`` and ``approve``
ask on the terminal through ``flytecore.sdk.gate._ask``; the tests replace that function with one
that answers by gate name (the ``[name]`` at the start of the prompt) and records what was asked.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from flytecore.errors import UserInputError, WorkflowFailedError
from flytecore.sdk.serialize import compile_entity

DOCS = Path(__file__).resolve().parents[2] / "examples" / "flyte_docs"

DATA = [1.0, 2.0, 3.0, 4.0, 5.0]
# create_report(DATA): mean 15 / 5, length 5, max 5.0, min 1.0
REPORT = {"mean": 3.0, "length": 5, "max": 5.0, "min": 1.0}


@pytest.fixture
def example() -> Iterator[ModuleType]:
    """The example, imported under a unique module name (no sys.path change); removed after."""
    name = f"_flyte_docs_waiting_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, DOCS / "control_flow_waiting_for_external_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """``answer(**{gate_name: reply})`` makes the gates get these replies; returns the gate names
    asked, in order (filled in as the workflow runs)."""

    def install(**replies: str) -> list[str]:
        asked: list[str] = []

        def ask(prompt: str) -> str:
            match = re.match(r"\[(.+?)\]", prompt)
            assert match, prompt
            asked.append(match.group(1))
            return replies[match.group(1)]

        monkeypatch.setattr("flytecore.sdk.gate._ask", ask)
        return asked

    return install


def test_sleep_wf_runs_without_asking(example: ModuleType, answer: Callable[..., list[str]]) -> None:
    asked = answer()
    assert example.sleep_wf(num=5) == 5
    assert asked == []


def test_reporting_wf_uses_the_title_input(example: ModuleType, answer: Callable[..., list[str]]) -> None:
    asked = answer(title="my report")
    assert example.reporting_wf(data=DATA) == {"title": "my report", **REPORT}
    assert asked == ["title"]


@pytest.mark.parametrize(
    ("wf_name", "gates"),
    [
        ("reporting_with_approval_wf", ["title", "approve-final-report"]),
        ("approval_as_promise_wf", ["title", "raw-report-approval"]),
    ],
)
def test_approval_passes_the_report_on(
    example: ModuleType, answer: Callable[..., list[str]], wf_name: str, gates: list[str]
) -> None:
    asked = answer(**{"title": "Q3", gates[1]: "y"})
    assert getattr(example, wf_name)(data=DATA) == {"title": "Q3", **REPORT}
    assert asked == gates


@pytest.mark.parametrize(
    ("wf_name", "gate"),
    [
        ("reporting_with_approval_wf", "approve-final-report"),
        ("approval_as_promise_wf", "raw-report-approval"),
    ],
)
def test_rejection_fails_the_workflow(
    example: ModuleType, answer: Callable[..., list[str]], wf_name: str, gate: str
) -> None:
    answer(**{"title": "Q3", gate: "n"})
    with pytest.raises(WorkflowFailedError, match=gate):
        getattr(example, wf_name)(data=DATA)


def test_conditional_wf_finalizes_a_passed_review(
    example: ModuleType, answer: Callable[..., list[str]]
) -> None:
    asked = answer(**{"title-input": "my report", "review-passes": "true"})
    assert example.conditional_wf(data=DATA) == {"title": "my report", **REPORT}
    assert asked == ["title-input", "review-passes"]


def test_conditional_wf_reports_a_failed_review(
    example: ModuleType, answer: Callable[..., list[str]]
) -> None:
    asked = answer(**{"title-input": "my report", "review-passes": "false"})
    assert example.conditional_wf(data=DATA) == {"invalid_report": True}
    assert asked == ["title-input", "review-passes"]


def test_without_a_terminal_the_gate_says_so(example: ModuleType) -> None:
    # pytest's stdin is not a terminal: the real _ask refuses instead of blocking.
    with pytest.raises(UserInputError, match="no terminal"):
        example.reporting_wf(data=DATA)


def test_gates_compile_to_gate_nodes(example: ModuleType) -> None:
    sleep_nodes = compile_entity(example.sleep_wf).primary.template.nodes
    sleeping, result = sleep_nodes
    assert sleeping.gate_node is not None and sleeping.gate_node.sleep is not None
    assert sleeping.gate_node.sleep.duration == dt.timedelta(seconds=10)
    assert result.upstream_node_ids == (sleeping.id,)  # sleeping >> result

    nodes = {
        n.metadata.name: n
        for n in compile_entity(example.approval_as_promise_wf).primary.template.nodes
        if n.metadata is not None
    }
    title, approval = nodes["title"], nodes["raw-report-approval"]
    assert title.gate_node is not None and title.gate_node.signal is not None
    assert title.gate_node.signal.signal_id == "title"
    assert title.metadata is not None and title.metadata.timeout == dt.timedelta(hours=1)
    assert title.upstream_node_ids == (nodes["create_report"].id,)  # report >> title_input
    assert approval.gate_node is not None and approval.gate_node.approve is not None
    assert approval.gate_node.approve.signal_id == "raw-report-approval"
    assert approval.metadata is not None and approval.metadata.timeout == dt.timedelta(hours=2)
