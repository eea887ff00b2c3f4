"""``@workflow(on_failure=handler)`` and ``FlyteError``: the failure node of the template, the
authoring errors, local runs, and the error literal through the type engine and flyteidl."""

from __future__ import annotations

import typing

import pytest

from flytecore import FlyteError, LaunchPlan, Workflow, task, workflow
from flytecore.errors import AuthoringError, TaskExecutionError, TypeTransformerError
from flytecore.sdk.serialize import SerializationSettings, compile_entity, serialize_workflow
from flytecore.sdk.type_engine import TypeEngine, builtin_transformers
from flytecore.spec import idl
from flytecore.spec.literals import Literal, LiteralMap, Scalar
from flytecore.spec.types import Error, LiteralType, SimpleType

SETTINGS = SerializationSettings(project="p", domain="d", version="v1")
calls: list[tuple[str, typing.Any, FlyteError | None]] = []


@task
def create_cluster(name: str) -> None:
    calls.append(("create", name, None))


@task
def t1(a: int, b: str) -> None:
    raise ValueError("Fail!")


@task
def clean_up(name: str, err: typing.Optional[FlyteError] = None) -> None:  # noqa: UP045 (flytekit's spelling)
    calls.append(("clean_up", name, err))


@task
def clean_up_fails(name: str, err: FlyteError | None = None) -> None:
    raise RuntimeError(f"could not clean up {name}")


@workflow
def clean_up_wf(name: str, err: FlyteError | None = None) -> None:
    clean_up(name=name, err=err)


@workflow(on_failure=clean_up)
def wf(name: str = "my_cluster") -> None:
    c = create_cluster(name=name)
    t = t1(a=1, b="2")
    c >> t


@workflow(on_failure=clean_up)
def good(name: str = "my_cluster") -> None:
    create_cluster(name=name)


@workflow(on_failure=clean_up_fails)
def bad_handler(name: str = "my_cluster") -> None:
    t1(a=1, b="2")


@workflow(on_failure=clean_up_wf)
def wf_handled_by_a_workflow(name: str = "my_cluster") -> None:
    t1(a=1, b="2")


@workflow(on_failure=clean_up)
def inner(name: str) -> None:
    t1(a=1, b="2")


@workflow
def outer(name: str = "outer_cluster") -> None:
    inner(name=name)


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


# --- the template ------------------------------------------------------------------------------


def test_failure_node_binds_the_workflow_inputs_and_leaves_err_to_the_propeller() -> None:
    template = wf.to_template(SETTINGS)
    node = template.failure_node
    assert node is not None and node.id == "fn0"
    assert node.task_node is not None and node.task_node.reference_id == SETTINGS.identify(clean_up.id)
    assert [(b.var, b.binding.promise.node_id, b.binding.promise.var) for b in node.inputs] == [  # type: ignore[union-attr]
        ("name", "start-node", "name")
    ]
    assert node.upstream_node_ids == ()
    assert all(n.id != "fn0" for n in template.nodes)  # it is not part of the DAG


def test_the_handler_is_registered_and_compiled_with_the_workflow() -> None:
    bundle = serialize_workflow(wf, SETTINGS)
    assert clean_up.name in bundle.tasks
    closure = compile_entity(wf, SETTINGS)
    assert closure.primary.template.failure_node is not None
    assert clean_up.name in {t.template.id.name for t in closure.tasks}

    closure = compile_entity(wf_handled_by_a_workflow, SETTINGS)
    failure_node = closure.primary.template.failure_node
    assert failure_node is not None and failure_node.workflow_node is not None
    assert [s.template.id.name for s in closure.sub_workflows] == [clean_up_wf.name]


def test_a_workflow_without_handler_has_no_failure_node() -> None:
    @workflow
    def plain(name: str) -> None:
        create_cluster(name=name)

    assert plain.to_template(SETTINGS).failure_node is None


