"""``Workflow``: a workflow built by calls instead of a function body (flytekit's imperative
workflow)::

    wf = Workflow(name="my_workflow")
    wf.add_workflow_input("a", str)
    node = wf.add_entity(t1, a=wf.inputs["a"])
    wf.add_workflow_output("out", node.outputs["o0"])

The recorded steps are replayed by a generated body, so tracing, local runs and registration
are those of ``@workflow``.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import attrs

from flytecore.errors import AuthoringError
from flytecore.sdk.base import Entity
from flytecore.sdk.interface import Interface
from flytecore.sdk.workflow import PythonFunctionWorkflow, failure_handler_inputs

__all__ = ["ImperativeWorkflow", "NodeHandle", "Workflow"]


@attrs.define(frozen=True)
class _Ref:
    """A workflow input (``step`` is None) or output ``var`` of step ``step``."""

    step: int | None
    var: str
    python_type: Any


@attrs.define
class _Step:
    entity: Entity
    kwargs: dict[str, Any]


@attrs.define
class NodeHandle:
    """What ``add_entity`` returns: the node's outputs by name, for later steps."""

    id: str
    outputs: dict[str, _Ref]


class ImperativeWorkflow(PythonFunctionWorkflow):
    """A workflow assembled step by step."""

    def __init__(self, name: str, failure_policy: Any = None, interruptible: bool = False) -> None:
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, tuple[Any, Any]] = {}
        self._steps: list[_Step] = []

        def body(**inputs: Any) -> Any:
            return self._replay(inputs)

        body.__name__ = body.__qualname__ = name.rsplit(".", 1)[-1]
        # Like @workflow's function: the workflow belongs to the module that creates it (flytekit
        # tracks where an imperative workflow is instantiated), not to this one.
        body.__module__ = sys._getframe(1).f_globals.get("__name__", body.__module__)
        super().__init__(
            body,
            name=name,
            failure_policy=failure_policy,
            interruptible=interruptible,
            interface=Interface(inputs={}, outputs={}),
        )

    @property
    def inputs(self) -> dict[str, _Ref]:
        """The workflow's inputs so far, to pass to ``add_entity``."""
        return {n: _Ref(None, n, t) for n, t in self._inputs.items()}

    def add_workflow_input(self, name: str, python_type: Any) -> _Ref:
        """Declare an input."""
        if name in self._inputs:
            raise AuthoringError(f"workflow {self.name!r} already has an input {name!r}")
        self._inputs[name] = python_type
        self._refresh_interface()
        return _Ref(None, name, python_type)

    def add_entity(self, entity: Entity, **kwargs: Any) -> NodeHandle:
        """Call a task, workflow or launch plan with inputs (constants, ``wf.inputs[...]`` or
        outputs of earlier steps)."""
        if not isinstance(entity, Entity):
            raise AuthoringError(f"workflow {self.name!r}: add_entity expects a task, workflow or launch plan, got {entity!r}")
        step = len(self._steps)
        self._steps.append(_Step(entity, kwargs))
        self._refresh_interface()
        outputs = {n: _Ref(step, n, t) for n, t in entity.python_interface.outputs.items()}
        return NodeHandle(id=f"n{step}", outputs=outputs)

    add_task = add_subwf = add_launch_plan = add_entity

    def add_on_failure_handler(self, entity: Entity) -> None:
        """Run ``entity`` (a task or workflow) when the workflow fails, as ``@workflow(on_failure=)``
        does (flytekit's name). Declare the workflow's inputs first: the handler must take them."""
        failure_handler_inputs(self, entity)
        self.on_failure = entity
        self._traced = None

    def add_workflow_output(self, name: str, value: Any, python_type: Any = None) -> None:
        """Declare an output bound to ``value`` (a step's output, or a list of them)."""
        if name in self._outputs:
            raise AuthoringError(f"workflow {self.name!r} already has an output {name!r}")
        if python_type is None:
            if not isinstance(value, _Ref):
                raise AuthoringError(f"workflow {self.name!r}: output {name!r} needs python_type=...")
            python_type = value.python_type
        self._outputs[name] = (value, python_type)
        self._refresh_interface()

    def _refresh_interface(self) -> None:
        self.python_interface = Interface(
            inputs={n: (t, inspect.Parameter.empty) for n, t in self._inputs.items()},
            outputs={n: t for n, (_, t) in self._outputs.items()},
        )
        self._traced = None

    def _replay(self, inputs: dict[str, Any]) -> Any:
        results: list[dict[str, Any]] = []

        def resolve(value: Any) -> Any:
            if isinstance(value, _Ref):
                return inputs[value.var] if value.step is None else results[value.step][value.var]
            if isinstance(value, list):
                return [resolve(v) for v in value]
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        for step in self._steps:
            out = step.entity(**{k: resolve(v) for k, v in step.kwargs.items()})
            names = list(step.entity.python_interface.outputs)
            values = [out] if len(names) == 1 else list(out) if names else []
            results.append(dict(zip(names, values, strict=True)))
        outputs = [resolve(v) for v, _ in self._outputs.values()]
        if not outputs:
            return None
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


Workflow = ImperativeWorkflow
"""flytekit's name for the imperative workflow."""
