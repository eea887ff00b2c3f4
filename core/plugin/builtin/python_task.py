"""Built-in plugin: the ``python-task`` task type (a plain ``@task`` function)."""

from __future__ import annotations

from flytecore.plugin._markers import hookimpl
from flytecore.plugin.registry import TaskType, TaskTypeRegistry

PYTHON_TASK = "python-task"
"""Task type of a ``@task`` without a ``task_config`` (flytekit uses the same string)."""


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register ``python-task`` (a Python function run in-process locally, by the
    ``flytecore-execute`` entrypoint remotely) and ``echo`` (outputs are the inputs)."""
    register.register(TaskType(name=PYTHON_TASK, description="a Python function (@task)"))
    register.register(TaskType(name="echo", description="returns its inputs, no container (Echo)"))
