"""Flyte's container template variables, filled in for one task attempt.

A task template's command line names its data with variables that the backend substitutes
(FlytePropeller's ``template.Render``): ``{{.input}}`` (the inputs.pb URI), ``{{.inputPrefix}}``,
``{{.outputPrefix}}``, ``{{.rawOutputDataPrefix}}``, ``{{.checkpointOutputPrefix}}``,
``{{.prevCheckpointPrefix}}``, and ``{{.inputs.NAME}}`` (an input's value as text, for raw
container tasks). Variable names are case-insensitive and spaces inside the braces are allowed,
as in Flyte. An unknown variable is an error naming it.

The local backend has no container image: its stand-in for the image's filesystem is the
attempt's working directory. So ``{{ .dest_dir }}`` (left in templates by ``pyflyte package``)
and an absolute ``--dest-dir`` of flytekit's ``pyflyte-fast-execute`` (``/root`` by default,
the image's folder) both mean that directory: the code archive is unpacked there, never into
the host's ``/root``. ``{{ .remote_package_path }}`` is filled in by the registering client
(``pyflyte register``, ``flytectl register files``); a template that still has it was
registered without its code, which the error says.
"""

from __future__ import annotations

import os
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


def render_command(
    command: Iterable[str], args: Iterable[str], ctx: TaskContext, work_dir: str | None = None
) -> list[str]:
    """The attempt's argv: command then args, every template variable replaced.

    :param work_dir: the attempt's working directory, where the command runs as a subprocess
        (None: it runs in-process, and names no folder of the image).
    """
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
        if lowered == "dest_dir" and work_dir is not None:
            return work_dir
        if lowered == "remote_package_path":
            raise ValueError(
                "the command line still has {{ .remote_package_path }}, which the registering client "
                "fills in with the code archive's location: register with `pyflyte register` (or "
                "`flytectl register files --archive`), not the output of `pyflyte package` as it is"
            )
        if lowered.startswith("inputs."):
            input_name = name.split(".", 1)[1]
            literal = ctx.inputs.literals.get(input_name)
            if literal is None:
                raise ValueError(f"the command line names input {input_name!r}, which the task does not have")
            return _text(literal)
        raise ValueError(f"unknown template variable {{{{.{name}}}}} in the command line")

    argv = [_VARIABLE.sub(replace, part) if "{{" in part else part for part in (*command, *args)]
    if work_dir is not None and argv and os.path.basename(argv[0]) == "pyflyte-fast-execute":
        argv = _local_dest_dir(argv, work_dir)
    return argv


def _local_dest_dir(argv: list[str], work_dir: str) -> list[str]:
    """``pyflyte-fast-execute``'s ``--dest-dir`` (up to its ``--``) pointed into ``work_dir``."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--":
            break
        if arg == "--dest-dir" and (os.path.isabs(out[i + 1]) or out[i + 1] in ("", ".")):
            out[i + 1] = work_dir
    return out
