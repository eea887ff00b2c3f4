"""Authoring API: tasks, workflows, outputs, defaults, partials and local runs through literals."""

from __future__ import annotations

import functools
import os
import typing
from dataclasses import dataclass, field

import pytest

from flytecore import Resources, current_context, kwtypes, task, workflow
from flytecore.errors import AuthoringError, TaskExecutionError, UserInputError
from flytecore.spec.types import SimpleType


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def square(x: int) -> int:
    return x * x


@task
def split(s: str) -> tuple[str, int]:
    return s.upper(), len(s)


Stats = typing.NamedTuple("Stats", [("total", int), ("mean", float)])


@task
def stats(xs: list[int]) -> Stats:
    return Stats(total=sum(xs), mean=sum(xs) / len(xs))


@workflow
def chain(a: int, b: int = 2) -> int:
    return square(x=add(a=a, b=b))


@workflow
def named(xs: list[int]) -> Stats:
    s = stats(xs=xs)
    return Stats(total=s.total, mean=s.mean)


def test_task_called_directly_runs_through_literals() -> None:
    assert add(a=1, b=2) == 3
    assert add(1, 2) == 3
    assert split(s="abc") == ("ABC", 3)


def test_workflow_chain_and_default() -> None:
    assert chain(a=1) == 9
    assert chain(a=1, b=3) == 16


def test_named_outputs() -> None:
    result = named(xs=[1, 2, 3])
    assert result.total == 6
    assert result.mean == 2.0
    assert list(named.python_interface.outputs) == ["total", "mean"]


def test_interface_types() -> None:
    typed = add.python_interface.to_typed_interface(__import__("flytecore.sdk.type_engine", fromlist=["x"]).get_type_engine())
    assert typed.inputs["a"].type.simple == SimpleType.INTEGER
    assert list(typed.outputs) == ["o0"]
    assert list(split.python_interface.outputs) == ["o0", "o1"]


def test_partial_of_task_in_workflow() -> None:
    add_ten = functools.partial(add, b=10)

    @workflow
    def wf(a: int) -> int:
        return add_ten(a=a)

    assert wf(a=5) == 15


def test_task_options_reach_the_template() -> None:
    from flytecore.sdk.serialize import SerializationSettings

    @task(
        retries=3,
        timeout=60,
        cache=True,
        cache_version="1.0",
        interruptible=True,
        requests=Resources(cpu="1", mem="1Gi"),
        limits=Resources(cpu="2", mem="2Gi"),
    )
    def heavy(x: int) -> int:
        return x

    template = heavy.to_template(SerializationSettings(project="p", domain="d", version="v1"))
    assert template.metadata.retries.retries == 3
    assert template.metadata.timeout.total_seconds() == 60
    assert template.metadata.discoverable is True
    assert template.metadata.discovery_version == "1.0"
    assert template.metadata.interruptible is True
    assert template.type == "python-task"
    assert template.id.project == "p" and template.id.version == "v1"
    assert {(e.name.name, e.value) for e in template.container.resources.requests} == {("CPU", "1"), ("MEMORY", "1Gi")}
    assert "flytecore-execute" in template.container.args


def test_kwtypes_keeps_order() -> None:
    assert list(kwtypes(b=int, a=str).items()) == [("b", int), ("a", str)]


def test_current_context_inside_task() -> None:
    import os

    @task
    def where(keep: bool) -> str:
        ctx = current_context()
        assert ctx.execution_id.name
        assert os.path.isdir(ctx.working_directory)
        if keep:
            with open(os.path.join(ctx.working_directory, "kept.txt"), "w") as f:
                f.write("x")
        return ctx.working_directory

    # A fresh working directory per task run, removed after it when the task left it empty.
    first, second = where(keep=False), where(keep=True)
    assert first != second
    assert not os.path.exists(first)
    assert os.path.isfile(os.path.join(second, "kept.txt"))


def test_a_task_that_never_asks_for_its_working_directory_makes_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args: typing.Any, **kwargs: typing.Any) -> str:
        made.append(path := real(*args, **kwargs))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)

    @task
    def quiet(x: int) -> int:
        return x + 1

    @task
    def asks(x: int) -> str:
        return current_context().working_directory

    assert quiet(x=1) == 2 and quiet(x=2) == 3
    assert [p for p in made if "flytecore-task-" in p] == []  # no folder made for them
    where = asks(x=1)
    assert made[-1] == where and "flytecore-task-" in where  # made when asked for...
    assert not os.path.exists(where)  # ...and removed after the task, as it stayed empty


