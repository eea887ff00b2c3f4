"""Pass 300: resolve what nodes refer to, and each node's interface.

- task node: the task's interface;
- subworkflow node: the subworkflow's interface (the subworkflow is compiled next);
- launch plan node: the launch plan's interface without its fixed inputs;
- gate node: signal -> one output (``output_variable_name``) of the signal's type; approve ->
  passes on what it is bound to (inputs = outputs = its bindings, as flytekit's ``approve``
  binds the upstream output under its own name); sleep -> nothing;
- array node: the sub-node's interface, every input (except ``bound_inputs``) and every output
  wrapped in a list; as it is if ``is_original_sub_node_interface`` is False (flytekit's
  ``map_task`` refers to a task whose interface is already the lists');
- branch node: the outputs every case produces (the else node included), typed as in the first
  case; its inputs are what its conditions read, i.e. its bindings.

Output aliases then rename outputs. Branch, approve and array nodes depend on other nodes'
interfaces, so nodes are resolved depth first (iteratively) after what they depend on; a node
that depends on an unresolved one stays unresolved without an error of its own, the root cause
having been reported.
"""

from __future__ import annotations

from flytecore.compiler.bindings import binding_type
from flytecore.compiler.compiler_pass import compiler_pass
from flytecore.compiler.context import CompileContext, NodeEntry, children, describe_node, id_key
from flytecore.compiler.errors import ErrorCode
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import TypedInterface, Variable
from flytecore.spec.types import LiteralType
from flytecore.spec.workflow import Node


@compiler_pass("references", order=300)
def resolve_references(ctx: CompileContext) -> None:
    """Find each node's task, subworkflow or launch plan and compute its interface."""
    done: set[str] = set()
    for root in ctx.nodes:
        if root in done:
            continue
        active: set[str] = set()
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            key, deps_done = stack.pop()
            if deps_done:
                _resolve(ctx, ctx.nodes[key])
                done.add(key)
                active.discard(key)
                continue
            if key in done or key in active:
                continue  # active means an ancestor: a dependency cycle, reported by the cycle pass
            active.add(key)
            stack.append((key, True))
            stack.extend((dep, False) for dep in _dependencies(ctx, ctx.nodes[key]) if dep not in done)


def _dependencies(ctx: CompileContext, entry: NodeEntry) -> list[str]:
    node = entry.node
    deps = [c.key for c in children(entry) if c.key in ctx.nodes]
    if node.branch_node is not None or (node.gate_node is not None and node.gate_node.approve is not None):
        for binding in node.inputs:
            if binding.binding is not None:
                deps += [p.node_id for p in binding.binding.promises() if _is_top(ctx, p.node_id)]
    return deps


def _is_top(ctx: CompileContext, key: str) -> bool:
    entry = ctx.nodes.get(key)
    return entry is not None and entry.role == "node"


def _resolve(ctx: CompileContext, entry: NodeEntry) -> None:
    iface = _interface(ctx, entry)
    if iface is not None:
        ctx.interfaces[entry.key] = _apply_aliases(ctx, entry, iface)


def _interface(ctx: CompileContext, entry: NodeEntry) -> TypedInterface | None:
    node, key = entry.node, entry.key
    if node.task_node is not None:
        task = ctx.task(node.task_node.reference_id)
        if task is None:
            ctx.error(
                ErrorCode.TASK_REFERENCE_NOT_FOUND,
                key,
                f"node {key!r} runs task {_name(node.task_node.reference_id)}, which was not given to the "
                "compiler; register the task first (or pass it in tasks=)",
            )
            return None
        ctx.referenced_tasks.setdefault(id_key(task.id), task)
        return task.interface
    if node.workflow_node is not None:
        return _workflow_interface(ctx, key, node)
    if node.gate_node is not None:
        return _gate_interface(ctx, key, node)
    if node.array_node is not None:
        return _array_interface(ctx, entry)
    if node.branch_node is not None:
        return _branch_interface(ctx, entry)
    ctx.error(
        ErrorCode.VALUE_REQUIRED,
        key,
        f"node {key!r} has nothing to run; set one of task_node, workflow_node, branch_node, gate_node or array_node",
    )
    return None


def _workflow_interface(ctx: CompileContext, key: str, node: Node) -> TypedInterface | None:
    wn = node.workflow_node
    assert wn is not None
    if wn.sub_workflow_ref is not None:
        sub = ctx.sub_workflow(wn.sub_workflow_ref)
        if sub is None:
            ctx.error(
                ErrorCode.WORKFLOW_REFERENCE_NOT_FOUND,
                key,
                f"node {key!r} runs subworkflow {_name(wn.sub_workflow_ref)}, which was not given to the "
                "compiler; pass it in sub_workflows=",
            )
            return None
        ctx.referenced_sub_workflows.setdefault(id_key(sub.id), sub)
        return sub.interface
    if wn.launchplan_ref is not None:
        lp = ctx.launch_plan(wn.launchplan_ref)
        if lp is None:
            ctx.error(
                ErrorCode.WORKFLOW_REFERENCE_NOT_FOUND,
                key,
                f"node {key!r} launches launch plan {_name(wn.launchplan_ref)}, which was not given to the "
                "compiler; register it first (or pass it in launch_plans=)",
            )
            return None
        ctx.referenced_launch_plans.setdefault(id_key(lp.id), lp)
        fixed = lp.fixed_inputs.literals
        inputs = {n: v for n, v in lp.interface.inputs.items() if n not in fixed}
        return TypedInterface(inputs=inputs, outputs=dict(lp.interface.outputs))
    ctx.error(
        ErrorCode.VALUE_REQUIRED, key, f"workflow node {key!r} names neither a subworkflow nor a launch plan"
    )
    return None


