"""What compiler passes work on: one workflow, the entities it may refer to, and what earlier
passes found out about it (node interfaces, edges, errors)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import attrs

from flytecore.compiler.errors import CompileError
from flytecore.spec.compiled import ConnectionSet
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import TypedInterface, Variable
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import (
    END_NODE_ID,
    GLOBAL_INPUT_NODE_ID,
    START_NODE_ID,
    LaunchPlanTemplate,
    Node,
    WorkflowTemplate,
)

__all__ = [
    "IdKey",
    "id_key",
    "NodeRole",
    "NodeEntry",
    "EntityIndex",
    "CompileContext",
    "iter_nodes",
    "children",
    "case_key",
    "describe_node",
    "is_workflow_input",
    "takes_any_inputs",
]

IdKey = tuple[str, str, str, str]
"""(project, domain, name, version): how the compiler matches a reference to an entity."""

NodeRole = Literal["node", "case", "array", "failure"]
"""Where a node sits: a top-level node, a branch case's node, an array node's sub-node, or the
workflow's failure node."""


def id_key(identifier: Identifier) -> IdKey:
    """The key of an identifier; the resource type is ignored, as references often leave it out."""
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


@attrs.define(frozen=True, slots=True)
class NodeEntry:
    """A node of the workflow, wherever it is nested.

    :ivar key: the node's id at the top level. Nested ids are scoped by their container, since
        SDKs number them on their own: a branch case's node is keyed ``"<branch key>-<case id>"``
        (Flyte's compiler names it so: flytekit numbers each case's nodes from ``n0`` again, so
        they repeat top-level ids), and an array node's sub-node ``"<array key>/<sub id>"``
        (SDKs name it after the mapped task, so two array nodes mapping one task repeat it).
    :ivar node: the node itself.
    :ivar role: see :data:`NodeRole`.
    :ivar parent: the key of the branch or array node containing it (None at the top level).
    :ivar top: the key of the top-level node containing it (itself at the top level): the graph's
        edges are between top-level nodes, so a nested node's dependencies count for its top.
    """

    key: str
    node: Node
    role: NodeRole
    parent: str | None
    top: str


def iter_nodes(workflow: WorkflowTemplate) -> Iterator[NodeEntry]:
    """Every node of ``workflow``, depth first in declaration order, nested ones after their
    container; the failure node last. Iterative, so deep nesting cannot exhaust the stack."""
    roots: list[tuple[Node, NodeRole]] = [(n, "node") for n in workflow.nodes]
    if workflow.failure_node is not None:
        roots.append((workflow.failure_node, "failure"))
    for root, role in roots:
        stack: list[NodeEntry] = [NodeEntry(root.id, root, role, None, root.id)]
        while stack:
            entry = stack.pop()
            yield entry
            if entry.node.branch_node is not None or entry.node.array_node is not None:
                stack.extend(reversed(list(children(entry))))


def children(entry: NodeEntry) -> Iterator[NodeEntry]:
    """The nodes directly inside ``entry``: a branch's case nodes (else last) or an array node's
    sub-node."""
    node = entry.node
    if node.branch_node is not None:
        if_else = node.branch_node.if_else
        blocks = [if_else.case, *if_else.other] if if_else.case is not None else list(if_else.other)
        thens = [b.then_node for b in blocks if b is not None and b.then_node is not None]
        if if_else.else_node is not None:
            thens.append(if_else.else_node)
        for then in thens:
            yield NodeEntry(case_key(entry.key, then.id), then, "case", entry.key, entry.top)
    elif node.array_node is not None and node.array_node.node is not None:
        sub = node.array_node.node
        yield NodeEntry(f"{entry.key}/{sub.id}", sub, "array", entry.key, entry.top)


def case_key(branch_key: str, case_id: str) -> str:
    """The key of a branch case's node: ``"<branch key>-<case id>"``, as Flyte's compiler
    (``branchNodeIDFormatter``) names it. An empty case id stays empty, to be reported."""
    return f"{branch_key}-{case_id}" if case_id else ""


