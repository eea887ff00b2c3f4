"""``Echo``: a task that returns its inputs, run by the engine without a container (flytekit's
``Echo``, handy as a no-op branch of a conditional)."""

from __future__ import annotations

import inspect
from typing import Any

from flytecore.sdk.base import Entity, _engine
from flytecore.sdk.interface import Interface
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.literals import Literal
from flytecore.spec.tasks import TaskMetadata, TaskTemplate
from flytecore.spec.workflow import TaskNode

ECHO_TASK = "echo"

__all__ = ["ECHO_TASK", "Echo"]


class Echo(Entity):
    """A task whose outputs are its inputs, in order: input i becomes output ``o{i}`` (flytekit's
    naming), with the same type."""

    resource_type = ResourceType.TASK
    kind = "task"

    def __init__(self, name: str, inputs: dict[str, Any] | None = None) -> None:
        inputs = dict(inputs or {})
        super().__init__(
            name,
            Interface(
                inputs={n: (t, inspect.Parameter.empty) for n, t in inputs.items()},
                outputs={f"o{i}": t for i, t in enumerate(inputs.values())},
            ),
        )

    def _node_target(self, node_id: str) -> dict[str, Any]:
        return {"task_node": TaskNode(reference_id=self.id)}

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        return {f"o{i}": inputs[n] for i, n in enumerate(self.python_interface.inputs)}

    def register_into(self, bundle: Any) -> None:
        bundle.add_task(self)

    def to_template(self, settings: Any) -> TaskTemplate:
        """An ``echo`` task template (no container)."""
        return TaskTemplate(
            id=settings.identify(self.id),
            type=ECHO_TASK,
            metadata=TaskMetadata(),
            interface=self.python_interface.to_typed_interface(_engine()),
        )
