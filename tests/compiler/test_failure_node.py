"""The workflow's failure node (``failure_node``, flytekit's ``fn0``): compiled like a node of the
workflow, reading only the workflow's inputs, its ``err`` input left for the propeller."""

from __future__ import annotations

from flytecore.plugin import PluginHost
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.literals import BindingData, Literal, Scalar, Void
from flytecore.spec.literals import Union as UnionValue
from flytecore.spec.types import LiteralType, SimpleType
from flytecore.spec.workflow import Node, WorkflowTemplate

from .builders import (
    INT,
    NONE,
    STR,
    compile_errors,
    compile_ok,
    ident,
    only_error,
    out,
    sub_node,
    tagged,
    task,
    task_node,
    union,
    wf_in,
    workflow,
)

ERROR = LiteralType(simple=SimpleType.ERROR)
OPTIONAL_ERROR = union(tagged(ERROR, "FlyteError"), tagged(NONE, "none"))

CREATE = task("my.create_cluster", {"name": STR})
FAIL = task("my.t1", {"a": INT})
CLEAN_UP = task("my.clean_up", {"name": STR, "err": OPTIONAL_ERROR})


def failing_workflow(failure_node: Node) -> WorkflowTemplate:
    """create_cluster(name) and t1(a), with ``failure_node``."""
    return workflow(
        "wf",
        [task_node("n0", CREATE, name=wf_in("name")), task_node("n1", FAIL, a=wf_in("a"))],
        inputs={"name": STR, "a": INT},
        failure_node=failure_node,
    )


def test_failure_node_compiles_with_err_left_unbound(host: PluginHost) -> None:
    wf = failing_workflow(task_node("fn0", CLEAN_UP, name=wf_in("name")))
    closure = compile_ok(wf, host, tasks=[CREATE, FAIL, CLEAN_UP])
    # The task only the failure node runs is in the closure, so the propeller can run it.
    assert ident("my.clean_up") in {t.template.id for t in closure.tasks}
    assert closure.primary.template.failure_node is not None
    assert closure.primary.template.failure_node.id == "fn0"
    # It reads the start node and nothing waits for it.
    assert closure.primary.connections.upstream["fn0"] == ("start-node",)
    assert all("fn0" not in down for down in closure.primary.connections.downstream.values())


def test_err_bound_to_none_as_flytekit_serializes_it(host: PluginHost) -> None:
    none = BindingData(
        scalar=Scalar(
            union=UnionValue(value=Literal(scalar=Scalar(none_type=Void())), type=tagged(NONE, "none"))
        )
    )
    wf = failing_workflow(task_node("fn0", CLEAN_UP, name=wf_in("name"), err=none))
    compile_ok(wf, host, tasks=[CREATE, FAIL, CLEAN_UP])


def test_a_plain_error_typed_err_may_stay_unbound(host: PluginHost) -> None:
    handler = task("my.handler", {"name": STR, "err": ERROR})
    wf = failing_workflow(task_node("fn0", handler, name=wf_in("name")))
    compile_ok(wf, host, tasks=[CREATE, FAIL, handler])


def test_only_err_is_filled_by_the_propeller(host: PluginHost) -> None:
    wrong_type = task("my.handler", {"name": STR, "err": STR})
    error = only_error(
        failing_workflow(task_node("fn0", wrong_type, name=wf_in("name"))),
        host,
        tasks=[CREATE, FAIL, wrong_type],
    )
    assert (error.code, error.node_id) == ("ParameterNotBound", "fn0")
    assert "'err'" in error.message

    other_name = task("my.handler", {"name": STR, "problem": ERROR})
    error = only_error(
        failing_workflow(task_node("fn0", other_name, name=wf_in("name"))),
        host,
        tasks=[CREATE, FAIL, other_name],
    )
    assert (error.code, error.node_id) == ("ParameterNotBound", "fn0")
    assert "'problem'" in error.message

    # Outside the failure node an error-typed input is an input like any other.
    wf = workflow("wf", [task_node("n0", CLEAN_UP, name=wf_in("name"))], inputs={"name": STR})
    compile_ok(wf, host, tasks=[CLEAN_UP])
    plain = task("my.plain", {"err": ERROR})
    error = only_error(workflow("wf", [task_node("n0", plain)]), host, tasks=[plain])
    assert (error.code, error.node_id) == ("ParameterNotBound", "n0")


