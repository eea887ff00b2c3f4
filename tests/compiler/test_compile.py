"""compile_workflow: closures, edges, resolved interfaces, subworkflows, launch plans, plugin
passes, and errors reported all at once."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from flytecore.compiler import CompilationFailed, CompileContext, compile_workflow, compiler_pass
from flytecore.plugin import PluginHost, hookimpl, make_plugin_host, use_host
from flytecore.spec.compiled import ConnectionSet
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.interface import TypedInterface
from flytecore.spec.literals import Binding, scalar_literal
from flytecore.spec.workflow import Alias, Node, TaskNode

from .builders import (
    FLOAT,
    INT,
    STR,
    approve_node,
    array_node,
    branch_node,
    coll,
    compile_errors,
    compile_ok,
    cond,
    dict_of,
    ident,
    iface,
    launch_plan,
    list_of,
    lit,
    lp_node,
    only_error,
    optional,
    out,
    signal_node,
    sleep_node,
    struct,
    sub_node,
    task,
    task_node,
    wf_in,
    workflow,
)

ADD = task("my.add", {"a": INT, "b": INT}, {"o0": INT})
SHOW = task("my.show", {"x": INT}, {"o0": STR})
SEED = task("my.seed", {}, {"o0": INT})
NOOP = task("my.noop")


def capture_host(order: int = 950) -> tuple[PluginHost, list[CompileContext]]:
    """A host with a plugin pass that keeps every context it sees (to inspect what passes built)."""
    seen: list[CompileContext] = []

    @compiler_pass("capture", order=order)
    def capture(ctx: CompileContext) -> None:
        seen.append(ctx)

    class Plugin:
        @hookimpl
        def flytecore_register_compiler_passes(self, register: Any) -> None:
            register.register(capture)

    return make_plugin_host(entry_points=False, disable=[], extra_plugins=[("capture", Plugin())]), seen


def interfaces_of(wf: Any, **kwargs: Any) -> dict[str, TypedInterface]:
    host, seen = capture_host()
    try:
        compile_workflow(wf, host=host, **kwargs)
    except CompilationFailed:
        pass
    return seen[0].interfaces


# --- valid workflows ------------------------------------------------------------------------


def test_valid_workflow_connection_set(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            task_node("n0", SEED),
            task_node("n1", ADD, a=wf_in("x"), b=out("n0")),
            task_node("n2", SHOW, x=out("n1")),
            task_node("n3", NOOP, upstream=("n1",)),
            task_node("n4", NOOP),
        ],
        inputs={"x": INT},
        outputs={"s": STR, "echo": INT},
        s=out("n2"),
        echo=wf_in("x"),
    )
    closure = compile_ok(wf, host, tasks=[SEED, ADD, SHOW, NOOP])
    assert closure.primary.template is wf
    assert closure.primary.connections == ConnectionSet(
        downstream={
            "start-node": ("end-node", "n0", "n1", "n4"),
            "n0": ("n1",),
            "n1": ("n2", "n3"),
            "n2": ("end-node",),
            "n3": ("end-node",),
            "n4": ("end-node",),
        },
        upstream={
            "n0": ("start-node",),
            "n1": ("n0", "start-node"),
            "n2": ("n1",),
            "n3": ("n1",),
            "n4": ("start-node",),
            "end-node": ("n2", "n3", "n4", "start-node"),
        },
    )
    assert [t.template.id.name for t in closure.tasks] == ["my.seed", "my.add", "my.show", "my.noop"]
    assert closure.sub_workflows == () and closure.launch_plans == ()


def test_workflow_inputs_may_use_the_empty_node_id(host: PluginHost) -> None:
    # flyteidl's convention for workflow inputs is node id ""; flytekit sends "start-node".
    wf = workflow("wf", [task_node("n0", SHOW, x=wf_in("x", node_id=""))], inputs={"x": INT})
    closure = compile_ok(wf, host, tasks=[SHOW])
    assert closure.primary.connections.upstream["n0"] == ("start-node",)


def test_only_referenced_tasks_are_in_the_closure_and_resource_type_is_ignored(host: PluginHost) -> None:
    ref = attrs.evolve(NOOP.id, resource_type=ResourceType.UNSPECIFIED)
    wf = workflow("wf", [Node(id="n0", task_node=TaskNode(reference_id=ref))])
    closure = compile_ok(wf, host, tasks=[SEED, NOOP, NOOP])
    assert [t.template for t in closure.tasks] == [NOOP]


def test_versions_must_match(host: PluginHost) -> None:
    other = attrs.evolve(NOOP, id=ident("my.noop", version="v2"))
    err = only_error(workflow("wf", [task_node("n0", NOOP)]), host, tasks=[other])
    assert err.code == "TaskReferenceNotFound"


def test_optional_inputs_may_stay_unbound(host: PluginHost) -> None:
    t = task("my.opt", {"a": INT, "maybe": optional(INT)})
    compile_ok(workflow("wf", [task_node("n0", t, a=lit(1))]), host, tasks=[t])


def test_literal_collections_maps_and_none(host: PluginHost) -> None:
    t = task(
        "my.many",
        {"xs": list_of(INT), "m": dict_of(list_of(FLOAT)), "o": optional(STR), "u": optional(list_of(INT))},
    )
    from .builders import mapping

    node = task_node(
        "n0",
        t,
        xs=coll(lit(1), wf_in("x")),
        m=mapping(a=coll(lit(1.0)), b=coll()),
        o=lit(None),
        u=coll(lit(2)),
    )
    compile_ok(workflow("wf", [node], inputs={"x": INT}), host, tasks=[t])
    bad = task_node("n0", t, xs=coll(lit(1), lit("two")), m=mapping(a=coll(lit(1))), o=lit(3), u=coll())
    errors = compile_errors(workflow("wf", [bad]), host, tasks=[t])
    assert [(e.code, e.message) for e in errors] == [
        (
            "MismatchingTypes",
            "input 'xs' of task 'my.many' (item 1) expects int but is bound to the str value 'two'",
        ),
        (
            "MismatchingTypes",
            "input 'm' of task 'my.many' (key 'a') (item 0) expects float but is bound to the int value 1",
        ),
        (
            "MismatchingTypes",
            "input 'o' of task 'my.many' expects str | None but is bound to the int value 3",
        ),
    ]


def test_attribute_paths(host: PluginHost) -> None:
    producer = task("my.produce", {}, {"xs": list_of(STR), "dc": struct("Point")})
    wf = workflow(
        "wf",
        [
            task_node("p", producer),
            task_node("n1", SHOW, x=out("p", "dc", "x")),  # a dataclass field: unknown here, allowed
            task_node("n2", SHOW, x=out("p", "xs", 0)),  # a list element: str, checked
        ],
    )
    err = only_error(wf, host, tasks=[producer, SHOW])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n2")
    assert (
        err.message
        == "input 'x' of task 'my.show' expects int but is bound to output 'xs[0]' of node 'p' of type str"
    )


def test_output_aliases_rename_outputs(host: PluginHost) -> None:
    aliased = attrs.evolve(task_node("n0", SEED), output_aliases=(Alias(var="o0", alias="seed"),))
    wf = workflow("wf", [aliased, task_node("n1", SHOW, x=out("n0", "seed"))])
    compile_ok(wf, host, tasks=[SEED, SHOW])
    wf = workflow("wf", [aliased, task_node("n1", SHOW, x=out("n0", "o0"))])
    assert only_error(wf, host, tasks=[SEED, SHOW]).code == "VariableNameNotFound"


# --- several errors at once ---------------------------------------------------------------------


def test_all_errors_are_reported_together(host: PluginHost) -> None:
    sub = workflow("sub", [task_node("s0", SHOW)], outputs={"r": STR}, r=out("s0"))
    wf = workflow(
        "wf",
        [
            task_node("n0", SEED),
            task_node("n0", SEED),  # DuplicateId
            task_node("n1", SHOW, x=lit("three")),  # MismatchingTypes
            task_node("n2", ADD, a=out("n0")),  # ParameterNotBound (b)
            task_node("n3", NOOP),  # TaskReferenceNotFound
            task_node("n4", SHOW, x=out("n5")),  # CycleDetected with n5
            task_node("n5", ADD, a=out("n4", "o0"), b=lit(1)),  # ... and MismatchingTypes (str into int)
            sub_node("n6", sub),  # its error is in the subworkflow
        ],
        outputs={"r": INT},
        r=out("n1"),  # MismatchingTypes at end-node
    )
    errors = compile_errors(wf, host, tasks=[SEED, SHOW, ADD], sub_workflows=[sub])
    assert [(e.workflow_id, e.code, e.node_id) for e in errors] == [
        ("wf", "DuplicateId", "n0"),
        ("wf", "TaskReferenceNotFound", "n3"),
        ("wf", "MismatchingTypes", "n1"),
        ("wf", "MismatchingTypes", "n5"),
        ("wf", "ParameterNotBound", "n2"),
        ("wf", "CycleDetected", "n4"),
        ("wf", "MismatchingTypes", "end-node"),
        ("sub", "ParameterNotBound", "s0"),
    ]
    with pytest.raises(CompilationFailed) as failed:
        compile_workflow(wf, tasks=[SEED, SHOW, ADD], sub_workflows=[sub], host=host)
    lines = str(failed.value).splitlines()
    assert lines[0] == "workflow 'wf' failed to compile with 8 errors:"
    assert lines[-1].startswith(
        "  subworkflow 'sub': ParameterNotBound [node s0]: input 'x' of task 'my.show'"
    )


def test_no_exception_but_compilation_failed_escapes(host: PluginHost) -> None:
    with pytest.raises(CompilationFailed) as failed:
        compile_workflow(None, host=host)  # type: ignore[arg-type]
    assert failed.value.codes() == ["ValueRequired"]
    garbage = attrs.evolve(task_node("n0", SHOW), inputs=(Binding(var="x", binding="nonsense"),))  # type: ignore[arg-type]
    errors = compile_errors(workflow("wf", [garbage]), host, tasks=[SHOW])
    # Passes that trip over the malformed binding are reported by name; the rest still ran.
    broken = [e for e in errors if e.code == "WorkflowBuildError"]
    assert broken and all("failed: AttributeError" in e.message for e in broken)
    assert "compiler pass 'node-ids' failed" in broken[0].message


def test_deeply_nested_branches_compile_without_recursion(host: PluginHost) -> None:
    node: Node = task_node("leaf", SEED)
    for depth in range(2000):
        node = branch_node(f"b{depth}", [(cond("x", 1), node)], fail="no", x=wf_in("x"))
    wf = workflow("wf", [node], inputs={"x": INT}, outputs={"r": INT}, r=out("b1999"))
    closure = compile_ok(wf, host, tasks=[SEED])
    assert closure.primary.connections.upstream["end-node"] == ("b1999",)


# --- subworkflows and launch plans -----------------------------------------------------------------


def test_subworkflow_reference(host: PluginHost) -> None:
    inner = workflow(
        "inner", [task_node("i0", SHOW, x=wf_in("v"))], inputs={"v": INT}, outputs={"s": STR}, s=out("i0")
    )
    middle = workflow(
        "middle",
        [sub_node("m0", inner, v=wf_in("v"))],
        inputs={"v": INT},
        outputs={"s": STR},
        s=out("m0", "s"),
    )
    wf = workflow(
        "wf",
        [task_node("n0", SEED), sub_node("n1", middle, v=out("n0"))],
        outputs={"s": STR},
        s=out("n1", "s"),
    )
    closure = compile_ok(wf, host, tasks=[SEED, SHOW], sub_workflows=[inner, middle])
    assert [c.template.id.name for c in closure.sub_workflows] == ["middle", "inner"]
    assert closure.sub_workflows[1].connections.downstream["start-node"] == ("i0",)
    assert [t.template.id.name for t in closure.tasks] == ["my.seed", "my.show"]

    wrong = workflow("wf", [sub_node("n1", middle, v=lit("x"))])
    err = only_error(wrong, host, tasks=[SHOW], sub_workflows=[inner, middle])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n1")
    assert err.message == "input 'v' of subworkflow 'middle' expects int but is bound to the str value 'x'"


def test_errors_inside_a_subworkflow_name_it(host: PluginHost) -> None:
    inner = workflow("inner", [task_node("i0", SHOW, x=lit(1.5))])
    err = only_error(workflow("wf", [sub_node("n0", inner)]), host, tasks=[SHOW], sub_workflows=[inner])
    assert (err.workflow_id, err.code, err.node_id) == ("inner", "MismatchingTypes", "i0")


def test_launch_plan_reference(host: PluginHost) -> None:
    lp = launch_plan(
        "lp",
        {"a": INT, "fixed": STR, "opt": optional(INT)},
        {"o": FLOAT},
        fixed={"fixed": scalar_literal(string_value="z")},
    )
    use = task("my.use", {"f": FLOAT})
    wf = workflow("wf", [lp_node("l", lp, a=lit(1)), task_node("n1", use, f=out("l", "o"))])
    closure = compile_ok(wf, host, tasks=[use], launch_plans=[lp])
    assert [c.template for c in closure.launch_plans] == [lp]
    assert interfaces_of(wf, tasks=[use], launch_plans=[lp])["l"] == iface(
        {"a": INT, "opt": optional(INT)}, {"o": FLOAT}
    )
    assert only_error(workflow("wf", [lp_node("l", lp)]), host, launch_plans=[lp]).message == (
        "input 'a' of launch plan 'lp' is not bound; bind it to a workflow input, another node's output or a value"
    )


# --- interfaces of branch, gate and array nodes -------------------------------------------------------


def test_branch_node_interface(host: PluginHost) -> None:
    two = task("my.two", {}, {"o0": INT, "extra": STR})
    one = task("my.one", {}, {"o0": INT})
    branch = branch_node(
        "b",
        [(cond("x", 1), task_node("c1", two)), (cond("x", 2), task_node("c2", one))],
        else_node=task_node("c3", two),
        x=wf_in("x"),
    )
    wf = workflow("wf", [branch, task_node("n1", SHOW, x=out("b"))], inputs={"x": INT})
    assert interfaces_of(wf, tasks=[one, two, SHOW])["b"] == iface({"x": INT}, {"o0": INT})
    compile_ok(wf, host, tasks=[one, two, SHOW])

    wf = workflow("wf", [branch, task_node("n1", SHOW, x=out("b", "extra"))], inputs={"x": INT})
    err = only_error(wf, host, tasks=[one, two, SHOW])
    assert (err.code, err.node_id) == ("VariableNameNotFound", "n1")
    assert err.message.endswith(
        "a branch node has only the outputs every case produces, and case node 'c2' does not produce 'extra'"
    )


def test_branch_cases_must_agree_on_output_types(host: PluginHost) -> None:
    as_str = task("my.str", {}, {"o0": STR})
    branch = branch_node(
        "b", [(cond("x", 1), task_node("c1", SEED))], else_node=task_node("c2", as_str), x=wf_in("x")
    )
    err = only_error(workflow("wf", [branch], inputs={"x": INT}), host, tasks=[SEED, as_str])
    assert (err.code, err.node_id) == ("MismatchingTypes", "b")
    assert err.message == (
        "output 'o0' of branch node 'b' is int in case node 'c1' but str in case node 'c2'; "
        "every case must produce the same type"
    )


def test_case_node_ids_are_scoped_by_their_branch(host: PluginHost) -> None:
    # flytekit numbers each case's nodes from n0 again, so case ids repeat top-level ids; Flyte's
    # compiler scopes them as "<branch id>-<case id>", and so does this one.
    step = task("my.step", {"x": INT}, {"o0": INT})
    as_str = task("my.str", {"x": INT}, {"o0": STR})

    def flytekit_shaped(else_task: Any) -> Any:
        branch = branch_node(
            "n2",
            [(cond("x", 1), task_node("n0", step, x=out("n1")))],
            else_node=task_node("n1", else_task, x=out("n0")),
            x=out("n1"),
        )
        return workflow("wf", [task_node("n0", SEED), task_node("n1", step, x=out("n0")), branch], inputs={"x": INT})

    wf = flytekit_shaped(step)
    closure = compile_ok(wf, host, tasks=[SEED, step])
    assert closure.primary.connections.upstream["n2"] == ("n0", "n1")
    assert interfaces_of(wf, tasks=[SEED, step])["n2"] == iface({"x": INT}, {"o0": INT})

    # The case nodes are the branch's own, not the top-level nodes of the same id: their types count.
    err = only_error(flytekit_shaped(as_str), host, tasks=[SEED, step, as_str])
    assert (err.code, err.node_id) == ("MismatchingTypes", "n2")
    assert "is int in case node 'n0' but str in case node 'n1'" in err.message


def test_branch_case_bindings_make_edges_into_the_branch_node(host: PluginHost) -> None:
    branch = branch_node("b", [(cond("x", 1), task_node("c1", SHOW, x=out("n0")))], fail="nope", x=wf_in("x"))
    wf = workflow("wf", [task_node("n0", SEED), branch], inputs={"x": INT})
    closure = compile_ok(wf, host, tasks=[SEED, SHOW])
    assert closure.primary.connections.upstream["b"] == ("n0", "start-node")
    assert "c1" not in closure.primary.connections.upstream


def test_gate_node_interfaces(host: PluginHost) -> None:
    wf = workflow(
        "wf",
        [
            task_node("n0", SEED),
            signal_node("sig", STR, name="answer"),
            approve_node("ok", o0=out("n0")),
            sleep_node("zz"),
            task_node("n1", SHOW, x=out("ok")),
        ],
        outputs={"answer": STR},
        answer=out("sig", "answer"),
    )
    found = interfaces_of(wf, tasks=[SEED, SHOW])
    assert found["sig"] == iface({}, {"answer": STR})
    assert found["ok"] == iface({"o0": INT}, {"o0": INT})
    assert found["zz"] == iface()
    compile_ok(wf, host, tasks=[SEED, SHOW])


def test_array_node_interface(host: PluginHost) -> None:
    scale = task("my.scale", {"x": INT, "factor": FLOAT}, {"o0": FLOAT})
    total = task("my.total", {"xs": list_of(FLOAT)}, {"o0": FLOAT})
    wf = workflow(
        "wf",
        [
            array_node("m", scale, bound=("factor",), x=wf_in("xs"), factor=lit(2.0)),
            task_node("n1", total, xs=out("m")),
        ],
        inputs={"xs": list_of(INT)},
    )
    found = interfaces_of(wf, tasks=[scale, total])
    assert found["m"] == iface({"x": list_of(INT), "factor": FLOAT}, {"o0": list_of(FLOAT)})
    assert found["m/m-sub"] == scale.interface
    compile_ok(wf, host, tasks=[scale, total])

    wrong = workflow(
        "wf", [array_node("m", scale, bound=("factor",), x=wf_in("x"), factor=lit(2.0))], inputs={"x": INT}
    )
    err = only_error(wrong, host, tasks=[scale])
    assert (err.code, err.node_id) == ("MismatchingTypes", "m")
    assert err.message == (
        "input 'x' of array node 'm' mapping task 'my.scale' expects list[int] but is bound to workflow input 'x' of type int"
    )


def test_array_node_over_an_already_lifted_interface(host: PluginHost) -> None:
    # flytekit's map_task refers to a "<task>-arraynode" task whose interface is already the
    # lists', and says so with is_original_sub_node_interface=False: nothing is wrapped again.
    lifted = task("my.square-arraynode", {"x": list_of(INT)}, {"o0": list_of(INT)})
    total = task("my.total", {"xs": list_of(INT)}, {"o0": INT})
    mapped = array_node("m", lifted, x=wf_in("xs"))
    mapped = attrs.evolve(mapped, array_node=attrs.evolve(mapped.array_node, is_original_sub_node_interface=False))
    wf = workflow("wf", [mapped, task_node("n1", total, xs=out("m"))], inputs={"xs": list_of(INT)})
    assert interfaces_of(wf, tasks=[lifted, total])["m"] == lifted.interface
    compile_ok(wf, host, tasks=[lifted, total])

    # True is the element's interface, as when unset: lists of it.
    original = attrs.evolve(mapped, array_node=attrs.evolve(mapped.array_node, is_original_sub_node_interface=True))
    found = interfaces_of(workflow("wf", [original], inputs={"xs": list_of(INT)}), tasks=[lifted])
    assert found["m"] == iface({"x": list_of(list_of(INT))}, {"o0": list_of(list_of(INT))})


def test_two_array_nodes_may_share_a_sub_node_id(host: PluginHost) -> None:
    scale = task("my.scale", {"x": INT}, {"o0": INT})
    first = array_node("a", scale, x=wf_in("xs"))
    second = attrs.evolve(array_node("b", scale, x=wf_in("xs")), array_node=attrs.evolve(first.array_node))
    assert first.array_node.node.id == second.array_node.node.id  # type: ignore[union-attr]
    compile_ok(workflow("wf", [first, second], inputs={"xs": list_of(INT)}), host, tasks=[scale])


def test_failure_node_only_reads(host: PluginHost) -> None:
    on_fail = task("my.cleanup", {"x": INT})
    wf = workflow(
        "wf", [task_node("n0", SEED)], inputs={"x": INT}, failure_node=task_node("fail", on_fail, x=wf_in("x"))
    )
    closure = compile_ok(wf, host, tasks=[SEED, on_fail])
    assert closure.primary.connections.upstream["fail"] == ("start-node",)
    assert "fail" not in closure.primary.connections.downstream["start-node"]
    bad = workflow("wf", [task_node("n0", SEED)], failure_node=task_node("fail", on_fail, x=lit("s")))
    assert only_error(bad, host, tasks=[SEED, on_fail]).node_id == "fail"
    # It runs after the workflow failed: other nodes' outputs may not exist (more in
    # test_failure_node.py).
    other = workflow("wf", [task_node("n0", SEED)], failure_node=task_node("fail", on_fail, x=out("n0")))
    assert only_error(other, host, tasks=[SEED, on_fail]).code == "NodeReferenceNotFound"


# --- plugin passes -----------------------------------------------------------------------------------


def test_plugin_pass_runs_in_order_and_adds_errors() -> None:
    calls: list[tuple[str, int, int]] = []

    @compiler_pass("between-types-and-bound", order=450)
    def between(ctx: CompileContext) -> None:
        # Interfaces are resolved (300) and types checked (400); bound-once (500) has not run.
        calls.append(("between", len(ctx.interfaces), len(ctx.errors)))
        for key in ctx.top_level:
            if key.startswith("tmp"):
                ctx.error("NamingPolicy", key, f"node {key!r} has a temporary name")

    @compiler_pass("last", order=10_000)
    def last(ctx: CompileContext) -> None:
        calls.append(("last", len(ctx.interfaces), len(ctx.errors)))

    class Plugin:
        @hookimpl
        def flytecore_register_compiler_passes(self, register: Any) -> None:
            register.register(last)
            register.register(between)

    host = make_plugin_host(entry_points=False, disable=[], extra_plugins=[("policy", Plugin())])
    names = [p.name for p in host.compiler_passes.ordered()]
    assert names.index("binding-types") < names.index("between-types-and-bound") < names.index("bound-inputs")
    assert names[-1] == "last"
    wf = workflow("wf", [task_node("tmp1", SHOW, x=lit("s")), task_node("n2", SHOW)])
    errors = compile_errors(wf, host, tasks=[SHOW])
    assert [(e.code, e.node_id) for e in errors] == [
        ("MismatchingTypes", "tmp1"),
        ("NamingPolicy", "tmp1"),
        ("ParameterNotBound", "n2"),
    ]
    assert calls == [("between", 2, 1), ("last", 2, 3)]


def test_default_host_is_used_without_host_argument() -> None:
    host, seen = capture_host()
    with use_host(host):
        compile_workflow(workflow("wf", [task_node("n0", NOOP)]), tasks=[NOOP])
    assert len(seen) == 1


def test_core_passes_are_registered_by_the_builtin_plugin(host: PluginHost) -> None:
    passes = host.compiler_passes.ordered()
    assert [(p.name, p.order) for p in passes] == [
        ("interfaces", 100),
        ("node-ids", 200),
        ("references", 300),
        ("binding-types", 400),
        ("bound-inputs", 500),
        ("branches", 600),
        ("cycles", 700),
        ("reachability", 800),
        ("workflow-outputs", 900),
    ]
    assert {host.compiler_passes.owner(p.name) for p in passes} == {"core_compiler"}


def test_unknown_types_are_not_guessed(host: PluginHost) -> None:
    # An approve gate on a dataclass field: the field's type is unknown to the compiler, so the
    # gate's interface stays unresolved and nothing downstream is reported against a guess.
    producer = task("my.produce", {}, {"dc": struct("Point")})
    wf = workflow(
        "wf",
        [
            task_node("p", producer),
            approve_node("ok", v=out("p", "dc", "x")),
            task_node("n1", SHOW, x=out("ok", "v")),
        ],
    )
    compile_ok(wf, host, tasks=[producer, SHOW])
    assert "ok" not in interfaces_of(wf, tasks=[producer, SHOW])
