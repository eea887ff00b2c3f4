"""Promises: the values flowing between nodes while a workflow is traced or run locally.

While tracing, a promise references a node's output (``ref``); while running locally it also
holds the output's literal (``literal``). Comparisons on promises build boolean expressions
for ``conditional``; a promise has no truth value.
"""

from __future__ import annotations

import operator
import typing
from typing import TYPE_CHECKING, Any

from flytecore.errors import AuthoringError
from flytecore.spec.literals import Literal
from flytecore.spec.types import OutputReference
from flytecore.spec.workflow import START_NODE_ID, ComparisonOperator, LogicalOperator

if TYPE_CHECKING:
    from flytecore.sdk.node import SdkNode


class Promise:
    """The output ``var`` of a node (or a workflow input when ``node`` is None)."""

    __slots__ = ("var", "python_type", "node", "literal", "attr_path")

    def __init__(
        self,
        var: str,
        python_type: Any,
        *,
        node: SdkNode | None = None,
        literal: Literal | None = None,
        attr_path: tuple[str | int, ...] = (),
    ) -> None:
        self.var = var
        self.python_type = python_type
        self.node = node
        self.literal = literal
        self.attr_path = attr_path

    @property
    def ref(self) -> OutputReference:
        """The output reference this promise stands for."""
        return OutputReference(
            node_id=self.node.id if self.node is not None else START_NODE_ID,
            var=self.var,
            attr_path=self.attr_path,
        )

    @property
    def is_ready(self) -> bool:
        """True when the promise holds a value (local execution)."""
        return self.literal is not None

    def __repr__(self) -> str:
        where = self.node.id if self.node is not None else "inputs"
        state = "ready" if self.is_ready else "pending"
        return f"Promise({where}.{self.var}{''.join(f'[{p!r}]' for p in self.attr_path)}, {state})"

    def __bool__(self) -> bool:
        raise AuthoringError(
            f"the value of {self!r} is not known while the workflow is defined, so it cannot be used "
            "in `if`, `and`, `or` or `not`; use flytecore.conditional(...).if_(...) instead"
        )

    def __iter__(self) -> typing.Iterator[Any]:
        raise AuthoringError(
            f"{self!r} cannot be iterated inside a workflow; iterate in a task, a @dynamic or use map_task"
        )

    # --- conditions --------------------------------------------------------------------------

    def __eq__(self, other: object) -> ComparisonExpression:  # type: ignore[override]
        return ComparisonExpression(ComparisonOperator.EQ, self, other)

    def __ne__(self, other: object) -> ComparisonExpression:  # type: ignore[override]
        return ComparisonExpression(ComparisonOperator.NEQ, self, other)

    def __gt__(self, other: object) -> ComparisonExpression:
        return ComparisonExpression(ComparisonOperator.GT, self, other)

    def __ge__(self, other: object) -> ComparisonExpression:
        return ComparisonExpression(ComparisonOperator.GTE, self, other)

    def __lt__(self, other: object) -> ComparisonExpression:
        return ComparisonExpression(ComparisonOperator.LT, self, other)

    def __le__(self, other: object) -> ComparisonExpression:
        return ComparisonExpression(ComparisonOperator.LTE, self, other)

    __hash__ = object.__hash__

    def is_true(self) -> ComparisonExpression:
        """A condition that holds when this boolean promise is True."""
        return ComparisonExpression(ComparisonOperator.EQ, self, True)

    def is_false(self) -> ComparisonExpression:
        """A condition that holds when this boolean promise is False."""
        return ComparisonExpression(ComparisonOperator.EQ, self, False)

    def is_none(self) -> ComparisonExpression:
        """A condition that holds when this optional promise is None."""
        return ComparisonExpression(ComparisonOperator.EQ, self, None)

    # --- node wiring -------------------------------------------------------------------------

    def with_overrides(self, **overrides: Any) -> Promise:
        """Override the producing node's settings (``name``, ``retries``, ``timeout``,
        ``requests``, ``limits``, ``cache``, ``cache_version``, ``interruptible``,
        ``container_image``)."""
        if self.node is not None:
            self.node.apply_overrides(overrides)
        return self

    def __rshift__(self, other: Any) -> Any:
        """``a >> b``: the node of ``b`` runs after the node of ``a``."""
        run_after(other, self)
        return other

    # --- attribute access into dataclasses, lists and dicts ------------------------------------

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._member(name)

    def __getitem__(self, key: str | int) -> Promise:
        return self._member(key)

    def _member(self, key: str | int) -> Promise:
        member_type = _member_type(self.python_type, key)
        literal = None
        if self.literal is not None:
            from flytecore.sdk.type_engine import get_type_engine

            engine = get_type_engine()
            value = engine.to_python_value(self.literal, self.python_type)
            try:
                member = getattr(value, key) if isinstance(key, str) and not isinstance(value, dict) else value[key]
            except (AttributeError, KeyError, IndexError, TypeError) as exc:
                raise AuthoringError(f"{self!r} has no member {key!r}: {exc}") from exc
            literal = engine.to_literal(member, member_type)
        return Promise(
            self.var, member_type, node=self.node, literal=literal, attr_path=(*self.attr_path, key)
        )


def _member_type(python_type: Any, key: str | int) -> Any:
    origin = typing.get_origin(python_type)
    args = typing.get_args(python_type)
    if origin is list and isinstance(key, int):
        return args[0] if args else Any
    if origin is dict and isinstance(key, str):
        return args[1] if len(args) == 2 else Any
    if isinstance(key, str):
        hints = typing.get_type_hints(python_type) if isinstance(python_type, type) else {}
        if key in hints:
            return hints[key]
    raise AuthoringError(f"cannot select {key!r} from a value of type {python_type}")