def test_the_failure_node_survives_the_flyteidl_bridge() -> None:
    template = wf.to_template(SETTINGS)
    msg = idl.to_idl(template)
    assert msg.failure_node.id == "fn0" and msg.failure_node.task_node.reference_id.name == clean_up.name
    assert idl.from_idl(msg) == template


def test_imperative_workflow_takes_a_handler() -> None:
    imperative = Workflow(name="my.imperative")
    imperative.add_workflow_input("name", str)
    imperative.add_entity(t1, a=1, b="2")
    imperative.add_on_failure_handler(clean_up)
    node = imperative.to_template(SETTINGS).failure_node
    assert node is not None and [b.var for b in node.inputs] == ["name"]
    with pytest.raises(TaskExecutionError):
        imperative(name="imp")
    assert [c[:2] for c in calls] == [("clean_up", "imp")]


# --- authoring errors --------------------------------------------------------------------------


def test_handler_missing_a_workflow_input_is_named() -> None:
    @task
    def handler(other: str) -> None: ...

    with pytest.raises(AuthoringError) as info:

        @workflow(on_failure=handler)
        def w(name: str, other: str) -> None: ...

    message = str(info.value)
    assert "handler" in message and "has no input 'name'" in message and "name: str" in message


def test_handler_input_of_another_type_is_named() -> None:
    @task
    def handler(name: int) -> None: ...

    with pytest.raises(AuthoringError, match=r"input 'name' is int but workflow input 'name' is str"):

        @workflow(on_failure=handler)
        def w(name: str) -> None: ...


def test_handler_input_the_workflow_lacks_must_be_optional() -> None:
    @task
    def handler(name: str, extra: int) -> None: ...

    with pytest.raises(AuthoringError, match=r"has input 'extra' \(int\), which the workflow does not have"):

        @workflow(on_failure=handler)
        def w(name: str) -> None: ...

    @task
    def lenient(name: str, extra: int | None = None) -> None: ...

    @workflow(on_failure=lenient)
    def ok(name: str) -> None:
        create_cluster(name=name)

    node = ok.to_template(SETTINGS).failure_node
    assert node is not None and [b.var for b in node.inputs] == ["name"]


def test_err_must_take_a_flyte_error() -> None:
    @task
    def handler(name: str, err: str | None = None) -> None: ...

    with pytest.raises(AuthoringError, match=r"input 'err' is .*str.*receives the workflow's error"):

        @workflow(on_failure=handler)
        def w(name: str) -> None: ...

    @task
    def required(name: str, err: FlyteError) -> None: ...

    @workflow(on_failure=required)
    def ok(name: str) -> None:
        create_cluster(name=name)

    assert ok.to_template(SETTINGS).failure_node is not None


def test_handler_must_be_a_task_or_a_workflow() -> None:
    def not_a_task(name: str) -> None: ...

    with pytest.raises(AuthoringError, match=r"on_failure must be a task or a workflow, got function"):

        @workflow(on_failure=not_a_task)  # type: ignore[arg-type]
        def w(name: str) -> None: ...

    lp = LaunchPlan.get_or_create(clean_up_wf, name="clean_up_lp")
    with pytest.raises(AuthoringError, match=r"got launch plan 'clean_up_lp'; pass its workflow"):

        @workflow(on_failure=lp)
        def w2(name: str) -> None: ...


def test_imperative_handler_is_checked_against_the_inputs_declared_so_far() -> None:
    imperative = Workflow(name="my.imperative2")
    imperative.add_workflow_input("cluster", str)
    with pytest.raises(AuthoringError, match=r"has no input 'cluster'"):
        imperative.add_on_failure_handler(clean_up)


# --- local runs --------------------------------------------------------------------------------


