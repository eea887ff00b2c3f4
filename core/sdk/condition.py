"""``conditional``: if / elif / else inside a workflow, as flytekit's.

::

    result = (
        conditional("fraction")
        .if_((x >= 0.1) & (x <= 1.0)).then(double(n=x))
        .elif_(x > 1.0).then(square(n=x))
        .else_().fail("x must be positive")
    )

While a workflow is traced, each case's call is captured as the case's node and the whole
conditional becomes one branch node whose outputs are the cases' outputs. While running
locally, conditions are evaluated on the promises' values and calls of cases that were not
selected are skipped.
"""

from __future__ import annotations

from typing import Any

import attrs

from flytecore.errors import AuthoringError, WorkflowFailedError
from flytecore.sdk.context import compile_state, local_execution
from flytecore.sdk.node import SdkNode
from flytecore.sdk.promise import (
    BooleanExpression,
    ComparisonExpression,
    ConjunctionExpression,
    Promise,
    _expr,
    node_of,
    shape_outputs_like,
)
from flytecore.spec import workflow as wf_spec
from flytecore.spec.literals import Binding, BindingData, Primitive
from flytecore.spec.types import Error

__all__ = ["conditional"]


def conditional(name: str) -> ConditionalSection:
    """Start a conditional named ``name``; continue with ``.if_(condition).then(call)``."""
    if compile_state() is None and local_execution() is None:
        raise AuthoringError(f"conditional({name!r}) can only be used inside a @workflow or @dynamic")
    return ConditionalSection(name)


@attrs.define
class _Case:
    condition: BooleanExpression | None
    node: SdkNode | None = None
    output: Any = None


