"""Launch plans: a workflow with default and fixed inputs (flyteidl.admin.launch_plan)."""

from __future__ import annotations

import datetime as _dt
import enum

import attrs

from flytecore.spec._base import model
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import Parameter, Variable
from flytecore.spec.literals import LiteralMap

__all__ = [
    "LaunchPlanState",
    "RawOutputDataConfig",
    "LaunchPlanSpec",
    "LaunchPlanClosure",
    "LaunchPlan",
]



class LaunchPlanState(enum.IntEnum):
    """Only an ACTIVE launch plan's schedule runs; any launch plan can be executed."""

    INACTIVE = 0
    ACTIVE = 1


@model
class RawOutputDataConfig:
    """Where offloaded data (files, directories, large values) of an execution is written."""

    output_location_prefix: str = ""


@model
class LaunchPlanSpec:
    """The workflow to launch, inputs a caller may override (``default_inputs``) and inputs no
    caller may change (``fixed_inputs``)."""

    workflow_id: Identifier
    default_inputs: dict[str, Parameter] = attrs.field(factory=dict)
    fixed_inputs: LiteralMap = LiteralMap()
    labels: dict[str, str] = attrs.field(factory=dict)
    annotations: dict[str, str] = attrs.field(factory=dict)
    raw_output_data_config: RawOutputDataConfig | None = None
    max_parallelism: int = 0
    interruptible: bool | None = None
    overwrite_cache: bool = False


@model
class LaunchPlanClosure:
    """What admin derives for a launch plan: state and its effective interface."""

    state: LaunchPlanState = LaunchPlanState.INACTIVE
    expected_inputs: dict[str, Parameter] = attrs.field(factory=dict)
    expected_outputs: dict[str, Variable] = attrs.field(factory=dict)
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None


@model
class LaunchPlan:
    """A registered launch plan."""

    id: Identifier
    spec: LaunchPlanSpec
    closure: LaunchPlanClosure = LaunchPlanClosure()