def test_local_run_runs_the_handler_then_raises_the_original_error() -> None:
    with pytest.raises(TaskExecutionError) as info:
        wf(name="c1")
    assert isinstance(info.value.cause, ValueError)
    assert [c[:2] for c in calls] == [("create", "c1"), ("clean_up", "c1")]
    err = calls[1][2]
    assert err is not None and err.message == str(info.value) and "Fail!" in err.message
    assert err.failed_node_id == ""  # a local run has no node ids


def test_local_run_of_a_succeeding_workflow_skips_the_handler() -> None:
    good(name="c2")
    assert calls == [("create", "c2", None)]


def test_a_failing_handler_does_not_replace_the_error() -> None:
    with pytest.raises(TaskExecutionError) as info:
        bad_handler(name="c3")
    assert isinstance(info.value.cause, ValueError)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "on_failure handler task" in notes and "could not clean up c3" in notes


def test_a_workflow_handler_and_a_nested_workflow_handler_run_locally() -> None:
    with pytest.raises(TaskExecutionError):
        wf_handled_by_a_workflow(name="c4")
    assert [c[:2] for c in calls] == [("clean_up", "c4")]
    calls.clear()
    with pytest.raises(TaskExecutionError):
        outer()
    assert [c[:2] for c in calls] == [("clean_up", "outer_cluster")]


# --- FlyteError through the type engine and the flyteidl bridge ---------------------------------


@pytest.fixture
def engine() -> TypeEngine:
    return TypeEngine(builtin_transformers())


def test_flyte_error_literal_form(engine: TypeEngine) -> None:
    assert engine.to_literal_type(FlyteError) == LiteralType(simple=SimpleType.ERROR)
    literal = engine.to_literal(FlyteError(message="boom", failed_node_id="n3"), FlyteError)
    assert literal == Literal(scalar=Scalar(error=Error(failed_node_id="n3", message="boom")))
    assert engine.to_python_value(literal, FlyteError) == FlyteError(message="boom", failed_node_id="n3")
    assert engine.guess_python_type(LiteralType(simple=SimpleType.ERROR)) is FlyteError


@pytest.mark.parametrize("value", [FlyteError(message="boom", failed_node_id="n3"), None])
def test_optional_flyte_error_round_trips(engine: TypeEngine, value: FlyteError | None) -> None:
    t = typing.Optional[FlyteError]  # noqa: UP045
    literal = engine.to_literal(value, t)
    assert literal.scalar is not None and literal.scalar.union is not None
    variant = literal.scalar.union.type
    assert variant.structure is not None and variant.structure.tag == ("FlyteError" if value else "none")
    assert engine.to_python_value(literal, t) == value


def test_flyte_error_through_flyteidl(engine: TypeEngine) -> None:
    value = FlyteError(message="line 1\nline 2", failed_node_id="n1-0-n0")
    literals = LiteralMap(
        literals={
            "plain": engine.to_literal(value, FlyteError),
            "optional": engine.to_literal(value, FlyteError | None),
        }
    )
    msg = idl.to_idl(literals.literals["plain"])
    assert (msg.scalar.error.failed_node_id, msg.scalar.error.message) == ("n1-0-n0", "line 1\nline 2")
    back = idl.literal_map_from_bytes(idl.literal_map_to_bytes(literals))
    assert back == literals
    assert engine.to_python_value(back.literals["plain"], FlyteError) == value
    assert engine.to_python_value(back.literals["optional"], FlyteError | None) == value
    literal_type = idl.to_idl(engine.to_literal_type(FlyteError))
    assert literal_type.simple == 8  # flyteidl.core.SimpleType.ERROR


def test_flyte_error_conversion_errors_say_what(engine: TypeEngine) -> None:
    with pytest.raises(TypeTransformerError, match=r"input 'err': expected error, got str 'boom'"):
        engine.to_literal("boom", FlyteError, name="err")
    with pytest.raises(TypeTransformerError, match=r"expected FlyteError, got literal str 'x'"):
        engine.to_python_value(engine.to_literal("x", str), FlyteError)