def _gate_interface(ctx: CompileContext, key: str, node: Node) -> TypedInterface | None:
    gate = node.gate_node
    assert gate is not None
    if gate.signal is not None:
        signal = gate.signal
        if signal.type is None:
            ctx.error(
                ErrorCode.VALUE_REQUIRED,
                key,
                f"gate node {key!r} waits for signal {signal.signal_id!r} without a type",
            )
            return None
        if not signal.output_variable_name:
            ctx.error(
                ErrorCode.VALUE_REQUIRED, key, f"gate node {key!r} has no output_variable_name for its signal"
            )
            return None
        return TypedInterface(outputs={signal.output_variable_name: Variable(type=signal.type)})
    if gate.sleep is not None:
        return TypedInterface()
    if gate.approve is not None:
        passed = _bound_types(ctx, node)
        if passed is None or len(passed) != len(node.inputs):
            return None  # a type could not be known (or an input is bound twice, reported later)
        return TypedInterface(inputs=passed, outputs=dict(passed))
    ctx.error(
        ErrorCode.NO_CONDITION_FOUND, key, f"gate node {key!r} has no approve, signal or sleep condition"
    )
    return None


def _array_interface(ctx: CompileContext, entry: NodeEntry) -> TypedInterface | None:
    array = entry.node.array_node
    assert array is not None
    if array.node is None:
        ctx.error(ErrorCode.VALUE_REQUIRED, entry.key, f"array node {entry.key!r} has no sub-node to run")
        return None
    sub = ctx.interfaces.get(f"{entry.key}/{array.node.id}")
    if sub is None:
        return None
    if array.is_original_sub_node_interface is False:
        return sub
    bound = set(array.bound_inputs)
    inputs = {n: v if n in bound else _listed(v) for n, v in sub.inputs.items()}
    return TypedInterface(inputs=inputs, outputs={n: _listed(v) for n, v in sub.outputs.items()})


def _branch_interface(ctx: CompileContext, entry: NodeEntry) -> TypedInterface | None:
    cases = [c.key for c in children(entry)]
    if not cases:
        return None  # no case at all: the branch pass reports it
    case_ifaces = [ctx.interfaces.get(c) for c in cases]
    if any(i is None for i in case_ifaces):
        return None
    first, *others = [i for i in case_ifaces if i is not None]
    outputs = {n: v for n, v in first.outputs.items() if all(n in o.outputs for o in others)}
    inputs = {
        b.var: Variable(type=t) for b in entry.node.inputs if (t := binding_type(ctx, b.binding)) is not None
    }
    return TypedInterface(inputs=inputs, outputs=outputs)


def _apply_aliases(ctx: CompileContext, entry: NodeEntry, iface: TypedInterface) -> TypedInterface:
    if not entry.node.output_aliases:
        return iface
    renames: dict[str, str] = {}
    for alias in entry.node.output_aliases:
        if alias.var in renames:
            ctx.error(
                ErrorCode.DUPLICATE_ALIAS,
                entry.key,
                f"node {entry.key!r} renames output {alias.var!r} twice ({renames[alias.var]!r} and "
                f"{alias.alias!r}); keep one alias",
            )
        elif alias.var not in iface.outputs:
            ctx.error(
                ErrorCode.VARIABLE_NAME_NOT_FOUND,
                entry.key,
                f"node {entry.key!r} renames output {alias.var!r}, but {describe_node(entry.node, entry.key)} "
                f"has no such output (outputs: {', '.join(iface.outputs) or 'none'})",
            )
        else:
            renames[alias.var] = alias.alias
    outputs = {renames.get(n, n): v for n, v in iface.outputs.items()}
    return TypedInterface(inputs=iface.inputs, outputs=outputs)


def _bound_types(ctx: CompileContext, node: Node) -> dict[str, Variable] | None:
    types: dict[str, Variable] = {}
    for binding in node.inputs:
        t = binding_type(ctx, binding.binding)
        if t is None:
            return None
        types[binding.var] = Variable(type=t)
    return types


def _listed(var: Variable) -> Variable:
    if var.type is None:
        return var  # reported by the interfaces pass
    return Variable(type=LiteralType(collection_type=var.type), description=var.description)


def _name(identifier: Identifier) -> str:
    version = f" version {identifier.version!r}" if identifier.version else ""
    return f"{identifier.name!r}{version}"
