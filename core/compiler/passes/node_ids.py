"""Pass 200: node ids, and the edges between nodes.

Node ids must be set, unique and not the reserved ids of the implicit start and end nodes. A
nested node's id need only be unique in its container: as in Flyte, a branch case's node counts
as ``<branch id>-<case id>`` (flytekit numbers each case's nodes from ``n0`` again), and an array
node's sub-node is named after the mapped task. Every node a binding or ``upstream_node_ids`` names must exist at
the top level of the workflow.

The edges follow Flyte: a binding to a node's output and an ``upstream_node_ids`` entry each make
an edge; bindings to workflow inputs make an edge from ``start-node``, workflow outputs edges to
``end-node``. A nested node's dependencies are edges into its top-level node, since that is what
the DAG schedules. Then, as in Flyte, a top-level node with no upstream edge hangs from
``start-node`` and one with no downstream edge leads to ``end-node``, so the end waits for every
node. The failure node only reads, and only the workflow's inputs (it runs after the workflow
failed, when other nodes' outputs may not exist): it gets upstream entries from ``start-node``,
never downstream ones.
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, NodeEntry, is_workflow_input
from flytecore.compiler.errors import ErrorCode
from flytecore.spec.workflow import END_NODE_ID, START_NODE_ID


@compiler_pass("node-ids", order=200)
def check_node_ids(ctx: CompileContext) -> None:
    """Node ids are set, unique and not reserved; references name existing nodes; edges."""
    if not ctx.workflow.nodes:
        ctx.error(
            ErrorCode.NO_NODES_FOUND, "", f"workflow {ctx.workflow_id!r} has no nodes; add at least one"
        )
    _check_ids(ctx)
    _add_edges(ctx)


def _check_ids(ctx: CompileContext) -> None:
    # The context keeps the first node of each id and drops the rest: those are the duplicates.
    empty = ctx.nodes.get("")
    for entry in ([empty] if empty is not None else []) + ctx.dropped:
        node_id = entry.node.id
        where = _where(entry)
        if not node_id:
            ctx.error(
                ErrorCode.VALUE_REQUIRED,
                entry.parent or "",
                f"a node{where} has an empty id; give it a unique id",
            )
        elif node_id in (START_NODE_ID, END_NODE_ID):
            which = "start" if node_id == START_NODE_ID else "end"
            ctx.error(
                ErrorCode.DUPLICATE_ID,
                node_id,
                f"node id {node_id!r}{where} is reserved for the workflow's implicit {which} node; rename the node",
            )
        else:
            ctx.error(
                ErrorCode.DUPLICATE_ID,
                entry.key,
                f"more than one node{where} has the id {entry.key!r}; node ids must be unique in a workflow "
                "(a branch's case nodes count as '<branch id>-<case id>')",
            )


def _where(entry: NodeEntry) -> str:
    if entry.role == "case":
        return f" (a case of branch node {entry.parent!r})"
    if entry.role == "array":
        return f" (the sub-node of array node {entry.parent!r})"
    if entry.role == "failure":
        return " (the failure node)"
    return ""


def _add_edges(ctx: CompileContext) -> None:
    for entry in ctx.nodes.values():
        reported: set[str] = set()
        for ref in entry.node.upstream_node_ids:
            what = f"node {entry.key!r} lists {ref!r} in its upstream_node_ids"
            _link(ctx, entry, ref, what, reported)
        for binding in entry.node.inputs:
            if binding.binding is None:
                continue
            for promise in binding.binding.promises():
                what = f"input {binding.var!r} of node {entry.key!r} is bound to node {promise.node_id!r}"
                _link(ctx, entry, promise.node_id, what, reported)
    reported = set()
    for binding in ctx.workflow.outputs:
        if binding.binding is None:
            continue
        for promise in binding.binding.promises():
            what = f"workflow output {binding.var!r} is bound to node {promise.node_id!r}"
            _link(ctx, None, promise.node_id, what, reported)
    for key in ctx.top_level:
        if key not in ctx.upstream:
            ctx.add_edge(START_NODE_ID, key)
        if key not in ctx.downstream:
            ctx.add_edge(key, END_NODE_ID)


def _link(ctx: CompileContext, entry: NodeEntry | None, ref: str, what: str, reported: set[str]) -> None:
    """Add the edge ``ref -> entry.top`` (``ref -> end-node`` for ``entry=None``, a workflow
    output), or report why ``ref`` cannot be depended on."""
    key = entry.key if entry is not None else END_NODE_ID
    failure = entry is not None and _in_failure_node(ctx, entry)
    if is_workflow_input(ref):
        source = START_NODE_ID
    elif failure:
        # It runs once the workflow failed, when other nodes may never have run (Flyte resolves
        # a failure node's bindings against the start node only).
        if ref not in reported:
            reported.add(ref)
            ctx.error(
                ErrorCode.NODE_REFERENCE_NOT_FOUND,
                key,
                f"{what}, but the workflow's failure node runs after the workflow failed and can read only "
                "the workflow's inputs; bind it to a workflow input",
            )
        return
    else:
        target = ctx.nodes.get(ref) or _nested_with_id(ctx, ref)
        problem = ""
        if target is None:
            problem = "which is not in the workflow"
        elif target.role == "failure":
            problem = "the workflow's failure node, whose outputs no node can read"
        elif target.role != "node":
            problem = f"which is nested in node {target.top!r}; refer to {target.top!r} instead"
        if problem:
            if ref not in reported:
                reported.add(ref)
                ctx.error(ErrorCode.NODE_REFERENCE_NOT_FOUND, key, f"{what}, {problem}")
            return
        source = ref
    if entry is None:
        ctx.add_edge(source, END_NODE_ID)
    elif failure:
        ctx.add_upstream_only(source, entry.top)
    else:
        ctx.add_edge(source, entry.top)


def _in_failure_node(ctx: CompileContext, entry: NodeEntry) -> bool:
    """Whether ``entry`` is the failure node or nested in it."""
    top = ctx.nodes.get(entry.top)
    return entry.role == "failure" or (top is not None and top.role == "failure")


def _nested_with_id(ctx: CompileContext, node_id: str) -> NodeEntry | None:
    """A nested node whose own id is ``node_id`` (nested nodes are keyed by their container), to
    say why a reference to it is wrong. Runs only for a reference that is already an error."""
    return next((e for e in ctx.nodes.values() if e.role in ("case", "array") and e.node.id == node_id), None)