class EntityIndex:
    """Tasks, subworkflows and launch plans by :func:`id_key`; the first of duplicates wins."""

    def __init__(
        self,
        tasks: Iterable[TaskTemplate] = (),
        sub_workflows: Iterable[WorkflowTemplate] = (),
        launch_plans: Iterable[LaunchPlanTemplate] = (),
    ) -> None:
        self.tasks: dict[IdKey, TaskTemplate] = {}
        self.sub_workflows: dict[IdKey, WorkflowTemplate] = {}
        self.launch_plans: dict[IdKey, LaunchPlanTemplate] = {}
        for task in tasks:
            self.tasks.setdefault(id_key(task.id), task)
        for workflow in sub_workflows:
            self.sub_workflows.setdefault(id_key(workflow.id), workflow)
        for lp in launch_plans:
            self.launch_plans.setdefault(id_key(lp.id), lp)


class CompileContext:
    """The state of compiling one workflow, handed to every pass in order.

    Passes read the workflow and the indices, record what they derive (``interfaces``, edges)
    and report problems with :meth:`error`; they never raise for a problem in the workflow.

    :ivar workflow: the workflow being compiled.
    :ivar workflow_id: its name, used in errors.
    :ivar index: tasks, subworkflows and launch plans that references may resolve to.
    :ivar nodes: every node by key (see :class:`NodeEntry`), nested ones and the failure node
        included; of two nodes with the same id the first is kept, and nodes using the reserved
        ids ``start-node``/``end-node`` are left out (both reported as ``DuplicateId``).
    :ivar dropped: the nodes left out of ``nodes``, in declaration order.
    :ivar top_level: keys of the top-level nodes in declaration order.
    :ivar interfaces: each node's resolved interface, filled by the reference pass; a node whose
        interface could not be resolved is absent, and later passes skip checks that need it.
    :ivar downstream: edges, node key -> keys of the nodes that depend on it.
    :ivar upstream: edges, node key -> keys of the nodes it depends on.
    :ivar cyclic: keys of top-level nodes that lie on a cycle (filled by the cycle pass).
    :ivar referenced_tasks: tasks that nodes refer to (for the closure).
    :ivar referenced_sub_workflows: subworkflows that nodes refer to (compiled next).
    :ivar referenced_launch_plans: launch plans that nodes refer to.
    :ivar notes: free room for plugin passes to hand facts to later passes.
    :ivar errors: what the passes reported, in order.
    """

    def __init__(self, workflow: WorkflowTemplate, index: EntityIndex) -> None:
        self.workflow = workflow
        self.workflow_id = workflow.id.name
        self.index = index
        self.nodes: dict[str, NodeEntry] = {}
        self.dropped: list[NodeEntry] = []
        self.top_level: list[str] = []
        for entry in iter_nodes(workflow):
            # A node under a reserved id would merge with the implicit start or end node; it is
            # left out of the graph like a duplicate (the node id pass reports both).
            if entry.key in self.nodes or entry.key in (START_NODE_ID, END_NODE_ID):
                self.dropped.append(entry)
                continue
            self.nodes[entry.key] = entry
            if entry.role == "node":
                self.top_level.append(entry.key)
        self.interfaces: dict[str, TypedInterface] = {}
        self.downstream: dict[str, dict[str, None]] = {}
        self.upstream: dict[str, dict[str, None]] = {}
        self.cyclic: set[str] = set()
        self.referenced_tasks: dict[IdKey, TaskTemplate] = {}
        self.referenced_sub_workflows: dict[IdKey, WorkflowTemplate] = {}
        self.referenced_launch_plans: dict[IdKey, LaunchPlanTemplate] = {}
        self.notes: dict[str, Any] = {}
        self.errors: list[CompileError] = []

    # -- reporting ---------------------------------------------------------------------------------

    def error(self, code: str, node_id: str, message: str) -> None:
        """Report a problem at ``node_id`` (``"start-node"``/``"end-node"`` for the workflow's
        inputs/outputs, ``""`` for the whole workflow)."""
        self.errors.append(
            CompileError(code=str(code), node_id=node_id, message=message, workflow_id=self.workflow_id)
        )

    # -- lookups -------------------------------------------------------------------------------------

    def task(self, identifier: Identifier) -> TaskTemplate | None:
        """The task ``identifier`` refers to, or None."""
        return self.index.tasks.get(id_key(identifier))

    def sub_workflow(self, identifier: Identifier) -> WorkflowTemplate | None:
        """The subworkflow ``identifier`` refers to, or None."""
        return self.index.sub_workflows.get(id_key(identifier))

    def launch_plan(self, identifier: Identifier) -> LaunchPlanTemplate | None:
        """The launch plan ``identifier`` refers to, or None."""
        return self.index.launch_plans.get(id_key(identifier))

    def outputs_of(self, node_ref: str) -> dict[str, Variable] | None:
        """What a binding to node ``node_ref`` can read: the workflow's inputs for ``""`` and
        ``"start-node"``, else the node's resolved outputs; None when they are not known."""
        if is_workflow_input(node_ref):
            return self.workflow.interface.inputs
        iface = self.interfaces.get(node_ref)
        return iface.outputs if iface is not None else None

    # -- edges ---------------------------------------------------------------------------------------

    def add_edge(self, upstream: str, downstream: str) -> None:
        """Record that ``downstream`` runs after ``upstream`` (both directions of the set)."""
        self.downstream.setdefault(upstream, {})[downstream] = None
        self.upstream.setdefault(downstream, {})[upstream] = None

    def add_upstream_only(self, upstream: str, node: str) -> None:
        """Record that ``node`` reads from ``upstream`` without being part of the DAG (the
        failure node runs only when the workflow fails, so nothing waits for it)."""
        self.upstream.setdefault(node, {})[upstream] = None

    def connections(self) -> ConnectionSet:
        """The edges as a ConnectionSet, ids sorted for a stable result."""
        return ConnectionSet(
            downstream={k: tuple(sorted(v)) for k, v in sorted(self.downstream.items())},
            upstream={k: tuple(sorted(v)) for k, v in sorted(self.upstream.items())},
        )

    # -- words -----------------------------------------------------------------------------------------

    def describe(self, key: str) -> str:
        """How messages name a node's target: ``task 'my.t'``, ``launch plan 'lp'``,
        ``branch node 'n1'``, ``workflow output`` …"""
        if key == END_NODE_ID:
            return "the workflow"
        entry = self.nodes.get(key)
        if entry is None:
            return f"node {key!r}"
        return describe_node(entry.node, key)