class ConditionalSection:
    """A conditional being declared; see :func:`conditional`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases: list[_Case] = []
        self._state = compile_state()
        self._execution = local_execution()
        self._outer_capture: list[SdkNode] | None = None
        self._outer_skipping = self._execution.skipping if self._execution else False
        self._selected: _Case | None = None
        self._id = self._state.next_id() if self._state is not None else ""
        self._open: _Case | None = None

    # --- declaring cases ------------------------------------------------------------------------

    def if_(self, condition: Any) -> ConditionalSection:
        """The first case."""
        if self.cases:
            raise AuthoringError(f"conditional {self.name!r}: if_() can only start the conditional; use elif_()")
        return self._begin(_expr(condition))

    def elif_(self, condition: Any) -> ConditionalSection:
        """Another case, tried when the previous ones did not hold."""
        if not self.cases:
            raise AuthoringError(f"conditional {self.name!r}: start with if_() before elif_()")
        return self._begin(_expr(condition))

    def else_(self) -> ConditionalSection:
        """The case taken when no condition held; finish with ``.then(...)`` or ``.fail(...)``."""
        if not self.cases:
            raise AuthoringError(f"conditional {self.name!r}: start with if_() before else_()")
        return self._begin(None)

    def _begin(self, condition: BooleanExpression | None) -> ConditionalSection:
        if self._open is not None:
            raise AuthoringError(f"conditional {self.name!r}: every if_/elif_/else_ needs a .then(...) first")
        case = _Case(condition)
        self._open = case
        if self._state is not None:
            self._outer_capture = self._state.branch_capture
            self._state.branch_capture = []
        elif self._execution is not None:
            if self._outer_skipping or self._selected is not None:
                take = False
            elif condition is None:
                take = True
            else:
                take = condition.evaluate(_local_value)
            if take:
                self._selected = case
            self._execution.skipping = not take
        return self

    def then(self, output: Any) -> Any:
        """The call made when the open case is taken. After ``else_()``, this finishes the
        conditional and returns its outputs; otherwise it returns the conditional for more cases."""
        case = self._close()
        case.output = output
        if self._state is not None:
            captured = self._state.branch_capture or []
            self._state.branch_capture = self._outer_capture
            if len(captured) != 1 or node_of(output) is not captured[0]:
                raise AuthoringError(
                    f"conditional {self.name!r}: each case must call exactly one task, workflow or launch plan "
                    f"inside .then(...) (found {len(captured)} calls)"
                )
            case.node = captured[0]
        self.cases.append(case)
        if case.condition is None:
            return self._finish()
        return self

    def fail(self, message: str) -> Any:
        """After ``else_()``: fail the workflow with ``message`` when no case was taken."""
        case = self._close()
        if case.condition is not None:
            raise AuthoringError(f"conditional {self.name!r}: fail() is only allowed after else_()")
        if self._state is not None:
            self._state.branch_capture = self._outer_capture
        self.cases.append(case)
        return self._finish(fail_message=message)

    def _close(self) -> _Case:
        if self._open is None:
            raise AuthoringError(f"conditional {self.name!r}: then()/fail() must follow if_(), elif_() or else_()")
        case, self._open = self._open, None
        if self._execution is not None:
            self._execution.skipping = self._outer_skipping
        return case

    # --- finishing ------------------------------------------------------------------------------

    def _finish(self, fail_message: str | None = None) -> Any:
        if self._state is not None:
            return self._finish_compiled(fail_message)
        selected = self._selected
        if selected is None or self._outer_skipping:
            # Not taken (an outer case was skipped): outputs shaped like a case's, without values.
            return shape_outputs_like(self.cases[0].output, None)
        if selected.condition is None and fail_message is not None:
            raise WorkflowFailedError(f"conditional {self.name!r} failed: {fail_message}")
        return selected.output

    def _finish_compiled(self, fail_message: str | None) -> Any:
        assert self._state is not None
        ifs = [c for c in self.cases if c.condition is not None]
        else_case = self.cases[-1] if self.cases[-1].condition is None else None
        bindings: dict[str, Binding] = {}

        def spec_condition(expr: BooleanExpression) -> wf_spec.BooleanExpression:
            if isinstance(expr, ConjunctionExpression):
                return wf_spec.BooleanExpression(
                    conjunction=wf_spec.ConjunctionExpression(
                        operator=expr.op,
                        left_expression=spec_condition(expr.left),
                        right_expression=spec_condition(expr.right),
                    )
                )
            assert isinstance(expr, ComparisonExpression)
            return wf_spec.BooleanExpression(
                comparison=wf_spec.ComparisonExpression(
                    operator=expr.op, left_value=operand(expr.lhs), right_value=operand(expr.rhs)
                )
            )

        def operand(side: Any) -> wf_spec.Operand:
            if isinstance(side, Promise):
                ref = side.ref
                var = f"{ref.node_id}.{ref.var}" if ref.node_id not in ("", wf_spec.START_NODE_ID) else ref.var
                var += "".join(f".{p}" for p in ref.attr_path)
                bindings.setdefault(var, Binding(var=var, binding=BindingData(promise=ref)))
                return wf_spec.Operand(var=var)
            return wf_spec.Operand(primitive=_primitive(side, self.name))

        blocks = [wf_spec.IfBlock(condition=spec_condition(c.condition), then_node=c.node.to_spec()) for c in ifs]  # type: ignore[arg-type,union-attr]
        if_else = wf_spec.IfElseBlock(
            case=blocks[0],
            other=tuple(blocks[1:]),
            else_node=else_case.node.to_spec() if else_case is not None and else_case.node is not None else None,
            error=Error(failed_node_id=self._id, message=fail_message) if fail_message is not None else None,
        )
        first = self.cases[0]
        outputs = first.node.outputs if first.node is not None else {}
        children = [c.node for c in self.cases if c.node is not None]
        upstream: list[SdkNode] = []
        node = SdkNode(
            id=self._id,
            entity_name=self.name,
            bindings=list(bindings.values()),
            outputs=outputs,
            target={"branch_node": wf_spec.BranchNode(if_else=if_else)},
            entity=_BranchEntity(children),
            upstream=upstream,
            children=children,
        )
        node.overrides["name"] = self.name
        self._state.add(node)
        return shape_outputs_like(first.output, node)


def _primitive(value: Any, name: str) -> Primitive:
    import datetime as _dt

    if isinstance(value, bool):
        return Primitive(boolean=value)
    if isinstance(value, int):
        return Primitive(integer=value)
    if isinstance(value, float):
        return Primitive(float_value=value)
    if isinstance(value, str):
        return Primitive(string_value=value)
    if isinstance(value, _dt.datetime):
        return Primitive(datetime=value)
    if isinstance(value, _dt.timedelta):
        return Primitive(duration=value)
    raise AuthoringError(
        f"conditional {name!r}: cannot compare with {value!r}; constants in conditions must be "
        "int, float, str, bool, datetime or timedelta"
    )


def _local_value(promise: Promise) -> Any:
    from flytecore.sdk.type_engine import get_type_engine

    if promise.literal is None:
        raise AuthoringError(f"{promise!r} has no value: it comes from a case that was not taken")
    return get_type_engine().to_python_value(promise.literal, promise.python_type)


class _BranchEntity:
    """Registers what a branch's cases reference."""

    def __init__(self, children: list[SdkNode]) -> None:
        self.children = children

    def register_into(self, bundle: Any) -> None:
        # Case nodes are visited as children of the branch node; nothing of its own to add.
        return None


