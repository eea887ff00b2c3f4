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
