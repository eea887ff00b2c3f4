"""One test per error code the core passes raise: the code, the node it names and the sentence."""

from __future__ import annotations

import attrs

from flytecore.compiler import CompilationFailed, ErrorCode, compile_workflow
from flytecore.plugin import PluginHost
from flytecore.spec.interface import TypedInterface, Variable
from flytecore.spec.literals import Binding, scalar_literal
from flytecore.spec.workflow import Alias, GateNode, IfBlock, Node, SignalCondition

from .builders import (
    FLOAT,
    INT,
    STR,
    approve_node,
    branch_node,
    coll,
    compile_errors,
    cond,
    dict_of,
    enum,
    launch_plan,
    list_of,
    lit,
    lp_node,
    mapping,
    only_error,
    out,
    signal_node,
    sub_node,
    task,
    task_node,
    union,
    wf_in,
    workflow,
)

T_INT = task("my.t", {"x": INT}, {"o0": INT})
T_STR = task("my.s", {}, {"o0": STR})
T_NONE = task("my.noop")


def test_cycle_detected(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            task_node("a", T_INT, x=out("c")),
            task_node("b", T_INT, x=out("a")),
            task_node("c", T_INT, x=out("b")),
        ],
    )
    err = only_error(wf, host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("CycleDetected", "a")
    assert err.message == (
        "nodes depend on each other in a cycle: a -> b -> c -> a; a node cannot wait for its own output, "
        "directly or through others"
    )


def test_cycle_detected_self_loop(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("a", T_INT, x=out("a"))]), host, tasks=[T_INT])
    assert (err.code, err.node_id, err.message) == (
        "CycleDetected",
        "a",
        "node 'a' depends on its own output",
    )


def test_cycle_detected_subworkflow_contains_itself(host: PluginHost) -> None:
    inner = workflow("inner", [task_node("n0", T_NONE)])
    inner = attrs.evolve(inner, nodes=(*inner.nodes, sub_node("again", inner)))
    wf = workflow("wf", [sub_node("s", inner)])
    err = only_error(wf, host, tasks=[T_NONE], sub_workflows=[inner])
    assert (err.code, err.node_id, err.workflow_id) == ("CycleDetected", "again", "inner")
    assert "subworkflow 'inner' contains itself ('inner' -> 'inner')" in err.message
    assert "launch it through a launch plan instead" in err.message


def test_branch_node_id_not_found(host: PluginHost) -> None:
    wf = workflow(
        "wf", [branch_node("b", [(cond("x", 1), None)], fail="no", x=wf_in("x"))], inputs={"x": INT}
    )
    err = only_error(wf, host)
    assert (err.code, err.node_id) == ("BranchNodeIdNotFound", "b")
    assert err.message == "the if case of branch node 'b' has no node to run"


