"""What calling a task, workflow, launch plan or map task does, in each of the SDK's states.

Every entity has a Python interface and implements two things:

- ``_node_target(node_id)``: the target of the node a call creates while a workflow is traced;
- ``local_execute(inputs) -> outputs``: run in this process, literals in and literals out.

:class:`Entity.__call__` does the rest: it names positional arguments, rejects unknown and
missing inputs, converts values through the type engine (so a local run crosses the same
literal boundary a remote run does) and shapes the outputs like flytekit does.
"""

from __future__ import annotations

import typing
from typing import Any

from flytecore.errors import AuthoringError, TypeTransformerError, UserInputError
from flytecore.sdk.context import CompileState, compile_state, executing_locally, local_execution
from flytecore.sdk.interface import Interface
from flytecore.sdk.node import SdkNode
from flytecore.sdk.promise import Promise, VoidPromise
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.literals import Binding, BindingData, Literal

_EMPTY = object()


_get_type_engine: Any = None


def _engine() -> Any:
    """The current plugin host's type engine (its module imported on first use: it imports this one)."""
    global _get_type_engine
    if _get_type_engine is None:
        from flytecore.sdk.type_engine import get_type_engine

        _get_type_engine = get_type_engine
    return _get_type_engine()


def describe_value(value: Any) -> str:
    """``str 'abc'`` — a value's type and a short repr, for error messages."""
    if isinstance(value, Promise):
        return f"{type_name(value.python_type)} (output {value.var!r} of an upstream call)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def type_name(t: Any) -> str:
    """A readable name of a Python type annotation."""
    if isinstance(t, type) and not typing.get_args(t):
        return t.__name__
    return str(t).replace("typing.", "")