def test_failure_node_reads_only_workflow_inputs(host: PluginHost) -> None:
    handler = task("my.handler", {"name": STR})
    name = task("my.name", {}, {"o0": STR})
    wf = workflow(
        "wf",
        [task_node("n0", name)],
        inputs={"name": STR},
        failure_node=task_node("fn0", handler, name=out("n0")),
    )
    error = only_error(wf, host, tasks=[name, handler])
    assert (error.code, error.node_id) == ("NodeReferenceNotFound", "fn0")
    assert "input 'name' of node 'fn0' is bound to node 'n0'" in error.message
    assert "only the workflow's inputs" in error.message


def test_bad_binding_of_the_failure_node_is_reported_with_its_id(host: PluginHost) -> None:
    handler = task("my.handler", {"name": INT})
    error = only_error(
        failing_workflow(task_node("fn0", handler, name=wf_in("name"))), host, tasks=[CREATE, FAIL, handler]
    )
    assert (error.code, error.node_id) == ("MismatchingTypes", "fn0")
    assert "input 'name'" in error.message and "str" in error.message

    errors = compile_errors(
        failing_workflow(task_node("fn0", CLEAN_UP, name=wf_in("name"), extra=wf_in("a"))),
        host,
        tasks=[CREATE, FAIL, CLEAN_UP],
    )
    assert [(e.code, e.node_id) for e in errors] == [("VariableNameNotFound", "fn0")]


def test_missing_failure_task_is_reported_with_the_node_id(host: PluginHost) -> None:
    wf = failing_workflow(task_node("fn0", CLEAN_UP, name=wf_in("name")))
    error = only_error(wf, host, tasks=[CREATE, FAIL])
    assert (error.code, error.node_id) == ("TaskReferenceNotFound", "fn0")


def test_failure_subworkflow_is_compiled_into_the_closure(host: PluginHost) -> None:
    inner = workflow(
        "my.cleanup_wf",
        [task_node("n0", CLEAN_UP, name=wf_in("name"))],
        inputs={"name": STR, "err": OPTIONAL_ERROR},
    )
    wf = failing_workflow(sub_node("fn0", inner, name=wf_in("name")))
    closure = compile_ok(wf, host, tasks=[CREATE, FAIL, CLEAN_UP], sub_workflows=[inner])
    assert [s.template.id for s in closure.sub_workflows] == [ident("my.cleanup_wf", ResourceType.WORKFLOW)]

    # A compile error inside it is reported too, under the subworkflow's name.
    broken = workflow(
        "my.cleanup_wf", [task_node("n0", CLEAN_UP, name=wf_in("missing"))], inputs={"name": STR}
    )
    errors = compile_errors(
        failing_workflow(sub_node("fn0", broken, name=wf_in("name"))),
        host,
        tasks=[CREATE, FAIL, CLEAN_UP],
        sub_workflows=[broken],
    )
    assert [(e.code, e.node_id, e.workflow_id) for e in errors] == [
        ("VariableNameNotFound", "n0", "my.cleanup_wf")
    ]


def test_no_node_reads_the_failure_node(host: PluginHost) -> None:
    handler = task("my.handler", {"name": STR}, {"o0": INT})
    show = task("my.show", {"x": INT})
    wf = workflow(
        "wf",
        [task_node("n0", show, x=out("fn0"))],
        inputs={"name": STR},
        failure_node=task_node("fn0", handler, name=wf_in("name")),
    )
    error = only_error(wf, host, tasks=[handler, show])
    assert (error.code, error.node_id) == ("NodeReferenceNotFound", "n0")
    assert "failure node" in error.message
