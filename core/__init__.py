"""flytecore: Flyte's architecture as a plugin-centric Python framework.

The public authoring API, with flytekit's names::

    from flytecore import task, workflow, conditional, map_task, LaunchPlan

Plugin authors use :mod:`flytecore.plugin` (hooks) and :mod:`flytecore.testing` (fixtures).
"""

from __future__ import annotations

__version__ = "0.1.0"

from flytecore.errors import FlyteRecoverableException
from flytecore.sdk.condition import conditional
from flytecore.sdk.context import current_context
from flytecore.sdk.dynamic import dynamic
from flytecore.sdk.echo import Echo
from flytecore.sdk.gate import approve, sleep, wait_for_input
from flytecore.sdk.imperative import Workflow
from flytecore.sdk.interface import kwtypes
from flytecore.sdk.launch_plan import LaunchPlan
from flytecore.sdk.map_task import map_task
from flytecore.sdk.resources import Resources
from flytecore.sdk.task import task
from flytecore.sdk.types import FlyteDirectory, FlyteError, FlyteFile
from flytecore.sdk.workflow import WorkflowFailurePolicy, workflow

__all__ = [
    "Echo",
    "FlyteDirectory",
    "FlyteError",
    "FlyteRecoverableException",
    "FlyteFile",
    "LaunchPlan",
    "Resources",
    "Workflow",
    "WorkflowFailurePolicy",
    "__version__",
    "approve",
    "conditional",
    "current_context",
    "dynamic",
    "kwtypes",
    "map_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]
