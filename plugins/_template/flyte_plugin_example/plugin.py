"""The entry point of flyte-plugin-example (group ``flytecore.plugins``, name ``example``)."""

from __future__ import annotations

from flyte_plugin_example.config import TASK_TYPE, Example, greeting_context, to_custom
from flytecore.plugin import TaskType, TaskTypeRegistry, hookimpl


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register the ``example`` task type, selected by ``@task(task_config=Example(...))``."""
    register.register(
        TaskType(
            name=TASK_TYPE,
            config_type=Example,
            to_custom=to_custom,
            local_context=greeting_context,
            description="an example task type (plugins/_template)",
        )
    )
