"""Executions: CreateExecution (the seed's request path), reads, terminate and relaunch.

Where each part lives:

- :mod:`.create`: CreateExecution and RelaunchExecution, step by step (validate, fetch the
  launch plan and compiled closure, merge the inputs, record QUEUED, write the inputs, launch);
- :mod:`.single_task`: the workflow and launch plan FlyteAdmin makes for a task launched directly;
- :mod:`.inputs`: merging the caller's inputs with the launch plan's defaults and fixed inputs;
- :mod:`.reads`: GetExecution, GetExecutionData, ListExecutions;
- :mod:`.terminate`: TerminateExecution;
- :mod:`.ids` and :mod:`.data`: execution names and ids, and the Get*Data answers (shared with
  the node and task execution calls).
"""

from __future__ import annotations

from flytecore.admin.service.base import UPDATE_ATTEMPTS
from flytecore.admin.service.executions.create import ExecutionCreation
from flytecore.admin.service.executions.data import data_response, literal_map_data
from flytecore.admin.service.executions.ids import (
    SINGLE_TASK_PREFIX,
    execution_id_of,
    generate_execution_name,
    show_execution,
    single_task_node_id,
)
from flytecore.admin.service.executions.inputs import merge_inputs
from flytecore.admin.service.executions.reads import ExecutionReads
from flytecore.admin.service.executions.terminate import ExecutionTermination
from flytecore.admin.service.launcher import Launcher

__all__ = [
    "SINGLE_TASK_PREFIX",
    "UPDATE_ATTEMPTS",
    "ExecutionService",
    "data_response",
    "execution_id_of",
    "generate_execution_name",
    "literal_map_data",
    "merge_inputs",
    "show_execution",
    "single_task_node_id",
]


class ExecutionService(ExecutionCreation, ExecutionReads, ExecutionTermination):
    """The execution calls of AdminService."""

    launcher: Launcher | None = None
    """What runs executions (the propeller in the sandbox); None: they stay QUEUED and wait."""
