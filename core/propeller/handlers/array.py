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

Events: as FlytePropeller's array node does by default, the elements of a map over a task are
not node executions of their own at the admin. Their node and task events stay in the round; the
array node reports them as task events of its own task execution (task type
``container_array``), each element an external resource with its index, attempt, phase, cache
status and logs: gathered while the map runs (see :data:`EVENT_INTERVAL`), at most
:data:`EVENT_RESOURCES` per event, an element attempt's logs once. The admin merges them into
the array node's task execution, where the CLI reads them. Elements of other kinds
(subworkflows, launch plans) report their own node events.

Memory and time stay proportional to what moves: the elements' nodes are built when looked at
(from the lists, kept once), their inputs go to one folder per array attempt, and the engine's
queue of nodes held back by parallelism starts them in order as slots free up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
from flyteidl.event.event_pb2 import NodeExecutionEvent, TaskExecutionEvent, WorkflowExecutionEvent

from flytecore.propeller.context import NodeContext, Transition, user_error
from flytecore.propeller.events import EventMessage, array_fields, task_event
from flytecore.propeller.executable import END_NODE_ID, START_NODE_ID, Executable
from flytecore.propeller.handlers.array_batch import (
    BATCHES,
    BatchedElements,
    batches,
    element_resource,
    too_few_successes,
)
from flytecore.spec import idl
from flytecore.spec.events import ExternalResourceInfo
from flytecore.spec.execution import ExecutionError, TaskLog
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.literals import Binding, BindingData, Literal, LiteralMap, Scalar, Void
from flytecore.spec.phases import NodePhase, TaskExecutionPhase
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


def _elements(ctx: NodeContext) -> tuple[int, dict[str, tuple[Literal, ...]], dict[str, Literal]] | str:
    """The number of elements, the mapped lists and the bound inputs (passed whole to every
    element), or a message saying what is wrong."""
    array = ctx.node.array_node
    assert array is not None
    bound = set(array.bound_inputs)
    mapped: dict[str, tuple[Literal, ...]] = {}
    for name, lit in ctx.inputs.literals.items():
        if name in bound:
            continue
        if lit.collection is None:
            return f"input {name!r} is mapped over but is not a list"
        mapped[name] = lit.collection
    lengths = {name: len(items) for name, items in mapped.items()}
    if len(set(lengths.values())) > 1:
        return "list inputs differ in length: " + ", ".join(f"{n}={k}" for n, k in sorted(lengths.items()))
    size = next(iter(lengths.values()), 0)
    whole = {name: ctx.inputs.literals[name] for name in bound if name in ctx.inputs.literals}
    return size, mapped, whole


