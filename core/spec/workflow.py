"""Workflow templates and their nodes: task, branch, subworkflow, launch plan, gate and array
nodes (flyteidl.core.workflow and flyteidl.core.condition)."""

from __future__ import annotations

import datetime as _dt
import enum

import attrs

from flytecore.spec._base import model, oneof
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import TypedInterface
from flytecore.spec.literals import Binding, LiteralMap, Primitive, RetryStrategy, Scalar
from flytecore.spec.tasks import Resources
from flytecore.spec.types import Error, LiteralType

__all__ = [
    "START_NODE_ID",
    "END_NODE_ID",
    "GLOBAL_INPUT_NODE_ID",
    "ComparisonOperator",
    "LogicalOperator",
    "Operand",
    "ComparisonExpression",
    "ConjunctionExpression",
    "BooleanExpression",
    "IfBlock",
    "IfElseBlock",
    "BranchNode",
    "ApproveCondition",
    "SignalCondition",
    "SleepCondition",
    "GateNode",
    "TaskNodeOverrides",
    "TaskNode",
    "WorkflowNode",
    "ArrayExecutionMode",
    "ArrayDataMode",
    "ArrayNode",
    "NodeMetadata",
    "Alias",
    "Node",
    "OnFailurePolicy",
    "WorkflowMetadata",
    "WorkflowMetadataDefaults",
    "WorkflowTemplate",
    "LaunchPlanTemplate",
]


START_NODE_ID = "start-node"
"""Id of the implicit node whose outputs are the workflow's inputs."""
END_NODE_ID = "end-node"
"""Id of the implicit node whose inputs are the workflow's outputs."""
GLOBAL_INPUT_NODE_ID = ""
"""Node id that bindings use to refer to workflow inputs (flytekit's convention)."""


# --- conditions -------------------------------------------------------------------------------


class ComparisonOperator(enum.IntEnum):
    """Comparison of two operands."""

    EQ = 0
    NEQ = 1
    GT = 2
    GTE = 3
    LT = 4
    LTE = 5


class LogicalOperator(enum.IntEnum):
    """Combination of two boolean expressions."""

    AND = 0
    OR = 1


@model
class Operand:
    """A side of a comparison: a constant or a variable (an input of the branch node)."""

    primitive: Primitive | None = None
    var: str | None = None
    scalar: Scalar | None = None

    def __attrs_post_init__(self) -> None:
        _check_operand(self)


_check_operand = oneof("primitive", "var", "scalar", required=True)


@model
class ComparisonExpression:
    """``left_value operator right_value``."""

    operator: ComparisonOperator
    left_value: Operand
    right_value: Operand


@model
class ConjunctionExpression:
    """``left_expression AND|OR right_expression``."""

    operator: LogicalOperator
    left_expression: BooleanExpression
    right_expression: BooleanExpression


@model
class BooleanExpression:
    """A comparison or a conjunction of boolean expressions."""

    conjunction: ConjunctionExpression | None = None
    comparison: ComparisonExpression | None = None

    def __attrs_post_init__(self) -> None:
        _check_bool(self)


_check_bool = oneof("conjunction", "comparison", required=True)


@model
class IfBlock:
    """A condition and the node run when it holds."""

    condition: BooleanExpression
    then_node: Node


@model
class IfElseBlock:
    """``case``, then ``other`` (elif) cases in order, then ``else_node`` or ``error``."""

    case: IfBlock
    other: tuple[IfBlock, ...] = ()
    else_node: Node | None = None
    error: Error | None = None

    def __attrs_post_init__(self) -> None:
        _check_else(self)


_check_else = oneof("else_node", "error")


@model
class BranchNode:
    """Runs the first node whose condition holds."""

    if_else: IfElseBlock


# --- gates --------------------------------------------------------------------------------------


@model
class ApproveCondition:
    """Waits for a boolean approval signal."""

    signal_id: str


@model
class SignalCondition:
    """Waits for a typed value sent to ``signal_id``; the value becomes ``output_variable_name``."""

    signal_id: str
    type: LiteralType
    output_variable_name: str = "o0"


@model
class SleepCondition:
    """Waits for ``duration``."""

    duration: _dt.timedelta


@model
class GateNode:
    """Pauses the workflow until a condition holds: approve, signal or sleep."""

    approve: ApproveCondition | None = None
    signal: SignalCondition | None = None
    sleep: SleepCondition | None = None

    def __attrs_post_init__(self) -> None:
        _check_gate(self)


_check_gate = oneof("approve", "signal", "sleep", required=True)


# --- task, workflow and array nodes -------------------------------------------------------------


@model
class TaskNodeOverrides:
    """Per-node overrides of a task's resources and image."""

    resources: Resources | None = None
    container_image: str = ""


