"""Running tasks through the task entrypoint as a backend would, for the entrypoint's tests.

Tasks are started with the container arguments their serialized templates carry, Flyte's
template variables substituted; results are read back as flyteidl protobufs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
from flyteidl.core import errors_pb2, execution_pb2, literals_pb2

from flytecore.sdk.entrypoint import main
from flytecore.sdk.serialize import SerializationSettings
from flytecore.sdk.type_engine import get_type_engine
from flytecore.spec import idl
from flytecore.spec.literals import LiteralMap

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = SerializationSettings(project="p", domain="d", version="v1")
USER, SYSTEM = execution_pb2.ExecutionError.USER, execution_pb2.ExecutionError.SYSTEM
RECOVERABLE, NON_RECOVERABLE = errors_pb2.ContainerError.RECOVERABLE, errors_pb2.ContainerError.NON_RECOVERABLE


def container_args(template: Any, **values: str) -> list[str]:
    """A task template's container args with Flyte's template variables filled in, without the
    program name (what ``main`` takes)."""
    names = {"input": "{{.input}}", "output": "{{.outputPrefix}}", "raw": "{{.rawOutputDataPrefix}}",
             "checkpoint": "{{.checkpointOutputPrefix}}", "prev": "{{.prevCheckpointPrefix}}"}
    args = list(template.container.args)
    assert args[0] == "flytecore-execute"
    for key, value in values.items():
        args = [value if a == names[key] else a for a in args]
    return args[1:]


@attrs.define
class Attempt:
    """One run of the entrypoint and where it wrote."""

    code: int
    output_prefix: str
    raw_prefix: str

    def files(self) -> list[str]:
        return sorted(os.listdir(self.output_prefix)) if os.path.isdir(self.output_prefix) else []

    def read(self, name: str) -> bytes:
        return Path(self.output_prefix, name).read_bytes()

    def outputs(self) -> literals_pb2.LiteralMap:
        assert self.files() == ["outputs.pb"], self.files()
        return literals_pb2.LiteralMap.FromString(self.read("outputs.pb"))

    def python_outputs(self, entity: Any) -> dict[str, Any]:
        literal_map = idl.from_idl(self.outputs(), LiteralMap)
        return get_type_engine().python_from_literal_map(literal_map, entity.python_interface.outputs, kind="output")

    def error(self) -> errors_pb2.ContainerError:
        assert self.files() == ["error.pb"], self.files()
        return errors_pb2.ErrorDocument.FromString(self.read("error.pb")).error


def write_inputs(path: Path, entity: Any, **values: Any) -> str:
    literal_map = get_type_engine().literal_map_from_python(values, entity.python_interface.input_types)
    path.write_bytes(idl.literal_map_to_bytes(literal_map))
    return str(path)


def run_task(
    tmp_path: Path, entity: Any, inputs: str | None = None, *, environ: dict[str, str] | None = None,
    settings: SerializationSettings = SETTINGS, label: str = "run", **values: Any,
) -> Attempt:
    """Run ``entity``'s serialized container args in-process (files under ``tmp_path/label``)."""
    folder = tmp_path / label
    folder.mkdir()
    inputs = inputs or write_inputs(folder / "inputs.pb", entity, **values)
    output, raw = str(folder / "out"), str(folder / "raw")
    args = container_args(entity.to_template(settings), input=inputs, output=output, raw=raw,
                          checkpoint=str(folder / "cp"), prev="")
    return Attempt(main(args, environ=environ if environ is not None else {}), output, raw)


FLYTE_ENV = {
    "FLYTE_INTERNAL_EXECUTION_PROJECT": "flytesnacks",
    "FLYTE_INTERNAL_EXECUTION_DOMAIN": "development",
    "FLYTE_INTERNAL_EXECUTION_ID": "f3a1b2c",
    "FLYTE_INTERNAL_TASK_PROJECT": "tp",
    "FLYTE_INTERNAL_TASK_DOMAIN": "td",
    "FLYTE_INTERNAL_TASK_NAME": "tests.sdk.entrypoint_tasks.context_info",
    "FLYTE_INTERNAL_TASK_VERSION": "v7",
}
