"""The flytecore exception hierarchy.

Every error a user can see derives from :class:`FlyteCoreError`. Messages say what was wrong,
where (which input, node, task or file) and, when there is one, what to do about it. This
module imports nothing else of flytecore so that every floor can use it.
"""

from __future__ import annotations


class FlyteCoreError(Exception):
    """Base class of every flytecore error."""


class SpecError(FlyteCoreError, ValueError):
    """A spec model was built with values that break its rules (e.g. two members of a oneof)."""


class ConversionError(FlyteCoreError, ValueError):
    """A value could not be converted between spec, flyteidl, JSON/YAML or Python."""


class TypeTransformerError(ConversionError, TypeError):
    """The type engine could not turn a Python value into a literal or back."""


class UserInputError(FlyteCoreError, TypeError):
    """Inputs given to a task, workflow or launch plan are wrong: unknown, missing or mistyped."""


class AuthoringError(FlyteCoreError):
    """A task, workflow, conditional or launch plan was declared in a way that cannot work."""


class PluginError(FlyteCoreError):
    """A plugin could not be loaded or registered something invalid."""


class UnknownTaskTypeError(PluginError, LookupError):
    """No installed plugin handles a task type."""


class TaskExecutionError(FlyteCoreError):
    """A task's body raised. Carries the task name and the original traceback text."""

    def __init__(self, task_name: str, cause: BaseException, traceback_text: str) -> None:
        self.task_name = task_name
        self.cause = cause
        self.traceback_text = traceback_text
        super().__init__(
            f"task {task_name!r} failed: {type(cause).__name__}: {cause}\n\n"
            f"Original traceback (most recent call last):\n{traceback_text}"
        )


class WorkflowFailedError(FlyteCoreError):
    """A workflow ended in failure: a `conditional(...).fail(...)` branch or a failed node."""


class FlyteRecoverableException(FlyteCoreError):
    """Raise it from a task body to say that a retry may succeed (flytekit's name and meaning).

    The task entrypoint reports it as a user error of kind ``RECOVERABLE`` in ``error.pb``, so the
    propeller retries the task (within its ``retries``); every other exception of a task body is
    ``NON_RECOVERABLE``.
    """


class TaskResolutionError(FlyteCoreError, LookupError):
    """The task entrypoint could not find the task a container was asked to run: the resolver,
    the module or the attribute is missing, or the object found is not a task."""