@model
class TaskNode:
    """Runs the task ``reference_id``."""

    reference_id: Identifier
    overrides: TaskNodeOverrides | None = None


@model
class WorkflowNode:
    """Runs a launch plan (a child execution) or a subworkflow (inline)."""

    launchplan_ref: Identifier | None = None
    sub_workflow_ref: Identifier | None = None

    def __attrs_post_init__(self) -> None:
        _check_wfnode(self)


_check_wfnode = oneof("launchplan_ref", "sub_workflow_ref", required=True)


class ArrayExecutionMode(enum.IntEnum):
    """How much per-element state an array node keeps."""

    MINIMAL_STATE = 0
    FULL_STATE = 1


class ArrayDataMode(enum.IntEnum):
    """Whether elements read one input file or one each."""

    SINGLE_INPUT_FILE = 0
    INDIVIDUAL_INPUT_FILES = 1


@model
class ArrayNode:
    """Runs ``node`` once per element of its list inputs (a map task). ``bound_inputs`` are
    inputs passed whole to every element (e.g. from ``functools.partial``).

    ``is_original_sub_node_interface`` says which interface ``node`` has: True, the element's
    own (the array node's is it with lists, flytekit's map over launch plans); False, one already
    lifted to lists (flytekit's ``map_task`` refers to a ``…-arraynode`` task typed so); None,
    as True (flytecore's SDK, which leaves it unset)."""

    node: Node
    parallelism: int | None = None
    min_successes: int | None = None
    min_success_ratio: float | None = None
    execution_mode: ArrayExecutionMode = ArrayExecutionMode.MINIMAL_STATE
    data_mode: ArrayDataMode = ArrayDataMode.SINGLE_INPUT_FILE
    bound_inputs: tuple[str, ...] = ()
    is_original_sub_node_interface: bool | None = None

    def __attrs_post_init__(self) -> None:
        _check_array(self)


_check_array = oneof("min_successes", "min_success_ratio")


@model
class NodeMetadata:
    """Name, timeout, retries, interruptible and cache overrides of one node."""

    name: str = ""
    timeout: _dt.timedelta | None = None
    retries: RetryStrategy | None = None
    interruptible: bool | None = None
    cacheable: bool | None = None
    cache_version: str | None = None
    cache_serializable: bool | None = None


@model
class Alias:
    """Renames output ``var`` of a node to ``alias``."""

    var: str
    alias: str


@model
class Node:
    """One step of a workflow. Exactly one of the target fields is set."""

    id: str
    metadata: NodeMetadata | None = None
    inputs: tuple[Binding, ...] = ()
    upstream_node_ids: tuple[str, ...] = ()
    output_aliases: tuple[Alias, ...] = ()
    task_node: TaskNode | None = None
    workflow_node: WorkflowNode | None = None
    branch_node: BranchNode | None = None
    gate_node: GateNode | None = None
    array_node: ArrayNode | None = None

    def __attrs_post_init__(self) -> None:
        _check_node(self)

    @property
    def kind(self) -> str:
        """``task``, ``workflow``, ``branch``, ``gate``, ``array`` or ``start``/``end``."""
        for name in _NODE_TARGETS:
            if getattr(self, name) is not None:
                return name[: -len("_node")]
        return "start" if self.id == START_NODE_ID else "end"


_NODE_TARGETS = ("task_node", "workflow_node", "branch_node", "gate_node", "array_node")
_check_node = oneof(*_NODE_TARGETS)


# --- workflows ------------------------------------------------------------------------------


class OnFailurePolicy(enum.IntEnum):
    """What a workflow does when a node fails."""

    FAIL_IMMEDIATELY = 0
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = 1


@model
class WorkflowMetadata:
    """Failure policy and tags of a workflow."""

    on_failure: OnFailurePolicy = OnFailurePolicy.FAIL_IMMEDIATELY
    tags: dict[str, str] = attrs.field(factory=dict)


@model
class WorkflowMetadataDefaults:
    """Defaults applied to every node of a workflow."""

    interruptible: bool = False


@model
class WorkflowTemplate:
    """A registered workflow: interface, nodes, output bindings and an optional failure node."""

    id: Identifier
    metadata: WorkflowMetadata = WorkflowMetadata()
    interface: TypedInterface = TypedInterface()
    nodes: tuple[Node, ...] = ()
    outputs: tuple[Binding, ...] = ()
    failure_node: Node | None = None
    metadata_defaults: WorkflowMetadataDefaults = WorkflowMetadataDefaults()


@model
class LaunchPlanTemplate:
    """What a workflow node needs to know of a referenced launch plan."""

    id: Identifier
    interface: TypedInterface = TypedInterface()
    fixed_inputs: LiteralMap = LiteralMap()
