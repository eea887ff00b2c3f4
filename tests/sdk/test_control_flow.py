"""conditional, map_task, @dynamic and launch plans: local runs and traced nodes."""

from __future__ import annotations

import functools

import pytest

from flytecore import LaunchPlan, conditional, dynamic, map_task, task, workflow
from flytecore.errors import AuthoringError, TaskExecutionError, UserInputError, WorkflowFailedError
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec.workflow import ComparisonOperator, LogicalOperator

runs: list[str] = []


@task
def double(n: float) -> float:
    runs.append("double")
    return 2 * n


@task
def square(n: float) -> float:
    runs.append("square")
    return n * n


@task
def is_even(n: int) -> bool:
    return n % 2 == 0


@task
def label(n: int, even: bool) -> str:
    return f"{n} is {'even' if even else 'odd'}"


@workflow
def shape(x: float) -> float:
    return (
        conditional("fraction")
        .if_((x >= 0.1) & (x <= 1.0))
        .then(double(n=x))
        .elif_(x > 1.0)
        .then(square(n=x))
        .else_()
        .fail("x must be at least 0.1")
    )


def test_conditional_runs_only_the_selected_case() -> None:
    runs.clear()
    assert shape(x=0.5) == 1.0
    assert runs == ["double"]
    runs.clear()
    assert shape(x=3.0) == 9.0
    assert runs == ["square"]


def test_conditional_fail_raises_only_when_taken() -> None:
    with pytest.raises(WorkflowFailedError, match="x must be at least 0.1"):
        shape(x=0.0)


def test_conditional_is_true_and_or() -> None:
    @workflow
    def wf(n: int) -> str:
        even = is_even(n=n)
        return (
            conditional("parity")
            .if_(even.is_true() | (n == 0))
            .then(label(n=n, even=True))
            .else_()
            .then(label(n=n, even=False))
        )

    assert wf(n=4) == "4 is even"
    assert wf(n=3) == "3 is odd"


def test_conditional_compiles_to_one_branch_node() -> None:
    template = shape.to_template(SerializationSettings())
    branch = [n for n in template.nodes if n.branch_node is not None]
    assert len(branch) == 1
    if_else = branch[0].branch_node.if_else
    assert if_else.case.condition.conjunction.operator == LogicalOperator.AND
    assert if_else.other[0].condition.comparison.operator == ComparisonOperator.GT
    assert if_else.error is not None and "0.1" in if_else.error.message
    assert if_else.case.then_node.task_node is not None
    assert template.outputs[0].binding.promise.node_id == branch[0].id


def test_nested_conditional() -> None:
    @workflow
    def wf(x: float) -> float:
        return (
            conditional("outer")
            .if_(x > 0.0)
            .then(conditional("inner").if_(x > 10.0).then(square(n=x)).else_().then(double(n=x)))
            .else_()
            .then(double(n=0.0))
        )

    assert wf(x=11.0) == 121.0
    assert wf(x=2.0) == 4.0
    assert wf(x=-1.0) == 0.0
    assert wf.to_template(SerializationSettings()).nodes[0].branch_node is not None


def test_map_task_with_partial_and_two_lists() -> None:
    @task
    def cost(quantity: int, price: float, shipping: float) -> float:
        return quantity * price + shipping

    @workflow
    def wf(qs: list[int], ps: list[float], ship: float) -> list[float]:
        return map_task(functools.partial(cost, shipping=ship))(quantity=qs, price=ps)

    assert wf(qs=[1, 2], ps=[10.0, 20.0], ship=1.0) == [11.0, 41.0]
    node = wf.to_template(SerializationSettings()).nodes[0]
    assert node.array_node is not None
    assert node.array_node.bound_inputs == ("shipping",)


def test_map_task_min_success_ratio_gives_none_for_failures() -> None:
    @task
    def picky(x: int) -> int:
        if x == 2:
            raise ValueError("no twos")
        return x

    mapped = map_task(picky, min_success_ratio=0.5, concurrency=2)
    assert mapped(x=[1, 2, 3]) == [1, None, 3]
    with pytest.raises(TaskExecutionError):
        map_task(picky)(x=[1, 2])


