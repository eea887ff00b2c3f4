"""``@workflow``: a Python function whose body wires tasks, subworkflows and launch plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs

from flytecore.errors import AuthoringError
from flytecore.sdk.base import Entity, _engine, describe_value, value_to_binding, value_to_literal
from flytecore.sdk.context import CompileState, compiling, executing_locally
from flytecore.sdk.interface import Interface, single_output_value, transform_function_to_interface
from flytecore.sdk.node import SdkNode
from flytecore.sdk.promise import Promise, VoidPromise
from flytecore.sdk.task import entity_name
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.literals import Binding, Literal
from flytecore.spec.workflow import (
    Node,
    OnFailurePolicy,
    WorkflowMetadata,
    WorkflowMetadataDefaults,
    WorkflowNode,
    WorkflowTemplate,
)

F = TypeVar("F", bound=Callable[..., Any])

WorkflowFailurePolicy = OnFailurePolicy
"""flytekit's name for the failure policy enum."""


@attrs.define
class TracedWorkflow:
    """A workflow function's body as nodes and output bindings."""

    nodes: list[SdkNode]
    outputs: list[Binding]

    def all_nodes(self) -> list[SdkNode]:
        """Every node, nested ones (branch cases, array sub-nodes) included."""
        found: list[SdkNode] = []
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(reversed(node.children))
        return found


class PythonFunctionWorkflow(Entity):
    """A workflow declared with ``@workflow``."""

    resource_type = ResourceType.WORKFLOW
    kind = "workflow"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        failure_policy: OnFailurePolicy | None = None,
        interruptible: bool = False,
        docs: Any = None,
        interface: Interface | None = None,
    ) -> None:
        name = name or entity_name(fn)
        super().__init__(name, interface or transform_function_to_interface(fn, f"workflow {name!r}"))
        self.fn = fn
        self.failure_policy = failure_policy or OnFailurePolicy.FAIL_IMMEDIATELY
        self.interruptible = interruptible
        self._traced: TracedWorkflow | None = None
        import functools

        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    # --- tracing ------------------------------------------------------------------------------

    def trace(self) -> TracedWorkflow:
        """Run the body with promises to record its nodes (once; the result is kept)."""
        if self._traced is None:
            state = CompileState(self.name)
            inputs = {n: Promise(n, t) for n, (t, _) in self.python_interface.inputs.items()}
            with compiling(state):
                result = self.fn(**inputs)
            if state.branch_capture is not None:
                raise AuthoringError(f"workflow {self.name!r}: a conditional is not finished with else_()")
            self._traced = TracedWorkflow(nodes=state.nodes, outputs=self._output_bindings(result))
        return self._traced

    def _output_values(self, result: Any) -> list[tuple[str, Any, Any]]:
        return output_values(self, result)

    def _output_bindings(self, result: Any) -> list[Binding]:
        return output_bindings(self, result)

    def _node_target(self, node_id: str) -> dict[str, Any]:
        return {"workflow_node": WorkflowNode(sub_workflow_ref=self.id)}

    # --- local execution ------------------------------------------------------------------------

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        promises = {
            n: Promise(n, self.python_interface.inputs[n][0], literal=lit) for n, lit in inputs.items()
        }
        with executing_locally():
            result = self.fn(**promises)
        engine = _engine()
        return {name: value_to_literal(engine, value, t) for name, value, t in self._output_values(result)}

    # --- registration ---------------------------------------------------------------------------

    def register_into(self, bundle: Any) -> None:
        bundle.add_workflow(self)

    def to_template(self, settings: Any) -> WorkflowTemplate:
        """The workflow template for ``settings``; references are identified with it too."""
        traced = self.trace()
        return WorkflowTemplate(
            id=settings.identify(self.id),
            metadata=WorkflowMetadata(on_failure=self.failure_policy),
            interface=self.python_interface.to_typed_interface(_engine()),
            nodes=tuple(settings.identify_node(n.to_spec()) for n in traced.nodes),
            outputs=tuple(traced.outputs),
            metadata_defaults=WorkflowMetadataDefaults(interruptible=self.interruptible),
        )


def output_values(entity: Entity, result: Any) -> list[tuple[str, Any, Any]]:
    """(name, value, type) of each output of a traced body's ``result`` (one value, a tuple of
    them or a void promise), checked against the entity's declared outputs."""
    outputs = entity.python_interface.outputs
    names = list(outputs)
    if not names:
        if result is not None and not isinstance(result, VoidPromise):
            raise AuthoringError(
                f"{entity.kind} {entity.name!r} declares no outputs but returned {describe_value(result)}; "
                "add a return type annotation"
            )
        return []
    if len(names) == 1:
        values = [single_output_value(result, entity.python_interface)]
    elif isinstance(result, tuple) and len(result) == len(names):
        values = list(result)
    else:
        raise AuthoringError(
            f"{entity.kind} {entity.name!r} declares {len(names)} outputs ({', '.join(names)}) but returned "
            f"{describe_value(result)}"
        )
    return [(n, v, outputs[n]) for n, v in zip(names, values, strict=True)]


def output_bindings(entity: Entity, result: Any) -> list[Binding]:
    """The output bindings of a traced body's ``result``: promises become references to node
    outputs, plain values become constants."""
    engine = _engine()
    return [
        Binding(var=name, binding=value_to_binding(engine, value, py_type))
        for name, value, py_type in output_values(entity, result)
    ]


def spec_nodes(nodes: list[SdkNode]) -> list[Node]:
    """Spec nodes of traced nodes."""
    return [n.to_spec() for n in nodes]


@overload
def workflow(_fn: F) -> PythonFunctionWorkflow: ...


@overload
def workflow(_fn: None = None, **kwargs: Any) -> Callable[[F], PythonFunctionWorkflow]: ...


def workflow(_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare a workflow, as flytekit's ``@workflow``. Options: ``failure_policy``,
    ``interruptible``."""

    def wrapper(fn: Callable[..., Any]) -> PythonFunctionWorkflow:
        return PythonFunctionWorkflow(fn, **kwargs)

    return wrapper(_fn) if _fn is not None else wrapper
