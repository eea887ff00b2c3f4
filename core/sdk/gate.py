"""Gates: ``sleep``, ``wait_for_input`` and ``approve`` pause a workflow (flytekit's names).

Traced, each is a gate node. In a local run, ``sleep`` returns at once, and ``wait_for_input`` /
``approve`` ask on the terminal (as flytekit does) — or fail with a clear message when there is
no terminal to ask on.
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import Any

from flytecore.errors import AuthoringError, UserInputError, WorkflowFailedError
from flytecore.sdk.base import _engine, type_name, value_to_binding
from flytecore.sdk.context import compile_state, local_execution
from flytecore.sdk.node import SdkNode
from flytecore.sdk.promise import Promise, VoidPromise
from flytecore.spec.literals import Binding
from flytecore.spec.workflow import ApproveCondition, GateNode, SignalCondition, SleepCondition

__all__ = ["approve", "sleep", "wait_for_input"]


def _duration(value: _dt.timedelta | int | float, what: str) -> _dt.timedelta:
    if isinstance(value, _dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.timedelta(seconds=value)
    raise AuthoringError(f"{what} must be a timedelta or seconds, got {value!r}")


def _gate_node(name: str, gate: GateNode, bindings: list[Binding], outputs: dict[str, Any], timeout: Any) -> SdkNode:
    state = compile_state()
    assert state is not None
    node = SdkNode(
        id=state.next_id(), entity_name=name, bindings=bindings, outputs=outputs, target={"gate_node": gate}
    )
    node.overrides["name"] = name
    if timeout is not None:
        node.overrides["timeout"] = _duration(timeout, f"gate {name!r}: timeout")
    state.add(node)
    return node


def _require_workflow(what: str) -> None:
    if compile_state() is None and local_execution() is None:
        raise AuthoringError(f"{what} can only be used inside a @workflow")


def _ask(prompt: str) -> str:
    if not sys.stdin or not sys.stdin.isatty():
        raise UserInputError(f"{prompt}: no terminal to ask on; run the workflow remotely and set the signal")
    import click

    return str(click.prompt(prompt))


def sleep(duration: _dt.timedelta | int | float) -> VoidPromise:
    """Wait ``duration`` before the nodes that follow (``sleep(...) >> next_call``)."""
    _require_workflow("sleep()")
    length = _duration(duration, "sleep(duration)")
    if compile_state() is not None:
        node = _gate_node("sleep", GateNode(sleep=SleepCondition(duration=length)), [], {}, None)
        return VoidPromise(node)
    return VoidPromise(None)


def wait_for_input(name: str, timeout: _dt.timedelta | int | float, expected_type: Any) -> Promise:
    """Wait for a value of ``expected_type`` sent to signal ``name``; the value is the output."""
    _require_workflow("wait_for_input()")
    engine = _engine()
    if compile_state() is not None:
        signal = SignalCondition(signal_id=name, type=engine.to_literal_type(expected_type), output_variable_name="o0")
        node = _gate_node(name, GateNode(signal=signal), [], {"o0": expected_type}, timeout)
        return Promise("o0", expected_type, node=node)
    execution = local_execution()
    if execution is not None and execution.skipping:
        return Promise("o0", expected_type)
    from flytecore.cli.inputs import parse_value

    raw = _ask(f"[{name}] value of type {type_name(expected_type)}")
    value = parse_value(raw, expected_type, name)
    return Promise("o0", expected_type, literal=engine.to_literal(value, expected_type))


def approve(upstream_item: Any, name: str, timeout: _dt.timedelta | int | float) -> Any:
    """Pass ``upstream_item`` on only once signal ``name`` approves it."""
    _require_workflow("approve()")
    if not isinstance(upstream_item, Promise):
        raise AuthoringError(f"approve({name!r}): expects the output of a task or workflow, got {upstream_item!r}")
    py_type = upstream_item.python_type
    if compile_state() is not None:
        binding = Binding(var="o0", binding=value_to_binding(_engine(), upstream_item, py_type))
        node = _gate_node(name, GateNode(approve=ApproveCondition(signal_id=name)), [binding], {"o0": py_type}, timeout)
        return Promise("o0", py_type, node=node)
    execution = local_execution()
    if execution is not None and execution.skipping:
        return Promise("o0", py_type)
    shown = _engine().to_python_value(upstream_item.literal, py_type) if upstream_item.literal else upstream_item
    answer = _ask(f"[{name}] approve {shown!r}? (y/n)")
    if answer.strip().lower() not in {"y", "yes"}:
        raise WorkflowFailedError(f"gate {name!r} was rejected")
    return Promise("o0", py_type, literal=upstream_item.literal)


