"""The template's test: the plugin is found, its task type serializes and runs locally."""

from __future__ import annotations

import pytest
from flyte_plugin_example import Example, current_greeting

from flytecore import task
from flytecore.plugin import make_plugin_host, use_host
from flytecore.testing import task_template


def test_the_example_task_type_serializes_and_runs_its_local_face() -> None:
    host = make_plugin_host(strict=True)  # the installed entry points, as in a user's environment
    assert host.task_types.owner("example") == "example"
    with use_host(host):

        @task(task_config=Example(greeting="hi"))
        def greet(name: str) -> str:
            return f"{current_greeting()}, {name}"

        template = task_template(greet)
        assert (template.type, template.custom) == ("example", {"greeting": "hi"})
        assert greet(name="Ada") == "hi, Ada"
    with pytest.raises(RuntimeError, match="only available inside"):
        current_greeting()
