"""``@workflow``: a Python function whose body wires tasks, subworkflows and launch plans."""

from __future__ import annotations

import logging
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs

from flytecore.errors import AuthoringError, TypeTransformerError
from flytecore.sdk.base import Entity, _engine, describe_value, type_name, value_to_binding, value_to_literal
from flytecore.sdk.context import CompileState, compiling, executing_locally
from flytecore.sdk.interface import Interface, single_output_value, transform_function_to_interface
from flytecore.sdk.node import SdkNode
from flytecore.sdk.promise import Promise, VoidPromise
from flytecore.sdk.task import entity_name
from flytecore.sdk.types.error import FlyteError
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.literals import Binding, BindingData, Literal
from flytecore.spec.workflow import (
    Node,
    OnFailurePolicy,
    WorkflowMetadata,
    WorkflowMetadataDefaults,
    WorkflowNode,
    WorkflowTemplate,
)

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

WorkflowFailurePolicy = OnFailurePolicy
"""flytekit's name for the failure policy enum."""

FAILURE_NODE_ID = "fn0"
"""The id of a workflow's failure node (flytekit traces the handler with node prefix ``f``)."""

ERROR_INPUT = "err"
"""The handler input the propeller fills with the workflow's error (a :class:`FlyteError`)."""


@attrs.define
class TracedWorkflow:
    """A workflow function's body as nodes and output bindings."""

    nodes: list[SdkNode]
    outputs: list[Binding]
    failure_node: SdkNode | None = None
    """The on-failure handler's node (``fn0``), run only when the workflow fails."""

    def all_nodes(self) -> list[SdkNode]:
        """Every node, nested ones (branch cases, array sub-nodes) and the failure node included."""
        found: list[SdkNode] = []
        roots = [*self.nodes, self.failure_node] if self.failure_node is not None else self.nodes
        stack = list(reversed(roots))
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(reversed(node.children))
        return found