def test_branch_node_has_no_condition(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            branch_node(
                "b",
                [(cond("x", 1), task_node("t1", T_NONE)), (None, task_node("t2", T_NONE))],
                fail="no",
                x=wf_in("x"),
            )
        ],
        inputs={"x": INT},
    )
    err = only_error(wf, host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("BranchNodeHasNoCondition", "b")
    assert err.message == "elif case 1 of branch node 'b' has no condition"


def test_branch_node_has_no_default(host: PluginHost) -> None:
    wf = workflow(
        "wf", [branch_node("b", [(cond("x", 1), task_node("t1", T_NONE))], x=wf_in("x"))], inputs={"x": INT}
    )
    err = only_error(wf, host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("BranchNodeHasNoDefault", "b")
    assert err.message == (
        "branch node 'b' has no else: add an else node, or an else error (fail) for when no condition holds"
    )


def test_value_required_empty_node_id(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("", T_NONE)]), host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("ValueRequired", "")
    assert err.message == "a node has an empty id; give it a unique id"
    assert str(err) == "ValueRequired [workflow wf]: a node has an empty id; give it a unique id"


def test_value_required_node_without_target(host: PluginHost) -> None:
    err = only_error(workflow("wf", [Node(id="n0")]), host)
    assert (err.code, err.node_id) == ("ValueRequired", "n0")
    assert err.message == (
        "node 'n0' has nothing to run; set one of task_node, workflow_node, branch_node, gate_node or array_node"
    )


def test_value_required_signal_without_type(host: PluginHost) -> None:
    gate = GateNode(signal=attrs.evolve(SignalCondition(signal_id="s", type=INT), type=None))
    err = only_error(workflow("wf", [Node(id="g", gate_node=gate)]), host)
    assert (err.code, err.node_id, err.message) == (
        "ValueRequired",
        "g",
        "gate node 'g' waits for signal 's' without a type",
    )


def test_invalid_value_variable_name(host: PluginHost) -> None:
    bad = task("my.bad", {"not-a-name": INT})
    err = only_error(workflow("wf", [task_node("n0", bad, **{"not-a-name": lit(1)})]), host, tasks=[bad])
    assert (err.code, err.node_id) == ("InvalidValue", "n0")
    assert err.message == (
        "task 'my.bad' has an input named 'not-a-name', which is not a valid identifier; "
        "use letters, digits and underscores, not starting with a digit"
    )


def test_invalid_value_workflow_output_name(host: PluginHost) -> None:
    wf = workflow("wf", [task_node("n0", T_STR)], outputs={"1st": STR}, **{"1st": out("n0")})
    err = only_error(wf, host, tasks=[T_STR])
    assert (err.code, err.node_id) == ("InvalidValue", "end-node")


def test_node_reference_not_found(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n1", T_INT, x=out("ghost"))]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("NodeReferenceNotFound", "n1")
    assert err.message == "input 'x' of node 'n1' is bound to node 'ghost', which is not in the workflow"


def test_node_reference_not_found_upstream_ids_and_nested(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            branch_node("b", [(cond("x", 1), task_node("inner", T_INT, x=lit(1)))], fail="no", x=wf_in("x")),
            task_node("n1", T_INT, x=out("inner"), upstream=("nobody",)),
        ],
        inputs={"x": INT},
    )
    errors = compile_errors(wf, host, tasks=[T_INT])
    assert [(e.code, e.node_id, e.message) for e in errors] == [
        (
            "NodeReferenceNotFound",
            "n1",
            "node 'n1' lists 'nobody' in its upstream_node_ids, which is not in the workflow",
        ),
        (
            "NodeReferenceNotFound",
            "n1",
            "input 'x' of node 'n1' is bound to node 'inner', which is nested in node 'b'; refer to 'b' instead",
        ),
    ]


def test_task_reference_not_found(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n0", T_NONE)]), host)
    assert (err.code, err.node_id) == ("TaskReferenceNotFound", "n0")
    assert err.message == (
        "node 'n0' runs task 'my.noop' version 'v1', which was not given to the compiler; "
        "register the task first (or pass it in tasks=)"
    )


def test_workflow_reference_not_found(host: PluginHost) -> None:
    sub = workflow("sub", [task_node("n0", T_NONE)])
    lp = launch_plan("lp")
    errors = compile_errors(workflow("wf", [sub_node("s", sub), lp_node("l", lp)]), host, tasks=[T_NONE])
    assert [(e.code, e.node_id, e.message) for e in errors] == [
        (
            "WorkflowReferenceNotFound",
            "s",
            "node 's' runs subworkflow 'sub' version 'v1', which was not given to the compiler; pass it in sub_workflows=",
        ),
        (
            "WorkflowReferenceNotFound",
            "l",
            "node 'l' launches launch plan 'lp' version 'v1', which was not given to the compiler; "
            "register it first (or pass it in launch_plans=)",
        ),
    ]


def test_variable_name_not_found_input(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n0", T_INT, x=lit(1), y=lit(2))]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("VariableNameNotFound", "n0")
    assert err.message == "task 'my.t' has no input 'y' (inputs: x); remove the binding or fix its name"


def test_variable_name_not_found_output(host: PluginHost) -> None:
    wf = workflow("wf", [task_node("n0", T_STR), task_node("n1", T_INT, x=out("n0", "o1"))])
    err = only_error(wf, host, tasks=[T_INT, T_STR])
    assert (err.code, err.node_id) == ("VariableNameNotFound", "n1")
    assert err.message == (
        "input 'x' of task 'my.t' is bound to output 'o1' of node 'n0', which has no such output (outputs: o0)"
    )


def test_variable_name_not_found_workflow_input(host: PluginHost) -> None:
    err = only_error(
        workflow("wf", [task_node("n0", T_INT, x=wf_in("nope"))], inputs={"a": INT}), host, tasks=[T_INT]
    )
    assert (err.code, err.node_id) == ("VariableNameNotFound", "n0")
    assert err.message == (
        "input 'x' of task 'my.t' is bound to workflow input 'nope', which the workflow does not declare (inputs: a)"
    )


def test_variable_name_not_found_condition(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [branch_node("b", [(cond("y", 1), task_node("t1", T_NONE))], fail="no", x=wf_in("x"))],
        inputs={"x": INT},
    )
    err = only_error(wf, host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("VariableNameNotFound", "b")
    assert err.message == (
        "the condition of the if case of branch node 'b' reads 'y', which is not bound to the branch node; "
        "add a binding for it to the node's inputs"
    )


def test_duplicate_alias(host: PluginHost) -> None:
    node = attrs.evolve(
        task_node("n0", T_STR), output_aliases=(Alias(var="o0", alias="a"), Alias(var="o0", alias="b"))
    )
    err = only_error(workflow("wf", [node]), host, tasks=[T_STR])
    assert (err.code, err.node_id) == ("DuplicateAlias", "n0")
    assert err.message == "node 'n0' renames output 'o0' twice ('a' and 'b'); keep one alias"


def test_duplicate_id(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n0", T_NONE), task_node("n0", T_NONE)]), host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("DuplicateId", "n0")
    assert err.message == (
        "more than one node has the id 'n0'; node ids must be unique in a workflow "
        "(a branch's case nodes count as '<branch id>-<case id>')"
    )


def test_duplicate_id_nested_and_reserved(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            task_node("n0", T_NONE),
            branch_node(
                "b",
                [(cond("x", 1), task_node("c0", T_NONE)), (cond("x", 2), task_node("c0", T_NONE))],
                fail="no",
                x=wf_in("x"),
            ),
            task_node("end-node", T_NONE),
        ],
        inputs={"x": INT},
    )
    errors = compile_errors(wf, host, tasks=[T_NONE])
    # Case nodes are scoped by their branch (Flyte's "<branch>-<case>"): two cases of one branch clash.
    assert [(e.code, e.node_id) for e in errors] == [("DuplicateId", "b-c0"), ("DuplicateId", "end-node")]
    assert "(a case of branch node 'b') has the id 'b-c0'" in errors[0].message
    assert errors[1].message == (
        "node id 'end-node' is reserved for the workflow's implicit end node; rename the node"
    )


def test_mismatching_types(host: PluginHost) -> None:
    wf = workflow("wf", [task_node("n0", T_STR), task_node("n1", T_INT, x=out("n0"))])
    err = only_error(wf, host, tasks=[T_INT, T_STR])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n1")
    assert (
        err.message
        == "input 'x' of task 'my.t' expects int but is bound to output 'o0' of node 'n0' of type str"
    )
    assert str(err) == f"MismatchingTypes [node n1]: {err.message}"


def test_mismatching_types_literal(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n1", T_INT, x=lit(1.5))]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n1")
    assert err.message == "input 'x' of task 'my.t' expects int but is bound to the float value 1.5"


def test_mismatching_bindings(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n1", T_INT, x=coll(lit(1), lit(2)))]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("MismatchingBindings", "n1")
    assert err.message == "input 'x' of task 'my.t' expects int but is bound to a list of 2 bindings"


def test_parameter_bound_more_than_once(host: PluginHost) -> None:
    node = attrs.evolve(
        task_node("n0", T_INT, x=lit(1)),
        inputs=(Binding(var="x", binding=lit(1)), Binding(var="x", binding=lit(2))),
    )
    err = only_error(workflow("wf", [node]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("ParameterBoundMoreThanOnce", "n0")
    assert err.message == "input 'x' of task 'my.t' is bound more than once; keep one binding"


def test_parameter_not_bound(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n0", T_INT)]), host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("ParameterNotBound", "n0")
    assert err.message == (
        "input 'x' of task 'my.t' is not bound; bind it to a workflow input, another node's output or a value"
    )


def test_parameter_not_bound_workflow_output(host: PluginHost) -> None:
    err = only_error(workflow("wf", [task_node("n0", T_NONE)], outputs={"r": INT}), host, tasks=[T_NONE])
    assert (err.code, err.node_id) == ("ParameterNotBound", "end-node")
    assert err.message == "workflow output 'r' is not bound; bind it to a node's output or a workflow input"


def test_unreachable_nodes(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            task_node("a", T_INT, x=out("b")),
            task_node("b", T_INT, x=out("a")),
            task_node("c", T_INT, x=out("b")),
            task_node("d", T_INT, x=out("c")),
        ],
    )
    errors = compile_errors(wf, host, tasks=[T_INT])
    assert [(e.code, e.node_id) for e in errors] == [("CycleDetected", "a"), ("UnreachableNodes", "c")]
    assert (
        errors[1].message
        == "no path from the start node reaches nodes 'c', 'd': they depend on nodes that can never run"
    )


def test_workflow_build_error_names_the_failing_pass(host: PluginHost) -> None:
    from flytecore.compiler import compiler_pass
    from flytecore.plugin import hookimpl, make_plugin_host

    @compiler_pass("explodes", order=150)
    def explodes(ctx: object) -> None:
        raise RuntimeError("boom")

    class Plugin:
        @hookimpl
        def flytecore_register_compiler_passes(self, register: object) -> None:
            register.register(explodes)  # type: ignore[attr-defined]

    broken = make_plugin_host(entry_points=False, disable=[], extra_plugins=[("explodes", Plugin())])
    errors = compile_errors(workflow("wf", [task_node("n0", T_INT)]), broken, tasks=[T_INT])
    # The other passes still ran: the unbound input is reported too.
    assert [(e.code, e.node_id) for e in errors] == [("WorkflowBuildError", ""), ("ParameterNotBound", "n0")]
    assert errors[0].message == "compiler pass 'explodes' failed: RuntimeError: boom"


def test_no_nodes_found(host: PluginHost) -> None:
    err = only_error(workflow("wf", [], inputs={"a": INT}, outputs={"a": INT}, a=wf_in("a")), host)
    assert (err.code, err.node_id, err.message) == (
        "NoNodesFound",
        "",
        "workflow 'wf' has no nodes; add at least one",
    )


def test_illegal_enum_value(host: PluginHost) -> None:
    t = task("my.color", {"c": enum("red", "green")})
    err = only_error(workflow("wf", [task_node("n0", t, c=lit("blue"))]), host, tasks=[t])
    assert (err.code, err.node_id) == ("IllegalEnumValue", "n0")
    assert err.message == "input 'c' of task 'my.color' expects one of 'red', 'green' but is bound to 'blue'"


def test_ambiguous_binding_union_value(host: PluginHost) -> None:
    t = task("my.u", {"u": union(list_of(INT), list_of(STR))})
    err = only_error(workflow("wf", [task_node("n0", t, u=coll())]), host, tasks=[t])
    assert (err.code, err.node_id) == ("AmbiguousBindingUnionValue", "n0")
    assert err.message == (
        "input 'u' of task 'my.u' expects list[int] | list[str] but is bound to a list that fits more than one of "
        "its variants (list[int] and list[str]); bind a typed value (e.g. a task's output) instead"
    )


def test_incompatible_binding_union_value(host: PluginHost) -> None:
    t = task("my.u", {"u": union(list_of(INT), dict_of(STR))})
    err = only_error(workflow("wf", [task_node("n0", t, u=mapping(a=lit(1.5)))]), host, tasks=[t])
    assert (err.code, err.node_id) == ("IncompatibleBindingUnionValue", "n0")
    assert err.message == (
        "input 'u' of task 'my.u' expects list[int] | dict[str, str] but is bound to a map that fits none of its variants"
    )


def test_no_condition_found(host: PluginHost) -> None:
    # The spec refuses a gate without a condition; a newer IDL's unknown condition reads as none.
    gate = object.__new__(GateNode)
    for field in ("approve", "signal", "sleep"):
        object.__setattr__(gate, field, None)
    err = only_error(workflow("wf", [Node(id="g", gate_node=gate)]), host)
    assert (err.code, err.node_id, err.message) == (
        "NoConditionFound",
        "g",
        "gate node 'g' has no approve, signal or sleep condition",
    )


def test_every_raised_code_is_covered() -> None:
    """Each code the core passes raise has a test above (this file's names mention it)."""
    source = open(__file__).read()
    raised = {
        "CycleDetected",
        "BranchNodeIdNotFound",
        "BranchNodeHasNoCondition",
        "BranchNodeHasNoDefault",
        "ValueRequired",
        "InvalidValue",
        "NodeReferenceNotFound",
        "TaskReferenceNotFound",
        "WorkflowReferenceNotFound",
        "VariableNameNotFound",
        "DuplicateAlias",
        "DuplicateId",
        "MismatchingTypes",
        "MismatchingBindings",
        "ParameterBoundMoreThanOnce",
        "ParameterNotBound",
        "UnreachableNodes",
        "WorkflowBuildError",
        "NoNodesFound",
        "IllegalEnumValue",
        "AmbiguousBindingUnionValue",
        "IncompatibleBindingUnionValue",
        "NoConditionFound",
    }
    assert raised <= {c.value for c in ErrorCode}
    missing = [c for c in raised if f'"{c}"' not in source.split("def test_every_raised_code_is_covered")[0]]
    assert not missing


def test_compilation_failed_lists_every_error_one_per_line(host: PluginHost) -> None:
    wf = workflow("wf", [task_node("n0", T_STR), task_node("n1", T_INT, x=out("n0")), task_node("n2", T_INT)])
    try:
        compile_workflow(wf, tasks=[T_INT, T_STR], host=host)
    except CompilationFailed as failed:
        assert str(failed).splitlines() == [
            "workflow 'wf' failed to compile with 2 errors:",
            "  MismatchingTypes [node n1]: input 'x' of task 'my.t' expects int but is bound to output 'o0' of "
            "node 'n0' of type str",
            "  ParameterNotBound [node n2]: input 'x' of task 'my.t' is not bound; bind it to a workflow input, "
            "another node's output or a value",
        ]
        assert failed.codes() == ["MismatchingTypes", "ParameterNotBound"]
    else:
        raise AssertionError("expected CompilationFailed")


def test_signal_gate_output_type_is_checked(host: PluginHost) -> None:
    wf = workflow("wf", [signal_node("g", FLOAT), task_node("n1", T_INT, x=out("g"))])
    err = only_error(wf, host, tasks=[T_INT])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n1")
    assert "bound to output 'o0' of node 'g' of type float" in err.message


def test_approve_gate_passes_its_input_type_on(host: PluginHost) -> None:
    wf = workflow(
        "wf", [task_node("n0", T_STR), approve_node("ok", o0=out("n0")), task_node("n1", T_INT, x=out("ok"))]
    )
    err = only_error(wf, host, tasks=[T_INT, T_STR])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n1")
    assert err.message.endswith("bound to output 'o0' of node 'ok' of type str")


def test_variable_name_not_found_fixed_launch_plan_input(host: PluginHost) -> None:
    lp = launch_plan("lp", {"a": INT, "b": INT}, fixed={"b": scalar_literal(integer=1)})
    err = only_error(workflow("wf", [lp_node("l", lp, a=lit(1), b=lit(2))]), host, launch_plans=[lp])
    assert (err.code, err.node_id) == ("VariableNameNotFound", "l")
    assert (
        err.message
        == "input 'b' of launch plan 'lp' is fixed by the launch plan and cannot be bound; remove the binding"
    )


def test_interface_variable_without_type(host: PluginHost) -> None:
    bad = attrs.evolve(
        T_NONE, interface=TypedInterface(outputs={"o0": attrs.evolve(Variable(type=INT), type=None)})
    )
    err = only_error(workflow("wf", [task_node("n0", bad)]), host, tasks=[bad])
    assert (err.code, err.node_id, err.message) == (
        "ValueRequired",
        "n0",
        "output 'o0' of task 'my.noop' has no type",
    )


def test_if_block_without_then_node_model() -> None:
    # IfBlock accepts a missing then-node (it is what BranchNodeIdNotFound reports).
    assert IfBlock(condition=cond("x", 1), then_node=None).then_node is None  # type: ignore[arg-type]
