"""``@dynamic``: a task whose body builds a workflow at run time from its input values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flytecore.sdk.base import _engine
from flytecore.sdk.context import executing_locally, task_parameters
from flytecore.sdk.task import PythonFunctionTask
from flytecore.spec.literals import Literal

__all__ = ["DynamicWorkflowTask", "dynamic"]


class DynamicWorkflowTask(PythonFunctionTask):
    """A ``@dynamic`` task. Its body gets real Python values (so it can loop over a list) and
    calls tasks and workflows like a workflow body does; what it returns may be their promises.

    Registered as a ``python-task`` like flytekit's: the body's run yields a sub-workflow that the
    propeller compiles and runs.
    """

    kind = "dynamic task"

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        engine = _engine()
        kwargs = {
            name: engine.to_python_value(lit, self.python_interface.inputs[name][0]) for name, lit in inputs.items()
        }
        with task_parameters(self.id), self._local_context(), executing_locally():
            result = self.execute(**kwargs)
        return self.outputs_to_literals(result)


def dynamic(_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare a dynamic workflow task, as flytekit's ``@dynamic``; takes ``@task``'s options."""

    def wrapper(fn: Callable[..., Any]) -> DynamicWorkflowTask:
        return DynamicWorkflowTask(fn, **kwargs)

    return wrapper(_fn) if _fn is not None else wrapper
