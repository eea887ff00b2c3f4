"""The launch hook: how the admin hands an accepted execution to whatever runs it.

Why a protocol this narrow
--------------------------
``admin`` and ``propeller`` never import each other (DESIGN.md, "Which part may import
which"): the admin hands an execution over through this hook, and the engine reports back
through the admin's API as events (an in-process call in the sandbox, gRPC otherwise). So the
hook carries plain spec models and nothing of the admin (no repository, no storage object, no
protobufs), and it has two calls only:

- :meth:`Launcher.launch` receives a :class:`WorkflowObject` — everything the engine needs to
  run the execution without asking the admin anything: the compiled closure, the merged inputs,
  where to write metadata and raw data, and the run options. It is FlyteAdmin's
  ``WorkflowExecutor.Execute`` (which creates a ``FlyteWorkflow`` custom resource); in local mode
  the engine stores it as a row of its workflow store.
- :meth:`Launcher.abort` asks the engine to stop an execution; the engine confirms by sending
  the ABORTED workflow event, as FlytePropeller does after FlyteAdmin's ``Abort``.

The sandbox (the CLI) wires the propeller in as the launcher. An admin built without one records
executions as QUEUED and leaves them waiting (``launched`` stays False) for an engine to be wired.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from flytecore.spec.identifiers import WorkflowExecutionIdentifier

# The object itself is part of the spec: the propeller receives it without importing the admin.
from flytecore.spec.workflow_object import WorkflowObject

__all__ = ["Launcher", "WorkflowObject"]


@runtime_checkable
class Launcher(Protocol):
    """What runs executions for the admin (the propeller in the sandbox)."""

    def launch(self, obj: WorkflowObject) -> None:
        """Accept an execution. Return once the engine holds it durably; raise if it cannot
        (the admin then records the execution as FAILED with the error, as FlyteAdmin does).
        Must be idempotent per execution id: a retried hand-over must not run it twice."""

    def abort(self, execution_id: WorkflowExecutionIdentifier, cause: str) -> None:
        """Stop an execution. The engine confirms with an ABORTED workflow event; an execution
        it does not know (finished, or never launched) is not an error."""
