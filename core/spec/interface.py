"""Typed interfaces: the named, typed inputs and outputs of tasks, workflows and launch plans."""

from __future__ import annotations

import attrs

from flytecore.spec._base import model, oneof
from flytecore.spec.literals import Literal
from flytecore.spec.types import LiteralType

__all__ = [
    "Variable",
    "TypedInterface",
    "Parameter",
]



@model
class Variable:
    """A named slot's type and description."""

    type: LiteralType
    description: str = ""


@model
class TypedInterface:
    """Inputs and outputs by name, in declaration order."""

    inputs: dict[str, Variable] = attrs.field(factory=dict)
    outputs: dict[str, Variable] = attrs.field(factory=dict)


@model
class Parameter:
    """A launch plan input: its variable and either a default value or ``required``."""

    var: Variable
    default: Literal | None = None
    required: bool | None = None

    def __attrs_post_init__(self) -> None:
        _check_parameter(self)


_check_parameter = oneof("default", "required")
