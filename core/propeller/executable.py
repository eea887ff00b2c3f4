"""A compiled workflow indexed for rounds: nodes by id, edges both ways, tasks and subworkflows
by identifier.

Built once per workflow template and execution (rounds only look things up), so a round's cost
depends on the nodes it touches, not on the size of the workflow.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from flytecore.spec.compiled import CompiledWorkflow, CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import END_NODE_ID, START_NODE_ID, LaunchPlanTemplate, Node, WorkflowTemplate

__all__ = ["END_NODE_ID", "START_NODE_ID", "Closure", "Executable"]


def _key(identifier: Identifier) -> tuple[str, str, str, str]:
    # Versions and projects can differ between references in one closure only in theory; the
    # full tuple keeps lookups exact.
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


@attrs.define(eq=False)
class Executable:
    """One workflow (primary, subworkflow or dynamic) ready to walk.

    :ivar template: the workflow template.
    :ivar nodes: the template's nodes by id (start and end nodes are implicit).
    :ivar upstream: for each node id (end node included), the ids it waits for.
    :ivar downstream: for each node id (start node included), the ids waiting for it.
    """

    template: WorkflowTemplate
    nodes: dict[str, Node]
    upstream: dict[str, tuple[str, ...]]
    downstream: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, compiled: CompiledWorkflow) -> Executable:
        """Index a compiled workflow (its connections come from the compiler)."""
        template = compiled.template
        nodes = {node.id: node for node in template.nodes}
        upstream = dict(compiled.connections.upstream)
        downstream = dict(compiled.connections.downstream)
        if not upstream and not downstream:
            upstream, downstream = _connections_of(template)
        # Every node waits for something: a node without upstream hangs off the start node.
        for node_id in nodes:
            if not upstream.get(node_id):
                upstream[node_id] = (START_NODE_ID,)
                downstream[START_NODE_ID] = (*downstream.get(START_NODE_ID, ()), node_id)
        return cls(template, nodes, upstream, downstream)

    @property
    def start_successors(self) -> tuple[str, ...]:
        """The nodes ready as soon as the workflow starts."""
        return self.downstream.get(START_NODE_ID, ())


def _connections_of(template: WorkflowTemplate) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Edges from bindings and explicit upstream ids, for a template that was not compiled with
    connections (a dynamic workflow built at run time)."""
    upstream: dict[str, set[str]] = {}

    def refs(node_ids: Iterable[str]) -> set[str]:
        return {START_NODE_ID if n in ("", START_NODE_ID) else n for n in node_ids}

    for node in template.nodes:
        upstream[node.id] = refs(_binding_nodes(node)) | set(node.upstream_node_ids)
    upstream[END_NODE_ID] = refs(_promise_nodes(b.binding for b in template.outputs)) or {START_NODE_ID}
    downstream: dict[str, list[str]] = {}
    for node_id, ups in upstream.items():
        for up in sorted(ups):
            downstream.setdefault(up, []).append(node_id)
    return (
        {k: tuple(sorted(v)) for k, v in upstream.items()},
        {k: tuple(v) for k, v in downstream.items()},
    )


def _binding_nodes(node: Node) -> list[str]:
    found = _promise_nodes(b.binding for b in node.inputs)
    if node.branch_node is not None:
        # A branch reads the variables of its conditions and its cases' bindings.
        block = node.branch_node.if_else
        for case in (block.case, *block.other):
            found += _condition_nodes(case.condition)
            found += _binding_nodes(case.then_node)
        if block.else_node is not None:
            found += _binding_nodes(block.else_node)
    return found


def _condition_nodes(expr: object) -> list[str]:
    comparison = getattr(expr, "comparison", None)
    if comparison is not None:
        return []  # operands name workflow variables through the branch node's own inputs
    conjunction = getattr(expr, "conjunction", None)
    if conjunction is None:
        return []
    return _condition_nodes(conjunction.left_expression) + _condition_nodes(conjunction.right_expression)


def _promise_nodes(bindings: Iterable[object]) -> list[str]:
    found: list[str] = []
    stack = list(bindings)
    while stack:
        data = stack.pop()
        promise = getattr(data, "promise", None)
        if promise is not None:
            found.append(promise.node_id)
        stack.extend(getattr(data, "collection", None) or ())
        stack.extend((getattr(data, "map", None) or {}).values())
    return found


class Closure:
    """Everything an execution can run, by identifier: the closure's primary workflow,
    subworkflows, tasks and launch plans, plus dynamic workflows added while it runs."""

    def __init__(self, closure: CompiledWorkflowClosure) -> None:
        self.closure = closure
        self.primary = Executable.of(closure.primary)
        self._tasks: dict[tuple[str, str, str, str], TaskTemplate] = {}
        self._workflows: dict[tuple[str, str, str, str], Executable] = {}
        self._launch_plans: dict[tuple[str, str, str, str], LaunchPlanTemplate] = {}
        self.add(closure)

    def add(self, closure: CompiledWorkflowClosure) -> None:
        """Add the tasks, subworkflows and launch plans of ``closure`` (a dynamic workflow's)."""
        for task in closure.tasks:
            self._tasks.setdefault(_key(task.template.id), task.template)
        for sub in closure.sub_workflows:
            self._workflows.setdefault(_key(sub.template.id), Executable.of(sub))
        for lp in closure.launch_plans:
            self._launch_plans.setdefault(_key(lp.template.id), lp.template)

    def task(self, identifier: Identifier) -> TaskTemplate:
        """The task template ``identifier`` names; KeyError names it when missing."""
        try:
            return self._tasks[_key(identifier)]
        except KeyError:
            raise KeyError(f"task {identifier.name}@{identifier.version} is not in the workflow's closure") from None

    def workflow(self, identifier: Identifier) -> Executable:
        """The subworkflow ``identifier`` names."""
        try:
            return self._workflows[_key(identifier)]
        except KeyError:
            raise KeyError(
                f"subworkflow {identifier.name}@{identifier.version} is not in the workflow's closure"
            ) from None

    def launch_plan(self, identifier: Identifier) -> LaunchPlanTemplate | None:
        """The launch plan ``identifier`` names, if the closure carries it."""
        return self._launch_plans.get(_key(identifier))
