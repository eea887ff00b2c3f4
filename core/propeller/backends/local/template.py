"""Flyte's container template variables, filled in for one task attempt.

A task template's command line names its data with variables that the backend substitutes
(FlytePropeller's ``template.Render``): ``{{.input}}`` (the inputs.pb URI), ``{{.inputPrefix}}``,
``{{.outputPrefix}}``, ``{{.rawOutputDataPrefix}}``, ``{{.checkpointOutputPrefix}}``,
``{{.prevCheckpointPrefix}}``, and ``{{.inputs.NAME}}`` (an input's value as text, for raw
container tasks). Variable names are case-insensitive and spaces inside the braces are allowed,
as in Flyte. An unknown variable is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flytecore.spec.literals import Literal

if TYPE_CHECKING:
    from flytecore.propeller.context import TaskContext

__all__ = ["render_command"]

_VARIABLE = re.compile(r"\{\{\s*\.?([A-Za-z_][\w.]*)\s*\}\}")


def _text(literal: Literal) -> str:
    """An input's value as Flyte renders it into a command line."""
    scalar = literal.scalar
    if scalar is not None and scalar.primitive is not None:
        p = scalar.primitive
        for value in (p.integer, p.float_value, p.string_value):
            if value is not None:
                return str(value)
        if p.boolean is not None:
            return "true" if p.boolean else "false"
        if p.datetime is not None:
            return p.datetime.isoformat()
        if p.duration is not None:
            return str(p.duration.total_seconds()) + "s"
    if scalar is not None and scalar.blob is not None:
        return scalar.blob.uri
    if scalar is not None and scalar.none_type is not None:
        return ""
    if literal.collection is not None:
        return "[" + ",".join(_text(item) for item in literal.collection) + "]"
    raise ValueError("only primitives, blobs and lists of them can be rendered into a command line")


def render_command(command: Iterable[str], args: Iterable[str], ctx: TaskContext) -> list[str]:
    """The attempt's argv: command then args, every template variable replaced."""
    node_prefix = ctx.inputs_uri.rsplit("/", 1)[0]
    values = {
        "input": ctx.inputs_uri,
        "inputprefix": node_prefix,
        "outputprefix": ctx.output_prefix,
        "rawoutputdataprefix": ctx.raw_output_prefix,
        "checkpointoutputprefix": ctx.checkpoint_prefix,
        "prevcheckpointprefix": ctx.prev_checkpoint_prefix,
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        lowered = name.lower()
        if lowered in values:
            return values[lowered]
        if lowered.startswith("inputs."):
            input_name = name.split(".", 1)[1]
            literal = ctx.inputs.literals.get(input_name)
            if literal is None:
                raise ValueError(f"the command line names input {input_name!r}, which the task does not have")
            return _text(literal)
        raise ValueError(f"unknown template variable {{{{.{name}}}}} in the command line")

    return [_VARIABLE.sub(replace, part) for part in (*command, *args)]
