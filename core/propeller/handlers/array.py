"""Array nodes (map tasks): the sub-node runs once per element of the list inputs.

Each element is a node of its own (``{array}-{attempt}-{index}``) with that element of every
mapped input and the whole of every bound input; elements run in parallel up to the node's
``parallelism`` (and the execution's max parallelism), each with the task's own retries. Every
element runs even when some fail; the node succeeds when at least ``min_successes`` (or
``min_success_ratio`` of the elements) succeeded, and its outputs are lists with one entry per
element (None for a failed element when failures are allowed).

flytekit's ``map_task`` refers to a task whose interface is already the lists'
(``is_original_sub_node_interface`` False): its process reads the whole lists and takes its own
element by index. As FlytePropeller's array node does, such elements are given the array node's
``inputs.pb`` as ``{{.input}}`` and their index in ``FLYTE_K8S_ARRAY_INDEX`` (named by
``BATCH_JOB_ARRAY_INDEX_VAR_NAME``); their node events still show their own element's inputs.
"""

from __future__ import annotations

import math
from typing import Any

from flytecore.propeller.context import NodeContext, Transition, user_error
from flytecore.propeller.executable import END_NODE_ID, START_NODE_ID, Executable
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.literals import Binding, BindingData, Literal, LiteralMap, Scalar, Void
from flytecore.spec.phases import NodePhase
from flytecore.spec.workflow import Node, OnFailurePolicy, WorkflowTemplate

__all__ = ["ArrayHandler", "literal_to_binding_data"]


def literal_to_binding_data(literal: Literal) -> BindingData:
    """A literal as a constant binding."""
    if literal.collection is not None:
        return BindingData(collection=tuple(literal_to_binding_data(item) for item in literal.collection))
    if literal.map is not None:
        return BindingData(map={k: literal_to_binding_data(v) for k, v in literal.map.items()})
    assert literal.scalar is not None
    return BindingData(scalar=literal.scalar)


def _elements(ctx: NodeContext) -> tuple[int, list[dict[str, Literal]]] | str:
    """The number of elements and each element's inputs, or a message saying what is wrong."""
    array = ctx.node.array_node
    assert array is not None
    bound = set(array.bound_inputs)
    mapped = {name: lit for name, lit in ctx.inputs.literals.items() if name not in bound}
    lengths = {}
    for name, lit in mapped.items():
        if lit.collection is None:
            return f"input {name!r} is mapped over but is not a list"
        lengths[name] = len(lit.collection)
    if len(set(lengths.values())) > 1:
        return "list inputs differ in length: " + ", ".join(f"{n}={k}" for n, k in sorted(lengths.items()))
    size = next(iter(lengths.values()), 0)
    elements = []
    for i in range(size):
        element = {name: lit.collection[i] for name, lit in mapped.items()}  # type: ignore[index]
        element.update({name: ctx.inputs.literals[name] for name in bound if name in ctx.inputs.literals})
        elements.append(element)
    return size, elements


def _executable(ctx: NodeContext, elements: list[dict[str, Literal]]) -> Executable:
    array = ctx.node.array_node
    assert array is not None
    sub = array.node
    nodes: dict[str, Node] = {}
    for i, element in enumerate(elements):
        bindings = tuple(Binding(var=name, binding=literal_to_binding_data(lit)) for name, lit in sorted(element.items()))
        nodes[str(i)] = Node(
            id=str(i), metadata=sub.metadata, inputs=bindings, task_node=sub.task_node, array_node=sub.array_node,
            workflow_node=sub.workflow_node,
        )
    ids = tuple(nodes)
    template = WorkflowTemplate(
        id=Identifier(resource_type=ResourceType.WORKFLOW, name=f"array.{ctx.key}"), nodes=tuple(nodes.values())
    )
    upstream: dict[str, tuple[str, ...]] = {i: (START_NODE_ID,) for i in ids}
    upstream[END_NODE_ID] = ids or (START_NODE_ID,)
    downstream: dict[str, tuple[str, ...]] = {START_NODE_ID: ids, **{i: (END_NODE_ID,) for i in ids}}
    return Executable(template, nodes, upstream, downstream)


