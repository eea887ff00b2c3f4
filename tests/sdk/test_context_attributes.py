"""Plugin attributes on ``current_context()`` (flytekit's ``current_context().spark_session``)."""

from __future__ import annotations

import pytest

from flytecore import current_context, task
from flytecore.plugin import context_attribute


def test_a_plugin_attribute_is_read_case_insensitively_while_set_and_gone_after() -> None:
    @task
    def body() -> int:
        with context_attribute("spark_session", 42):
            assert current_context().spark_session == 42
            assert current_context().SPARK_SESSION == 42
        with pytest.raises(AttributeError, match="no attribute 'spark_session'.*none"):
            current_context().spark_session  # noqa: B018
        return 1

    assert body() == 1


def test_a_nested_attribute_restores_the_outer_value() -> None:
    @task
    def body() -> str:
        with context_attribute("session", "outer"):
            with context_attribute("session", "inner"):
                assert current_context().session == "inner"
            return str(current_context().session)

    assert body() == "outer"


def test_fields_are_not_shadowed_by_attributes() -> None:
    @task
    def body() -> bool:
        params = current_context()
        with context_attribute("execution_id", "not this"):
            return params.execution_id != "not this"

    assert body() is True


def test_a_plugin_attribute_wins_over_an_extra_attribute_of_the_same_name() -> None:
    @task
    def body() -> list[str]:
        params = current_context()
        params.attrs_["SESSION"] = "extra"
        seen = [params.session]
        with context_attribute("session", "plugin"):
            seen.append(params.session)
        with (
            context_attribute("other", 1),
            pytest.raises(AttributeError, match=r"set for this task: other, session;"),
        ):
            params.missing  # noqa: B018
        return seen

    assert body() == ["extra", "plugin"]


def test_a_task_types_local_runner_runs_the_body_and_its_error_is_the_tasks() -> None:
    from flytecore.errors import TaskExecutionError
    from flytecore.plugin import TaskType, TaskTypeRegistry, hookimpl, make_plugin_host, use_host

    class Twice:
        """Runs the body twice and returns both results (a stand-in for a 2-worker launch)."""

    calls: list[dict[str, int]] = []

    def run_twice(config: Twice, task_obj: object, kwargs: dict[str, int]) -> list[int]:
        assert isinstance(config, Twice)
        calls.append(kwargs)
        return [task_obj.fn(**kwargs) for _ in range(2)]  # type: ignore[attr-defined]

    class Plugin:
        @hookimpl
        def flytecore_register_task_types(self, register: TaskTypeRegistry) -> None:
            register.register(TaskType(name="twice", config_type=Twice, local_runner=run_twice))

    host = make_plugin_host(entry_points=False, extra_plugins=[("twice", Plugin())])
    with use_host(host):

        @task(task_config=Twice())
        def double(x: int) -> list[int]:
            if x < 0:
                raise ValueError("negative")
            return x * 2  # type: ignore[return-value]

        assert double(x=3) == [6, 6]
        assert calls == [{"x": 3}]
        with pytest.raises(TaskExecutionError, match="negative"):
            double(x=-1)