def test_map_task_rejects_unequal_lists() -> None:
    @task
    def pair(a: int, b: int) -> int:
        return a + b

    with pytest.raises(AuthoringError, match="differ in length"):
        map_task(pair)(a=[1, 2], b=[1])


def test_dynamic_loops_over_real_values() -> None:
    @task
    def inc(x: int) -> int:
        return x + 1

    @task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @dynamic
    def fan_out(n: int) -> int:
        results = [inc(x=i) for i in range(n)]
        return total(xs=results)

    @workflow
    def wf(n: int) -> int:
        return fan_out(n=n)

    assert wf(n=4) == 10
    assert fan_out(n=3) == 6


def test_launch_plans_defaults_and_fixed() -> None:
    @task
    def greet(name: str, greeting: str) -> str:
        return f"{greeting}, {name}"

    @workflow
    def hello(name: str, greeting: str = "Hello") -> str:
        return greet(name=name, greeting=greeting)

    default = LaunchPlan.get_default_launch_plan(hello)
    assert default.name == hello.name
    assert default(name="Ada") == "Hello, Ada"
    fixed = LaunchPlan.get_or_create(hello, name="hola", fixed_inputs={"greeting": "Hola"}, default_inputs={"name": "Bo"})
    assert fixed() == "Hola, Bo"
    assert LaunchPlan.get_or_create(hello, name="hola", fixed_inputs={"greeting": "Hola"}, default_inputs={"name": "Bo"}) is fixed
    with pytest.raises(AuthoringError, match="different settings"):
        LaunchPlan.get_or_create(hello, name="hola", fixed_inputs={"greeting": "Hi"})
    with pytest.raises(UserInputError, match="'greeting'"):
        fixed(greeting="Hi")
    spec = fixed.to_spec(SerializationSettings())
    assert set(spec.spec.default_inputs) == {"name"}
    assert spec.spec.fixed_inputs.literals["greeting"].scalar.primitive.string_value == "Hola"

    @workflow
    def outer() -> str:
        return fixed()

    assert outer() == "Hola, Bo"
    node = outer.to_template(SerializationSettings()).nodes[0]
    assert node.workflow_node.launchplan_ref.name == "hola"


def test_gates_trace_to_gate_nodes_and_compile() -> None:
    import datetime as dt

    from flytecore import approve, sleep, wait_for_input
    from flytecore.sdk.serialize import compile_entity

    @task
    def make(n: int) -> int:
        return n * 2

    @task
    def use(n: int, note: str) -> str:
        return f"{n}: {note}"

    @workflow
    def gated(n: int) -> str:
        made = make(n=n)
        pause = sleep(dt.timedelta(seconds=5))
        note = wait_for_input("note", timeout=dt.timedelta(hours=1), expected_type=str)
        ok = approve(made, "check", timeout=dt.timedelta(hours=1))
        pause >> note
        return use(n=ok, note=note)

    nodes = {n.id: n for n in gated.to_template(SerializationSettings()).nodes}
    assert nodes["n1"].gate_node.sleep.duration == dt.timedelta(seconds=5)
    assert nodes["n2"].gate_node.signal.signal_id == "note"
    assert nodes["n2"].upstream_node_ids == ("n1",)
    assert nodes["n3"].gate_node.approve.signal_id == "check"
    assert nodes["n3"].metadata.timeout == dt.timedelta(hours=1)
    closure = compile_entity(gated)
    assert closure.primary.connections.upstream["n4"] == ("n2", "n3")


def test_gates_locally_ask_on_terminal_or_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from flytecore import approve, sleep, wait_for_input

    @task
    def make(n: int) -> int:
        return n * 2

    @workflow
    def gated(n: int) -> int:
        sleep(1)
        extra = wait_for_input("extra", timeout=60, expected_type=int)
        return make(n=approve(extra, "ok", timeout=dt.timedelta(minutes=1)))

    with pytest.raises(UserInputError, match="no terminal"):
        gated(n=1)
    answers = iter(["21", "y"])
    monkeypatch.setattr("flytecore.sdk.gate._ask", lambda prompt: next(answers))
    assert gated(n=1) == 42
    answers = iter(["21", "n"])
    with pytest.raises(WorkflowFailedError, match="'ok' was rejected"):
        gated(n=1)