def _takes_whole_lists(ctx: NodeContext) -> bool:
    """The sub-node is a task typed with the lists (flytekit's ``…-arraynode`` task)."""
    array = ctx.node.array_node
    assert array is not None
    return array.is_original_sub_node_interface is False and array.node.task_node is not None


def _whole_inputs_uri(ctx: NodeContext) -> str:
    return f"{ctx.node_prefix}/inputs.pb"


class ArrayHandler:
    """Runs array nodes."""

    def _scope(self, ctx: NodeContext) -> Any:
        from flytecore.propeller.engine import Scope

        memo = ctx.run.memo["array"]
        found = memo.get(ctx.key)
        if found is None:
            parsed = _elements(ctx)
            if isinstance(parsed, str):
                return parsed
            memo[ctx.key] = found = _executable(ctx, parsed[1])
            if _takes_whole_lists(ctx):
                ctx.engine.services.data.write_literal_map(_whole_inputs_uri(ctx), ctx.inputs)
        array = ctx.node.array_node
        assert array is not None
        return Scope(
            found, f"{ctx.key}-{ctx.status.retry_attempt}-", ctx.key, LiteralMap(),
            parallelism=array.parallelism or 0, on_failure=OnFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
            map_inputs_uri=_whole_inputs_uri(ctx) if _takes_whole_lists(ctx) else None,
        )

    def handle(self, ctx: NodeContext) -> Transition:
        """Walk the elements; decide once all have finished."""
        scope = self._scope(ctx)
        if isinstance(scope, str):
            return Transition.failed(user_error("ArrayInputsInvalid", f"map node {ctx.node.id}: {scope}"))
        result = ctx.engine.walk(ctx.run, scope, ctx.now)
        if result.phase == NodePhase.RUNNING:
            return Transition.running()
        return self._outcome(ctx, scope)

    def _outcome(self, ctx: NodeContext, scope: Any) -> Transition:
        array = ctx.node.array_node
        assert array is not None
        ids = list(scope.executable.nodes)
        statuses = [ctx.run.state.node(scope.key(i)) for i in ids]
        succeeded = sum(1 for s in statuses if s.phase == NodePhase.SUCCEEDED)
        size = len(ids)
        if array.min_successes is not None:
            needed = array.min_successes
        elif array.min_success_ratio is not None:
            needed = math.ceil(array.min_success_ratio * size)
        else:
            needed = size
        if succeeded < needed:
            first = next((s for s in statuses if s.phase != NodePhase.SUCCEEDED), None)
            detail = f"; first failure: {first.error.message}" if first is not None and first.error else ""
            return Transition.failed(
                user_error(
                    "ArrayNodeFailed",
                    f"map node {ctx.node.id}: {size - succeeded} of {size} elements failed, "
                    f"at least {needed} had to succeed{detail}",
                )
            )
        names = self._output_names(ctx)
        none = Literal(scalar=Scalar(none_type=Void()))
        outputs = {
            name: Literal(
                collection=tuple(
                    (s.outputs.literals.get(name, none) if s.outputs is not None and s.phase == NodePhase.SUCCEEDED else none)
                    for s in statuses
                )
            )
            for name in names
        }
        return Transition.succeeded(LiteralMap(literals=outputs))

    def _output_names(self, ctx: NodeContext) -> list[str]:
        array = ctx.node.array_node
        assert array is not None
        if array.node.task_node is not None:
            try:
                return list(ctx.run.closure.task(array.node.task_node.reference_id).interface.outputs)
            except KeyError:
                return []
        return []

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Abort the running elements."""
        scope = self._scope(ctx)
        if not isinstance(scope, str):
            ctx.engine.abort_scope(ctx.run, scope, cause, ctx.now)