class _ElementNodes(Mapping[str, Node]):
    """The elements as nodes (id ``"0"``, ``"1"``, ...), each built when it is looked up from the
    lists it maps over: a map of 100,000 elements keeps its inputs once, not a node per element.
    Recently used ones are kept (a running element is looked at a few times)."""

    def __init__(self, sub: Node, mapped: dict[str, tuple[Literal, ...]], whole: dict[str, Literal], size: int) -> None:
        self._sub, self._mapped, self._whole, self._size = sub, mapped, whole, size
        self._built = functools.lru_cache(maxsize=4096)(self._build)

    def _index(self, node_id: str) -> int:
        if not node_id.isdigit() or int(node_id) >= self._size or (node_id != "0" and node_id.startswith("0")):
            raise KeyError(node_id)
        return int(node_id)

    def _build(self, index: int) -> Node:
        element = {name: items[index] for name, items in self._mapped.items()}
        element.update(self._whole)
        sub = self._sub
        return Node(
            id=str(index), metadata=sub.metadata, task_node=sub.task_node, array_node=sub.array_node,
            workflow_node=sub.workflow_node,
            inputs=tuple(Binding(var=name, binding=literal_to_binding_data(lit)) for name, lit in sorted(element.items())),
        )

    def __getitem__(self, node_id: str) -> Node:
        return self._built(self._index(node_id))

    def __contains__(self, node_id: object) -> bool:
        try:
            self._index(node_id)  # type: ignore[arg-type]
        except (KeyError, AttributeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return (str(i) for i in range(self._size))

    def __len__(self) -> int:
        return self._size


class _Edges(Mapping[str, tuple[str, ...]]):
    """A map's edges without a dict entry per element: every element hangs between the start
    node and the end node (``upstream``: element -> start, end -> all elements; ``downstream``:
    start -> all elements, element -> end)."""

    def __init__(self, nodes: _ElementNodes, hub: str, rim: str) -> None:
        self._nodes, self._hub, self._rim = nodes, hub, rim

    def __getitem__(self, node_id: str) -> tuple[str, ...]:
        if node_id == self._hub:
            return tuple(self._nodes) or ((START_NODE_ID,) if self._hub == END_NODE_ID else ())
        if node_id in self._nodes:
            return (self._rim,)
        raise KeyError(node_id)

    def __iter__(self) -> Iterator[str]:
        yield self._hub
        yield from self._nodes

    def __len__(self) -> int:
        return len(self._nodes) + 1


def _executable(ctx: NodeContext, size: int, mapped: dict[str, tuple[Literal, ...]], whole: dict[str, Literal]) -> Executable:
    array = ctx.node.array_node
    assert array is not None
    nodes = _ElementNodes(array.node, mapped, whole, size)
    template = WorkflowTemplate(id=Identifier(resource_type=ResourceType.WORKFLOW, name=f"array.{ctx.key}"))
    upstream = _Edges(nodes, END_NODE_ID, START_NODE_ID)
    downstream = _Edges(nodes, START_NODE_ID, END_NODE_ID)
    return Executable(template, nodes, upstream, downstream)  # type: ignore[arg-type]


def _takes_whole_lists(ctx: NodeContext) -> bool:
    """The sub-node is a task typed with the lists (flytekit's ``…-arraynode`` task)."""
    array = ctx.node.array_node
    assert array is not None
    return array.is_original_sub_node_interface is False and array.node.task_node is not None


def _whole_inputs_uri(ctx: NodeContext) -> str:
    return ctx.inputs_uri  # the array node's inputs, which the engine stored when it started


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
            memo[ctx.key] = found = _executable(ctx, *parsed)
        array = ctx.node.array_node
        assert array is not None
        return Scope(
            found, f"{ctx.key}-{ctx.status.retry_attempt}-", ctx.key, LiteralMap(),
            parallelism=array.parallelism or 0, on_failure=OnFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
            map_inputs_uri=_whole_inputs_uri(ctx) if _takes_whole_lists(ctx) else None,
            element_inputs=None if _takes_whole_lists(ctx) else f"{ctx.node_prefix}/{ctx.status.retry_attempt}/inputs",
        )

    def handle(self, ctx: NodeContext) -> Transition:
        """Run the elements (in batches when their executor can, else as nodes); decide once
        all have finished."""
        batched = self._batched(ctx)
        if isinstance(batched, str):
            return Transition.failed(user_error("ArrayInputsInvalid", f"map node {ctx.node.id}: {batched}"))
        if batched is not None:
            transition = batched.step()
            if transition is not None:
                _report(ctx, batched.size, batched.changed, batched.snapshot, _task_phase(transition), transition.error)
                return transition
        scope = self._scope(ctx)
        if isinstance(scope, str):
            return Transition.failed(user_error("ArrayInputsInvalid", f"map node {ctx.node.id}: {scope}"))
        mark = len(ctx.run.events)
        result = ctx.engine.walk(ctx.run, scope, ctx.now)
        transition = Transition.running() if result.phase == NodePhase.RUNNING else self._outcome(ctx, scope)
        size = len(scope.executable.nodes)
        _report(ctx, size, _element_events(ctx, scope, mark), lambda: _snapshot(ctx, scope), _task_phase(transition), transition.error)
        return transition

    def _batched(self, ctx: NodeContext) -> BatchedElements | str | None:
        """The elements as batches, a message saying what is wrong with the inputs, or None
        when they run as nodes (see :mod:`flytecore.propeller.handlers.array_batch`)."""
        array = ctx.node.array_node
        assert array is not None
        if array.node.task_node is None:
            return None
        try:
            template = ctx.run.closure.task(array.node.task_node.reference_id)
        except KeyError:
            return None
        executor = batches(ctx, template)
        if executor is None:
            return None
        parsed = _elements(ctx)
        if isinstance(parsed, str):
            return parsed
        size, _mapped, whole = parsed
        return BatchedElements(ctx, template, executor, size, sorted(whole))

    def _outcome(self, ctx: NodeContext, scope: Any) -> Transition:
        array = ctx.node.array_node
        assert array is not None
        ids = list(scope.executable.nodes)
        statuses = [ctx.run.state.node(scope.key(i)) for i in ids]
        succeeded = sum(1 for s in statuses if s.phase == NodePhase.SUCCEEDED)
        first = next((s for s in statuses if s.phase != NodePhase.SUCCEEDED), None)
        failed = too_few_successes(ctx, succeeded, len(ids), first.error.message if first is not None and first.error else None)
        if failed is not None:
            return failed
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
        if BATCHES in ctx.status.plugin_state:
            batched = self._batched(ctx)
            if isinstance(batched, BatchedElements):
                batched.abort()
                _report(ctx, batched.size, batched.changed, batched.snapshot, TaskExecutionPhase.ABORTED, None)
                return
        scope = self._scope(ctx)
        if not isinstance(scope, str):
            mark = len(ctx.run.events)
            ctx.engine.abort_scope(ctx.run, scope, cause, ctx.now)
            size = len(scope.executable.nodes)
            _report(ctx, size, _element_events(ctx, scope, mark), lambda: _snapshot(ctx, scope), TaskExecutionPhase.ABORTED, None)


_TASK_PHASES = {
    NodePhase.SUCCEEDED: TaskExecutionPhase.SUCCEEDED,
    NodePhase.FAILED: TaskExecutionPhase.FAILED,
    NodePhase.RETRYABLE_FAILURE: TaskExecutionPhase.FAILED,
    NodePhase.TIMED_OUT: TaskExecutionPhase.FAILED,
    NodePhase.ABORTED: TaskExecutionPhase.ABORTED,
}
"""An element's (or the array node's) node phase as the task phase its external resource shows,
when no task event of its own says more (a cache hit, a binding failure, an abort)."""


def _task_phase(transition: Transition) -> TaskExecutionPhase:
    return _TASK_PHASES.get(transition.phase, TaskExecutionPhase.RUNNING)

_VERSION = "_array_event_version"


EVENT_INTERVAL = 1.0
"""Least seconds between two reports of a running array node: element changes in between are
gathered (a wide map changes every round; one event per round would cost the admin a merge of
the whole list each time). A map of more than 10,000 elements reports once per second for each
10,000 (the admin's merge grows with the list). Its first and last reports are sent at once."""

EVENT_RESOURCES = 1000
"""Most elements one task event reports (more changes go in several events, each a new phase
version): an event stays far below the admin's size limit whatever the map's width."""


def _element_events(ctx: NodeContext, scope: Any, mark: int) -> dict[tuple[int, int], ExternalResourceInfo]:
    """Take the elements' own node and task events since ``mark`` out of the round, as external
    resources by (index, attempt); other events stay (a dynamic element's sub-nodes)."""
    run, prefix = ctx.run, scope.prefix
    mine: dict[tuple[int, int], ExternalResourceInfo] = {}
    kept: list[EventMessage] = []
    for event in run.events[mark:]:
        key = event.id.node_id if isinstance(event, NodeExecutionEvent) else (
            event.parent_node_execution_id.node_id if isinstance(event, TaskExecutionEvent) else None
        )
        index = key[len(prefix) :] if key is not None and key.startswith(prefix) else ""
        if not index.isdigit() or isinstance(event, WorkflowExecutionEvent):
            kept.append(event)
            continue
        status = run.state.node(key)  # type: ignore[arg-type]
        attempt = event.retry_attempt if isinstance(event, TaskExecutionEvent) else status.retry_attempt
        slot = (int(index), attempt)
        known = mine.get(slot)
        if isinstance(event, TaskExecutionEvent):
            element_phase = TaskExecutionPhase(event.phase)
            logs = tuple(attrs.evolve(idl.from_idl(log, TaskLog), name=f"{log.name}-{index}") for log in event.logs)
        else:
            element_phase = _TASK_PHASES.get(status.phase) if status.phase.is_terminal else None
            if element_phase is None:
                element_phase = known.phase if known is not None else TaskExecutionPhase.QUEUED
            logs = ()
        mine[slot] = element_resource(ctx, int(index), attempt, element_phase, status.cache_status, logs or (known.logs if known else ()))
    del run.events[mark:]
    run.events.extend(kept)
    return mine


def _snapshot(ctx: NodeContext, scope: Any) -> dict[tuple[int, int], ExternalResourceInfo]:
    """Every element's current state, from the statuses (after a restart, the changes gathered
    before it are gone: the next event says where every element stands)."""
    found = {}
    for node_id in scope.executable.nodes:
        status = ctx.run.state.peek(scope.key(node_id))
        if status is None:
            continue
        phase = _TASK_PHASES.get(status.phase) if status.phase.is_terminal else TaskExecutionPhase.RUNNING
        found[(int(node_id), status.retry_attempt)] = element_resource(
            ctx, int(node_id), status.retry_attempt, phase or TaskExecutionPhase.UNDEFINED, status.cache_status, ()
        )
    return found


def _report(
    ctx: NodeContext,
    size: int,
    changed: dict[tuple[int, int], ExternalResourceInfo],
    snapshot: Callable[[], dict[tuple[int, int], ExternalResourceInfo]],
    phase: TaskExecutionPhase,
    error: ExecutionError | None,
) -> None:
    """Report the elements that ``changed`` (by index and attempt) in the array node's task
    events, gathered (see the module docstring and :data:`EVENT_INTERVAL`); ``snapshot`` gives
    every element's state, for the first report after a restart."""
    array = ctx.node.array_node
    assert array is not None
    if array.node.task_node is None:
        return  # elements of other kinds report their own node events
    version = ctx.status.plugin_state.get(_VERSION)
    gathered = ctx.run.memo["array_events"].get(ctx.key)
    if gathered is None:
        gathered = ctx.run.memo["array_events"][ctx.key] = {
            "pending": {}, "last": ctx.now, "snapshot": version is not None, "logged": set(),
        }
    for slot, resource in changed.items():
        # An element attempt's logs are reported once (the admin keeps them): a wide map's
        # events would otherwise repeat every element's links in every report.
        if resource.logs:
            if slot in gathered["logged"]:
                resource = attrs.evolve(resource, logs=())
            else:
                gathered["logged"].add(slot)
        earlier = gathered["pending"].get(slot)
        if not resource.logs and earlier is not None and earlier.logs:
            resource = attrs.evolve(resource, logs=earlier.logs)  # not sent yet: still to send
        gathered["pending"][slot] = resource
    running = phase == TaskExecutionPhase.RUNNING
    if version is not None and running:
        if not gathered["pending"] and not gathered["snapshot"]:
            return
        due = gathered["last"] + EVENT_INTERVAL * max(1.0, size / 10_000)
        if ctx.now < due:
            ctx.run.want_wake(due)
            return
    if gathered["snapshot"]:
        gathered["pending"] = {**snapshot(), **gathered["pending"]}
    pending = gathered["pending"]
    resources = [pending[slot] for slot in sorted(pending)]
    chunks = [resources[i : i + EVENT_RESOURCES] for i in range(0, len(resources), EVENT_RESOURCES)] or [[]]
    for i, chunk in enumerate(chunks):
        version = 0 if version is None else version + 1
        last = i == len(chunks) - 1  # the array's own phase changes with the last of them
        task_event(
            ctx.run, ctx.key, array.node.task_node.reference_id, ctx.status.retry_attempt,
            phase if last else TaskExecutionPhase.RUNNING, version, ctx.now,
            input_uri=ctx.inputs_uri if version == 0 else None,
            error=error if last and phase == TaskExecutionPhase.FAILED else None,
            **array_fields(chunk),
        )
    ctx.status.plugin_state[_VERSION] = version
    ctx.run.state.touch(ctx.key)
    gathered.update(pending={}, last=ctx.now, snapshot=False)