def describe_node(node: Node, key: str) -> str:
    """``task 'my.t'``, ``subworkflow 'w'``, ``launch plan 'lp'``, ``gate node 'n2'`` …"""
    if node.task_node is not None:
        return f"task {node.task_node.reference_id.name!r}"
    if node.workflow_node is not None:
        wn = node.workflow_node
        if wn.sub_workflow_ref is not None:
            return f"subworkflow {wn.sub_workflow_ref.name!r}"
        if wn.launchplan_ref is not None:
            return f"launch plan {wn.launchplan_ref.name!r}"
    if node.array_node is not None:
        sub = node.array_node.node
        mapped = (
            f" mapping {describe_node(sub, key)}" if sub is not None and sub.task_node is not None else ""
        )
        return f"array node {key!r}{mapped}"
    kind = node.kind if node.kind not in ("start", "end") else "empty"
    return f"{kind} node {key!r}"


def takes_any_inputs(node: Node) -> bool:
    """True for nodes whose inputs are whatever they are bound to (a branch node: the values its
    conditions read; an approve gate: the value it passes on) rather than a declared interface."""
    return node.branch_node is not None or (node.gate_node is not None and node.gate_node.approve is not None)


def is_workflow_input(node_ref: str) -> bool:
    """True if a binding's node id refers to the workflow's inputs (flytekit and flytecore send
    ``"start-node"``; flyteidl's convention is ``""``)."""
    return node_ref in (START_NODE_ID, GLOBAL_INPUT_NODE_ID)