class VoidPromise:
    """The result of calling a task or workflow without outputs: only good for ``>>``."""

    __slots__ = ("node",)

    def __init__(self, node: SdkNode | None) -> None:
        self.node = node

    def __rshift__(self, other: Any) -> Any:
        run_after(other, self)
        return other

    def with_overrides(self, **overrides: Any) -> VoidPromise:
        """See :meth:`Promise.with_overrides`."""
        if self.node is not None:
            self.node.apply_overrides(overrides)
        return self

    def __repr__(self) -> str:
        return f"VoidPromise({self.node.id if self.node else '-'})"


def node_of(value: Any) -> SdkNode | None:
    """The node that produced a promise, a void promise or a tuple of promises."""
    if isinstance(value, (Promise, VoidPromise)):
        return value.node
    if isinstance(value, tuple):
        for v in value:
            n = node_of(v)
            if n is not None:
                return n
    return getattr(value, "sdk_node", None)


def run_after(downstream: Any, upstream: Any) -> None:
    """Make the node of ``downstream`` depend on the node of ``upstream``."""
    down, up = node_of(downstream), node_of(upstream)
    if down is not None and up is not None and up is not down:
        down.add_upstream(up)


# --- boolean expressions -------------------------------------------------------------------


_COMPARE = {
    ComparisonOperator.EQ: operator.eq,
    ComparisonOperator.NEQ: operator.ne,
    ComparisonOperator.GT: operator.gt,
    ComparisonOperator.GTE: operator.ge,
    ComparisonOperator.LT: operator.lt,
    ComparisonOperator.LTE: operator.le,
}
_SYMBOL = {
    ComparisonOperator.EQ: "==",
    ComparisonOperator.NEQ: "!=",
    ComparisonOperator.GT: ">",
    ComparisonOperator.GTE: ">=",
    ComparisonOperator.LT: "<",
    ComparisonOperator.LTE: "<=",
}


class BooleanExpression:
    """A condition of a ``conditional`` case; combine with ``&`` and ``|``."""

    def __and__(self, other: BooleanExpression) -> ConjunctionExpression:
        return ConjunctionExpression(LogicalOperator.AND, self, _expr(other))

    def __or__(self, other: BooleanExpression) -> ConjunctionExpression:
        return ConjunctionExpression(LogicalOperator.OR, self, _expr(other))

    def __bool__(self) -> bool:
        raise AuthoringError(
            f"the condition {self} cannot be evaluated with Python's `and`, `or`, `not` or `if`; "
            "combine conditions with & and | and pass them to conditional(...).if_(...)"
        )

    def promises(self) -> list[Promise]:
        """Every promise this expression reads."""
        raise NotImplementedError

    def evaluate(self, value_of: typing.Callable[[Promise], Any]) -> bool:
        """The expression's truth, given each promise's Python value."""
        raise NotImplementedError


def _expr(value: Any) -> BooleanExpression:
    if isinstance(value, BooleanExpression):
        return value
    if isinstance(value, Promise):
        return value.is_true()
    raise AuthoringError(f"{value!r} is not a condition; compare promises, e.g. (x > 1) & (y < 2)")


class ComparisonExpression(BooleanExpression):
    """``lhs op rhs``, where each side is a promise or a constant."""

    def __init__(self, op: ComparisonOperator, lhs: Any, rhs: Any) -> None:
        self.op, self.lhs, self.rhs = op, lhs, rhs

    def promises(self) -> list[Promise]:
        return [s for s in (self.lhs, self.rhs) if isinstance(s, Promise)]

    def evaluate(self, value_of: typing.Callable[[Promise], Any]) -> bool:
        lhs = value_of(self.lhs) if isinstance(self.lhs, Promise) else self.lhs
        rhs = value_of(self.rhs) if isinstance(self.rhs, Promise) else self.rhs
        return bool(_COMPARE[self.op](lhs, rhs))

    def __str__(self) -> str:
        return f"({self.lhs!r} {_SYMBOL[self.op]} {self.rhs!r})"


class ConjunctionExpression(BooleanExpression):
    """``left & right`` or ``left | right``."""

    def __init__(self, op: LogicalOperator, left: BooleanExpression, right: BooleanExpression) -> None:
        self.op, self.left, self.right = op, left, right

    def promises(self) -> list[Promise]:
        return self.left.promises() + self.right.promises()

    def evaluate(self, value_of: typing.Callable[[Promise], Any]) -> bool:
        if self.op == LogicalOperator.AND:
            return self.left.evaluate(value_of) and self.right.evaluate(value_of)
        return self.left.evaluate(value_of) or self.right.evaluate(value_of)

    def __str__(self) -> str:
        return f"({self.left} {'&' if self.op == LogicalOperator.AND else '|'} {self.right})"


def shape_outputs_like(template: Any, node: SdkNode | None) -> Any:
    """Promises shaped like ``template`` (a case's outputs) that reference ``node`` instead."""
    if isinstance(template, Promise):
        return Promise(template.var, template.python_type, node=node)
    if isinstance(template, tuple):
        values = [shape_outputs_like(v, node) for v in template]
        return type(template)(*values) if hasattr(template, "_fields") else tuple(values)
    return VoidPromise(node)
