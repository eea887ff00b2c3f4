"""Compile errors: what the compiler reports, with Flyte's error codes.

The codes are the names flytepropeller's compiler uses (``pkg/compiler/errors``), so an error
reads the same whether Flyte or flytecore found it. Their meanings:

Raised by the core passes:

- ``CycleDetected``: nodes depend on each other in a circle (or a subworkflow contains itself).
- ``BranchNodeIdNotFound``: a branch case has no node to run.
- ``BranchNodeHasNoCondition``: a branch case has no condition.
- ``BranchNodeHasNoDefault``: a branch has neither an else node nor an else error.
- ``ValueRequired``: a field that must be set is empty (a node id, a node's target, a type).
- ``InvalidValue``: a field is set to something malformed (e.g. a variable name).
- ``NodeReferenceNotFound``: a binding or ``upstream_node_ids`` names a node that does not exist.
- ``TaskReferenceNotFound``: a task node refers to a task that was not supplied.
- ``WorkflowReferenceNotFound``: a workflow node refers to a subworkflow or launch plan that was
  not supplied.
- ``VariableNameNotFound``: a binding or condition names an input or output that does not exist.
- ``DuplicateAlias``: a node renames the same output twice.
- ``DuplicateId``: two nodes share an id, or a node uses a reserved id.
- ``MismatchingTypes``: a value or output is bound where its type cannot be used.
- ``MismatchingBindings``: a list or map of bindings is bound to an input that is not a list or map.
- ``ParameterBoundMoreThanOnce``: an input (or workflow output) is bound twice.
- ``ParameterNotBound``: a required input (or a workflow output) has no binding.
- ``UnreachableNodes``: nodes that no path from the start node leads to.
- ``WorkflowBuildError``: the compiler itself failed (a pass raised); the message says which pass.
- ``NoNodesFound``: a workflow without nodes.
- ``IllegalEnumValue``: a literal bound to an enum input is not one of its values.
- ``AmbiguousBindingUnionValue``: a list or map binding fits more than one variant of a union input.
- ``IncompatibleBindingUnionValue``: a list or map binding fits no variant of a union input.
- ``NoConditionFound``: a gate node has no approve, signal or sleep condition.

Known to Flyte, not raised by the core passes (available to plugin passes):

- ``MismatchingInterfaces``: two interfaces expected to be compatible are not.
- ``InconsistentTypes``: types expected to agree do not.
- ``NoEntryNodeFound``: no node to start a workflow with.
- ``ValueCollision``: a value that must be unique is not.
- ``SyntaxError``: a value could not be parsed.
- ``UnrecognizedValue``: a value of a kind the compiler does not know.
- ``FieldNotFound``: an attribute path names a field a dataclass does not have.
- ``IDLTypeNotFound``: a type the compiler does not know (an SDK newer than the compiler).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from flytecore.errors import FlyteCoreError

__all__ = ["ErrorCode", "CompileError", "CompilationFailed"]


class ErrorCode(enum.StrEnum):
    """Flyte's compile error codes (see the module docstring for their meanings)."""

    CYCLE_DETECTED = "CycleDetected"
    BRANCH_NODE_ID_NOT_FOUND = "BranchNodeIdNotFound"
    BRANCH_NODE_HAS_NO_CONDITION = "BranchNodeHasNoCondition"
    BRANCH_NODE_HAS_NO_DEFAULT = "BranchNodeHasNoDefault"
    VALUE_REQUIRED = "ValueRequired"
    INVALID_VALUE = "InvalidValue"
    NODE_REFERENCE_NOT_FOUND = "NodeReferenceNotFound"
    TASK_REFERENCE_NOT_FOUND = "TaskReferenceNotFound"
    WORKFLOW_REFERENCE_NOT_FOUND = "WorkflowReferenceNotFound"
    VARIABLE_NAME_NOT_FOUND = "VariableNameNotFound"
    DUPLICATE_ALIAS = "DuplicateAlias"
    DUPLICATE_ID = "DuplicateId"
    MISMATCHING_TYPES = "MismatchingTypes"
    MISMATCHING_BINDINGS = "MismatchingBindings"
    MISMATCHING_INTERFACES = "MismatchingInterfaces"
    INCONSISTENT_TYPES = "InconsistentTypes"
    PARAMETER_BOUND_MORE_THAN_ONCE = "ParameterBoundMoreThanOnce"
    PARAMETER_NOT_BOUND = "ParameterNotBound"
    NO_ENTRY_NODE_FOUND = "NoEntryNodeFound"
    UNREACHABLE_NODES = "UnreachableNodes"
    UNRECOGNIZED_VALUE = "UnrecognizedValue"
    WORKFLOW_BUILD_ERROR = "WorkflowBuildError"
    VALUE_COLLISION = "ValueCollision"
    SYNTAX_ERROR = "SyntaxError"
    NO_NODES_FOUND = "NoNodesFound"
    ILLEGAL_ENUM_VALUE = "IllegalEnumValue"
    AMBIGUOUS_BINDING_UNION_VALUE = "AmbiguousBindingUnionValue"
    INCOMPATIBLE_BINDING_UNION_VALUE = "IncompatibleBindingUnionValue"
    NO_CONDITION_FOUND = "NoConditionFound"
    FIELD_NOT_FOUND = "FieldNotFound"
    IDL_TYPE_NOT_FOUND = "IDLTypeNotFound"


@attrs.define(frozen=True, slots=True, kw_only=True)
class CompileError:
    """One problem found in a workflow.

    :ivar code: Flyte's error code, e.g. ``"MismatchingTypes"`` (an :class:`ErrorCode` value).
    :ivar node_id: the node the problem is at (``"start-node"`` / ``"end-node"`` for the
        workflow's inputs / outputs; ``""`` for the workflow as a whole). A node inside an array
        node is named ``"<array node id>/<sub-node id>"``.
    :ivar message: a sentence saying what is wrong and, where there is one, what to do.
    :ivar workflow_id: the name of the workflow the node belongs to (the primary workflow or a
        subworkflow).
    """

    code: str
    node_id: str
    message: str
    workflow_id: str = ""

    def __str__(self) -> str:
        where = f"node {self.node_id}" if self.node_id else f"workflow {self.workflow_id}"
        return f"{self.code} [{where}]: {self.message}"


class CompilationFailed(FlyteCoreError):
    """A workflow did not compile; :attr:`errors` holds every problem found, in every workflow."""

    def __init__(self, errors: Iterable[CompileError], workflow_id: str = "") -> None:
        self.errors: list[CompileError] = list(errors)
        self.workflow_id = workflow_id
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.errors)
        head = f"workflow {self.workflow_id!r} failed to compile with {count} error{'s' * (count != 1)}:"
        lines = [head]
        for err in self.errors:
            prefix = f"subworkflow {err.workflow_id!r}: " if err.workflow_id != self.workflow_id else ""
            lines.append(f"  {prefix}{err}")
        return "\n".join(lines)

    def codes(self) -> list[str]:
        """The error codes, in the order the errors were found (handy in tests and logs)."""
        return [e.code for e in self.errors]