@dataclass
class Inner:
    x: int = 1
    tags: list[str] = field(default_factory=list)


@dataclass
class Outer:
    inner: Inner
    name: str = "n"


def test_dataclass_attribute_access_in_workflow() -> None:
    @task
    def make(n: int) -> Outer:
        return Outer(inner=Inner(x=n, tags=["a"]))

    @workflow
    def wf(n: int) -> int:
        o = make(n=n)
        return square(x=o.inner.x)

    assert wf(n=4) == 16


def test_subworkflow_and_explicit_order() -> None:
    calls: list[str] = []

    @task
    def first() -> None:
        calls.append("first")

    @task
    def second() -> None:
        calls.append("second")

    @workflow
    def sub(a: int) -> int:
        return add(a=a, b=1)

    @workflow
    def parent(a: int) -> int:
        f = first()
        s = second()
        f >> s
        return sub(a=sub(a=a))

    assert parent(a=1) == 3
    assert calls == ["first", "second"]
    nodes = {n.id: n for n in parent.to_template(__import__("flytecore.sdk.serialize", fromlist=["x"]).SerializationSettings()).nodes}
    assert nodes["n1"].upstream_node_ids == ("n0",)


# --- bad input ----------------------------------------------------------------------------------


def test_wrong_type_names_input_expected_and_given() -> None:
    with pytest.raises(UserInputError) as err:
        chain(a="three")
    text = str(err.value)
    assert "'a'" in text and "int" in text and "str" in text and "chain" in text


def test_missing_input_names_it() -> None:
    with pytest.raises(UserInputError, match=r"missing input 'a' of type int"):
        chain()


def test_unknown_input_names_it_and_lists_inputs() -> None:
    with pytest.raises(UserInputError) as err:
        chain(a=1, c=2)
    assert "'c'" in str(err.value) and "a (int)" in str(err.value)


def test_task_body_exception_has_task_name_and_traceback() -> None:
    @task
    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")

    @workflow
    def wf(x: int) -> int:
        return boom(x=x)

    with pytest.raises(TaskExecutionError) as err:
        wf(x=7)
    assert "boom" in str(err.value)
    assert "ValueError: bad x 7" in str(err.value)
    assert 'raise ValueError(f"bad x {x}")' in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)


def test_promise_has_no_truth_value() -> None:
    @workflow
    def wf(a: int) -> int:
        s = square(x=a)
        if s:
            return s
        return a

    with pytest.raises(AuthoringError, match="conditional"):
        wf.trace()


def test_untyped_input_is_rejected_at_declaration() -> None:
    with pytest.raises(AuthoringError, match="'x' has no type hint"):

        @task
        def untyped(x) -> int:  # type: ignore[no-untyped-def]
            return 1


def test_wrong_output_type_names_output() -> None:
    @task
    def liar() -> int:
        return "nope"  # type: ignore[return-value]

    with pytest.raises(Exception) as err:
        liar()
    assert "liar" in str(err.value) and "o0" in str(err.value) and "int" in str(err.value)


def test_unknown_task_config_names_installed_types() -> None:
    class SparkLikeConfig:
        pass

    with pytest.raises(AuthoringError) as err:

        @task(task_config=SparkLikeConfig())
        def t() -> None: ...

    assert "SparkLikeConfig" in str(err.value) and "python-task" in str(err.value)


def test_imperative_workflow_runs_and_compiles() -> None:
    from flytecore import Workflow
    from flytecore.sdk.serialize import compile_entity

    @task
    def shout(s: str) -> str:
        return s.upper()

    @task
    def join(a: str, b: str) -> str:
        return f"{a} {b}"

    wf = Workflow(name="tests.imperative")
    wf.add_workflow_input("x", str)
    wf.add_workflow_input("y", str)
    first = wf.add_entity(shout, s=wf.inputs["x"])
    second = wf.add_entity(join, a=first.outputs["o0"], b=wf.inputs["y"])
    wf.add_workflow_output("joined", second.outputs["o0"])
    wf.add_workflow_output("both", [first.outputs["o0"], second.outputs["o0"]], python_type=list[str])
    assert wf(x="hi", y="there") == ("HI there", ["HI", "HI there"])
    closure = compile_entity(wf)
    assert [n.id for n in closure.primary.template.nodes] == ["n0", "n1"]
    assert list(closure.primary.template.interface.outputs) == ["joined", "both"]
    with pytest.raises(UserInputError, match="missing input 'y'"):
        wf(x="hi")