class Entity:
    """Base of everything that can be called inside a workflow."""

    kind = "entity"
    resource_type = ResourceType.TASK

    def __init__(self, name: str, interface: Interface) -> None:
        self.name = name
        self.python_interface = interface

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    @property
    def short_name(self) -> str:
        """The last part of the dotted name."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def id(self) -> Identifier:
        """The identifier before registration fills project, domain and version."""
        return Identifier(resource_type=self.resource_type, name=self.name)

    def _make_node(self, state: CompileState, node_id: str, bindings: list[Binding]) -> SdkNode:
        """The node one call creates while a workflow is traced."""
        return SdkNode(
            id=node_id,
            entity_name=self.name,
            bindings=bindings,
            outputs=self.python_interface.outputs,
            target=self._node_target(node_id),
            entity=self,
        )

    # --- to be provided by subclasses -------------------------------------------------------------

    def _node_target(self, node_id: str) -> dict[str, Any]:
        """The spec node's target field, e.g. ``{"task_node": TaskNode(...)}``."""
        raise NotImplementedError

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        """Run in this process: literal inputs by name in, literal outputs by name out."""
        raise NotImplementedError

    def register_into(self, bundle: Any) -> None:
        """Add this entity (and what it references) to a serialization bundle."""
        raise NotImplementedError

    # --- calling ------------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs = self._name_arguments(args, kwargs)
        state = compile_state()
        if state is not None:
            return self._compile_call(state, kwargs)
        execution = local_execution()
        if execution is not None:
            if execution.skipping:
                return self._skipped_outputs()
            outputs = self.local_execute(self._inputs_to_literals(kwargs))
            return self._outputs_as_promises(outputs)
        with executing_locally():
            outputs = self.local_execute(self._inputs_to_literals(kwargs))
        return self._outputs_to_python(outputs)

    def _name_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = list(self.python_interface.inputs)
        if len(args) > len(names):
            raise UserInputError(
                f"{self.kind} {self.name!r} takes {len(names)} input(s) ({self.python_interface.describe_inputs()}) "
                f"but {len(args)} positional argument(s) were given"
            )
        named = dict(zip(names, args, strict=False))
        for k, v in kwargs.items():
            if k in named:
                raise UserInputError(f"{self.kind} {self.name!r}: input {k!r} given twice (by position and name)")
            named[k] = v
        unknown = [k for k in named if k not in self.python_interface.inputs]
        if unknown:
            raise UserInputError(
                f"{self.kind} {self.name!r} got unknown input(s) {', '.join(map(repr, unknown))}; "
                f"its inputs are: {self.python_interface.describe_inputs()}"
            )
        return named

    def _with_defaults(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        values = dict(kwargs)
        for name, (py_type, default) in self.python_interface.inputs.items():
            if name in values:
                continue
            if default is not _inspect_empty():
                values[name] = default
            else:
                raise UserInputError(
                    f"{self.kind} {self.name!r} is missing input {name!r} of type {type_name(py_type)}"
                )
        return values

    def _inputs_to_literals(self, kwargs: dict[str, Any]) -> dict[str, Literal]:
        values = self._with_defaults(kwargs)
        return {
            name: self._to_literal(name, value, self.python_interface.inputs[name][0])
            for name, value in values.items()
        }

    def _to_literal(self, name: str, value: Any, py_type: Any) -> Literal:
        engine = _engine()
        try:
            return value_to_literal(engine, value, py_type)
        except TypeTransformerError as exc:
            raise UserInputError(input_error(self, name, py_type, value, exc)) from exc

    def _compile_call(self, state: CompileState, kwargs: dict[str, Any]) -> Any:
        values = self._with_defaults(kwargs)
        bindings = [
            Binding(var=name, binding=self._to_binding(name, value, self.python_interface.inputs[name][0]))
            for name, value in values.items()
        ]
        node = self._make_node(state, state.next_id(), bindings)
        state.add(node)
        return outputs_of_node(node, self.python_interface)

    def _to_binding(self, name: str, value: Any, py_type: Any) -> BindingData:
        try:
            return value_to_binding(_engine(), value, py_type)
        except TypeTransformerError as exc:
            raise UserInputError(input_error(self, name, py_type, value, exc)) from exc

    def _outputs_as_promises(self, outputs: dict[str, Literal]) -> Any:
        promises = [
            Promise(n, t, literal=outputs[n]) for n, t in self.python_interface.outputs.items()
        ]
        return shape_outputs(promises, self.python_interface, None)

    def _skipped_outputs(self) -> Any:
        promises = [Promise(n, t) for n, t in self.python_interface.outputs.items()]
        return shape_outputs(promises, self.python_interface, None)

    def _outputs_to_python(self, outputs: dict[str, Literal]) -> Any:
        engine = _engine()
        values = []
        for name, py_type in self.python_interface.outputs.items():
            if name not in outputs:
                raise AuthoringError(f"{self.kind} {self.name!r} did not produce output {name!r}")
            values.append(engine.to_python_value(outputs[name], py_type))
        if not values:
            return None
        if self.python_interface.output_tuple is not None:
            return self.python_interface.output_tuple(*values)
        return values[0] if len(values) == 1 else tuple(values)


def input_error(entity: Entity, name: str, py_type: Any, value: Any, exc: Exception) -> str:
    """``task 't', input 'x': expected int, got str 'abc'`` plus the type engine's detail when it
    says more (e.g. which list element was wrong)."""
    message = f"{entity.kind} {entity.name!r}, input {name!r}: expected {type_name(py_type)}, got {describe_value(value)}"
    detail = str(exc)
    if detail and not detail.startswith("expected") and detail not in message:
        message += f" ({detail})"
    return message


def _inspect_empty() -> Any:
    import inspect

    return inspect.Parameter.empty


def shape_outputs(promises: list[Promise], interface: Interface, node: SdkNode | None) -> Any:
    """Outputs as flytekit returns them: one promise, a (named) tuple of them, or a void promise."""
    if not promises:
        return VoidPromise(node)
    if interface.output_tuple is not None:
        return interface.output_tuple(*promises)
    return promises[0] if len(promises) == 1 else tuple(promises)


def outputs_of_node(node: SdkNode, interface: Interface) -> Any:
    """Promises for the outputs of a node created while tracing."""
    return shape_outputs([Promise(n, t, node=node) for n, t in interface.outputs.items()], interface, node)


def value_to_literal(engine: Any, value: Any, py_type: Any) -> Literal:
    """A value (possibly a promise, or a list/dict holding promises) as a literal of ``py_type``."""
    if isinstance(value, Promise):
        if value.literal is None:
            raise AuthoringError(f"{value!r} has no value yet; it comes from a branch that did not run")
        if value.python_type == py_type:
            return value.literal
        # Re-type through Python, e.g. an int output passed to an Optional[int] input.
        return engine.to_literal(engine.to_python_value(value.literal, value.python_type), py_type)
    if isinstance(value, VoidPromise):
        raise AuthoringError("a call without outputs was passed as an input value")
    if _holds_promise(value):
        origin, args = typing.get_origin(py_type), typing.get_args(py_type)
        if isinstance(value, list) and origin is list:
            return Literal(collection=tuple(value_to_literal(engine, v, args[0]) for v in value))
        if isinstance(value, dict) and origin is dict:
            return Literal(map={k: value_to_literal(engine, v, args[1]) for k, v in value.items()})
        raise TypeTransformerError(f"promises inside a {type(value).__name__} cannot be bound to {type_name(py_type)}")
    return engine.to_literal(value, py_type)


def value_to_binding(engine: Any, value: Any, py_type: Any) -> BindingData:
    """A value (constant, promise, or list/dict holding promises) as binding data of ``py_type``."""
    if isinstance(value, Promise):
        return BindingData(promise=value.ref)
    if isinstance(value, VoidPromise):
        raise AuthoringError("a call without outputs was passed as an input value")
    if _holds_promise(value):
        origin, args = typing.get_origin(py_type), typing.get_args(py_type)
        if isinstance(value, list) and origin is list:
            return BindingData(collection=tuple(value_to_binding(engine, v, args[0]) for v in value))
        if isinstance(value, dict) and origin is dict:
            return BindingData(map={k: value_to_binding(engine, v, args[1]) for k, v in value.items()})
        raise TypeTransformerError(f"promises inside a {type(value).__name__} cannot be bound to {type_name(py_type)}")
    return literal_to_binding(engine.to_literal(value, py_type))


def literal_to_binding(literal: Literal) -> BindingData:
    """A literal as (constant) binding data."""
    if literal.scalar is not None:
        return BindingData(scalar=literal.scalar)
    if literal.collection is not None:
        return BindingData(collection=tuple(literal_to_binding(v) for v in literal.collection))
    assert literal.map is not None
    return BindingData(map={k: literal_to_binding(v) for k, v in literal.map.items()})


def _holds_promise(value: Any) -> bool:
    if isinstance(value, Promise):
        return True
    if isinstance(value, list):
        return any(_holds_promise(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_promise(v) for v in value.values())
    return False
