"""Node handlers, one per kind of node (FlytePropeller's ``nodes/`` handlers).

A handler has two calls: ``handle(ctx) -> Transition`` (start or check on the node; never
blocks) and ``abort(ctx, cause)``. The engine owns phases, retries, timeouts and events; a
handler only says how its node is doing.
"""

from __future__ import annotations

from flytecore.propeller.handlers.array import ArrayHandler
from flytecore.propeller.handlers.branch import BranchHandler
from flytecore.propeller.handlers.gate import GateHandler
from flytecore.propeller.handlers.launch_plan import LaunchPlanHandler
from flytecore.propeller.handlers.subworkflow import SubworkflowHandler
from flytecore.propeller.handlers.task import TaskHandler

__all__ = [
    "ArrayHandler",
    "BranchHandler",
    "GateHandler",
    "LaunchPlanHandler",
    "SubworkflowHandler",
    "TaskHandler",
    "default_handlers",
]


def default_handlers() -> dict[str, object]:
    """A handler instance per node kind (see :func:`flytecore.propeller.engine.node_kind`)."""
    return {
        "task": TaskHandler(),
        "subworkflow": SubworkflowHandler(),
        "launchplan": LaunchPlanHandler(),
        "branch": BranchHandler(),
        "gate": GateHandler(),
        "array": ArrayHandler(),
    }