class PythonFunctionWorkflow(Entity):
    """A workflow declared with ``@workflow``.

    :param on_failure: a task or workflow to run when the workflow fails (its failure node,
        ``fn0``). Its inputs are the workflow's inputs (same names and types), plus optionally
        ``err: typing.Optional[FlyteError] = None``, which receives the failed node's id and the
        error message; other extra inputs must be optional (they keep their defaults).
    """

    resource_type = ResourceType.WORKFLOW
    kind = "workflow"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        failure_policy: OnFailurePolicy | None = None,
        interruptible: bool = False,
        on_failure: Entity | None = None,
        docs: Any = None,
        interface: Interface | None = None,
    ) -> None:
        name = name or entity_name(fn)
        super().__init__(name, interface or transform_function_to_interface(fn, f"workflow {name!r}"))
        self.fn = fn
        self.failure_policy = failure_policy or OnFailurePolicy.FAIL_IMMEDIATELY
        self.interruptible = interruptible
        self.on_failure = on_failure
        self._traced: TracedWorkflow | None = None
        if on_failure is not None:
            failure_handler_inputs(self, on_failure)  # a mismatch fails at decoration time
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
            self._traced = TracedWorkflow(
                nodes=state.nodes, outputs=self._output_bindings(result), failure_node=self._failure_node(state)
            )
        return self._traced

    def _failure_node(self, state: CompileState) -> SdkNode | None:
        """The node of the on-failure handler: each input bound to the workflow input of the same
        name; ``err`` is left unbound for the propeller to fill, and so are other optional
        inputs the workflow does not have (they keep their defaults)."""
        if self.on_failure is None:
            return None
        names = failure_handler_inputs(self, self.on_failure)
        inputs = self.python_interface.inputs
        bindings = [Binding(var=n, binding=BindingData(promise=Promise(n, inputs[n][0]).ref)) for n in names]
        return self.on_failure._make_node(state, FAILURE_NODE_ID, bindings)

    def _output_values(self, result: Any) -> list[tuple[str, Any, Any]]:
        return output_values(self, result)

    def _output_bindings(self, result: Any) -> list[Binding]:
        return output_bindings(self, result)

    def _node_target(self, node_id: str) -> dict[str, Any]:
        return {"workflow_node": WorkflowNode(sub_workflow_ref=self.id)}

    # --- local execution ------------------------------------------------------------------------

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        """Run the body in this process. When it raises and the workflow has an ``on_failure``
        handler, the handler runs with the workflow's inputs (and ``err``), then the original
        exception propagates (as flytekit's local runs do)."""
        try:
            return self._run_body(inputs)
        except Exception as exc:
            if self.on_failure is None:
                raise
            self._run_failure_handler(inputs, exc)
            raise

    def _run_body(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        promises = {
            n: Promise(n, self.python_interface.inputs[n][0], literal=lit) for n, lit in inputs.items()
        }
        with executing_locally():
            result = self.fn(**promises)
        engine = _engine()
        return {name: value_to_literal(engine, value, t) for name, value, t in self._output_values(result)}

    def _run_failure_handler(self, inputs: dict[str, Literal], exc: Exception) -> None:
        """Run the on-failure handler for ``exc`` locally. Its own failure is logged and noted on
        ``exc``; it never replaces the workflow's error (the propeller does the same)."""
        handler = self.on_failure
        assert handler is not None
        literals = {n: inputs[n] for n in failure_handler_inputs(self, handler) if n in inputs}
        err = handler.python_interface.inputs.get(ERROR_INPUT)
        if err is not None:
            # A local run has no node ids; the message is what a remote run's handler gets too.
            error = FlyteError(message=str(exc), failed_node_id="")
            literals[ERROR_INPUT] = _engine().to_literal(error, err[0], name=ERROR_INPUT)
        try:
            with executing_locally():
                handler.local_execute(literals)
        except Exception as handler_exc:
            what = f"the on_failure handler {handler.kind} {handler.name!r} of workflow {self.name!r} failed too"
            log.warning("%s: %s: %s", what, type(handler_exc).__name__, handler_exc)
            exc.add_note(f"{what}: {type(handler_exc).__name__}: {handler_exc}")

    # --- registration ---------------------------------------------------------------------------

    def register_into(self, bundle: Any) -> None:
        bundle.add_workflow(self)

    def to_template(self, settings: Any) -> WorkflowTemplate:
        """The workflow template for ``settings``; references are identified with it too."""
        traced = self.trace()
        failure_node = traced.failure_node
        return WorkflowTemplate(
            id=settings.identify(self.id),
            metadata=WorkflowMetadata(on_failure=self.failure_policy),
            interface=self.python_interface.to_typed_interface(_engine()),
            nodes=tuple(settings.identify_node(n.to_spec()) for n in traced.nodes),
            outputs=tuple(traced.outputs),
            failure_node=settings.identify_node(failure_node.to_spec()) if failure_node is not None else None,
            metadata_defaults=WorkflowMetadataDefaults(interruptible=self.interruptible),
        )


def failure_handler_inputs(wf: PythonFunctionWorkflow, handler: Any) -> list[str]:
    """Check that ``handler`` can be ``wf``'s on-failure handler and return the inputs to bind
    to the workflow's inputs (all of them, in the workflow's order).

    The handler is a task or a workflow taking every workflow input under the same name and
    type, plus optionally ``err`` (a ``FlyteError``, usually ``Optional[FlyteError] = None``) and
    other inputs that are optional (flytekit allows those; they keep their defaults).

    :raises AuthoringError: naming the workflow, the handler and the input that does not fit.
    """
    where = f"workflow {wf.name!r}"
    if not isinstance(handler, Entity):
        raise AuthoringError(f"{where}: on_failure must be a task or a workflow, got {describe_value(handler)}")
    if handler.resource_type == ResourceType.LAUNCH_PLAN:
        raise AuthoringError(
            f"{where}: on_failure must be a task or a workflow, got launch plan {handler.name!r}; "
            "pass its workflow instead"
        )
    if handler.resource_type not in (ResourceType.TASK, ResourceType.WORKFLOW) or handler.kind == "map task":
        # The failure node runs one task or workflow on the workflow's inputs (as in flytekit).
        raise AuthoringError(
            f"{where}: on_failure must be a task or a workflow, got {handler.kind} {handler.name!r}; "
            "wrap it in a workflow to run it on failure"
        )
    what = f"{where}: on_failure handler {handler.kind} {handler.name!r}"
    rule = (
        "its inputs must be the workflow's inputs (same names and types), plus optionally "
        f"{ERROR_INPUT}: typing.Optional[FlyteError] = None"
    )
    wf_inputs = wf.python_interface.inputs
    handler_inputs = handler.python_interface.inputs
    for name, (wf_type, _) in wf_inputs.items():
        if name not in handler_inputs:
            raise AuthoringError(
                f"{what} has no input {name!r} (workflow input {name}: {type_name(wf_type)}); {rule}"
            )
        handler_type = handler_inputs[name][0]
        if not _same_type(wf_type, handler_type):
            raise AuthoringError(
                f"{what}: input {name!r} is {type_name(handler_type)} but workflow input {name!r} is "
                f"{type_name(wf_type)}; {rule}"
            )
    for name, (handler_type, _) in handler_inputs.items():
        if name in wf_inputs:
            continue
        if name == ERROR_INPUT:
            if not takes_flyte_error(handler_type):
                raise AuthoringError(
                    f"{what}: input {name!r} is {type_name(handler_type)}, but it receives the workflow's error; "
                    f"declare it as {ERROR_INPUT}: typing.Optional[FlyteError] = None"
                )
        elif not _is_optional(handler_type):
            raise AuthoringError(
                f"{what} has input {name!r} ({type_name(handler_type)}), which the workflow does not have; {rule}"
            )
    return list(wf_inputs)


def takes_flyte_error(python_type: Any) -> bool:
    """Whether ``python_type`` is ``FlyteError`` or a union with a ``FlyteError`` variant."""
    if python_type is FlyteError:
        return True
    return _is_union(python_type) and FlyteError in typing.get_args(python_type)


def _is_union(python_type: Any) -> bool:
    return typing.get_origin(python_type) in (typing.Union, types.UnionType)


def _is_optional(python_type: Any) -> bool:
    return _is_union(python_type) and type(None) in typing.get_args(python_type)


def _same_type(a: Any, b: Any) -> bool:
    """Equal Python types, or types with the same literal type (``Optional[int]`` and
    ``int | None``)."""
    if a == b:
        return True
    engine = _engine()
    try:
        return bool(engine.to_literal_type(a) == engine.to_literal_type(b))
    except TypeTransformerError:  # a type the engine cannot convert is reported where it is used
        return False


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
    ``interruptible``, ``on_failure`` (a task or workflow run when the workflow fails; see
    :class:`PythonFunctionWorkflow`)."""

    def wrapper(fn: Callable[..., Any]) -> PythonFunctionWorkflow:
        return PythonFunctionWorkflow(fn, **kwargs)

    return wrapper(_fn) if _fn is not None else wrapper
