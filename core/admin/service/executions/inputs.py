"""An execution's inputs: the caller's, merged with the launch plan's defaults and fixed inputs."""

from __future__ import annotations

from typing import NamedTuple

from flyteidl.core import interface_pb2, literals_pb2

from flytecore.admin.service.errors import InvalidArgumentError
from flytecore.admin.service.registration import parse
from flytecore.compiler.values import literal_mismatch
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.types import LiteralType

__all__ = ["MergedInputs", "merge_inputs"]


class MergedInputs(NamedTuple):
    """The inputs an execution runs with, as flyteidl (what is stored) and as spec models (what
    the engine takes): each literal is converted once, by the type check."""

    message: literals_pb2.LiteralMap
    literals: LiteralMap


def merge_inputs(
    user: literals_pb2.LiteralMap,
    fixed: literals_pb2.LiteralMap,
    expected: interface_pb2.ParameterMap,
    launch_plan: str,
) -> MergedInputs:
    """The inputs an execution runs with: the caller's, the defaults of what the caller left out,
    and the launch plan's fixed inputs (FlyteAdmin's ``CheckAndFetchInputsForExecution``).

    Every problem is reported at once, each naming its input: an override of a fixed input, an
    unknown input, a value of the wrong type, a missing required input.
    """
    problems: list[str] = []
    merged = literals_pb2.LiteralMap()
    parsed: dict[str, Literal] = {}
    known = ", ".join(sorted(expected.parameters)) or "none"
    for name, literal in sorted(user.literals.items()):
        param = expected.parameters.get(name)
        if name in fixed.literals:
            problems.append(f"input {name!r} is fixed by launch plan {launch_plan} and cannot be overridden")
        elif param is None:
            problems.append(f"input {name!r} is not an input of launch plan {launch_plan} (inputs: {known})")
        else:
            value = parse(literal, Literal, f"input {name!r}")
            reason = literal_mismatch(value, parse(param.var.type, LiteralType, f"type of input {name!r}"), f"input {name!r}")
            if reason is not None:
                problems.append(reason)
            merged.literals[name].CopyFrom(literal)
            parsed[name] = value
    for name, param in sorted(expected.parameters.items()):
        if name in user.literals:
            continue
        if param.HasField("default"):
            merged.literals[name].CopyFrom(param.default)
            parsed[name] = parse(param.default, Literal, f"default of input {name!r}")
        elif param.required:
            problems.append(f"required input {name!r} of launch plan {launch_plan} is missing")
    if problems:
        raise InvalidArgumentError("the execution's inputs are invalid: " + "; ".join(problems))
    for name, literal in fixed.literals.items():
        merged.literals[name].CopyFrom(literal)
        parsed[name] = parse(literal, Literal, f"fixed input {name!r}")
    return MergedInputs(merged, LiteralMap(literals=parsed))
