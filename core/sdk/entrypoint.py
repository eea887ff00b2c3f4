"""The task entrypoint: what a worker process or a pod runs for one attempt of a Python task
(flytekit's ``pyflyte-execute``). Serialized tasks carry its command line as container args::

    flytecore-execute [--code-uri URI] --inputs {{.input}} --output-prefix {{.outputPrefix}}
        --raw-output-data-prefix {{.rawOutputDataPrefix}} --checkpoint-path {{.checkpointOutputPrefix}}
        --prev-checkpoint {{.prevCheckpointPrefix}} --resolver flytecore.sdk.resolver.default
        -- task-module M task-name N

One attempt, step by step (:func:`execute`):

1. ``--code-uri``: download and extract the code archive, put it first on ``sys.path``
   (:mod:`flytecore.sdk.code_archive`); the working directory is appended to ``sys.path``.
2. Load the task through the resolver (:mod:`flytecore.sdk.resolver`).
3. Read ``inputs.pb`` (a flyteidl ``LiteralMap``) through fsspec.
4. Set up ``current_context()`` from the environment Flyte gives a task (execution and task ids,
   see :func:`execution_parameters`), the raw output prefix and the checkpoint paths.
5. Convert the inputs with the type engine and run the body.
6. Write exactly one document into the output prefix: ``outputs.pb`` (a ``LiteralMap``);
   ``futures.pb`` (a ``DynamicJobSpec``) when a ``@dynamic`` body called tasks; or ``error.pb``
   (an ``ErrorDocument``): origin USER for the body's exceptions (kind RECOVERABLE for a
   :class:`~flytecore.errors.FlyteRecoverableException`, else NON_RECOVERABLE), origin SYSTEM
   when the entrypoint itself failed (code archive, task not found, inputs unreadable or not
   fitting the interface, storage errors).

Exit codes: 0 when a document was written (also ``error.pb``: Flyte reads the failure from it);
1 when not even ``error.pb`` could be written, or when ``FLYTE_FAIL_ON_ERROR`` is true and
``error.pb`` was written; 2 for a wrong command line. :func:`main` never exits the process, so a
warm worker calls it once per task.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import logging
import os
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import attrs
import click
from flyteidl.core import errors_pb2, execution_pb2  # type: ignore[import-untyped]
from google.protobuf.timestamp_pb2 import Timestamp

from flytecore.errors import ConversionError, FlyteCoreError, FlyteRecoverableException, TaskExecutionError
from flytecore.sdk import code_archive
from flytecore.sdk.checkpoint import Checkpoint
from flytecore.sdk.context import ExecutionParameters, new_local_execution_id
from flytecore.sdk.data import FileAccess, read_bytes, using_file_access, write_bytes
from flytecore.sdk.dynamic import DynamicWorkflowTask
from flytecore.sdk.resolver import DEFAULT_RESOLVER, load_resolver
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec.dynamic import DynamicJobSpec
from flytecore.spec.identifiers import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytecore.spec.idl import literal_map_from_bytes, literal_map_to_bytes, to_idl
from flytecore.spec.literals import LiteralMap

__all__ = ["ERROR_FILE", "FUTURES_FILE", "OUTPUTS_FILE", "EntrypointOptions", "execute", "main", "run"]

OUTPUTS_FILE = "outputs.pb"
FUTURES_FILE = "futures.pb"
ERROR_FILE = "error.pb"

_log = logging.getLogger("flytecore.entrypoint")
_on_path: set[str] = set()  # working directories known to be importable (see _activate_code)
_USER = execution_pb2.ExecutionError.USER
_SYSTEM = execution_pb2.ExecutionError.SYSTEM
# Flyte's template variables, left as they are when a backend did not substitute them.
_UNSET = {"{{.rawOutputDataPrefix}}", "{{.checkpointOutputPrefix}}", "{{.prevCheckpointPrefix}}", "", '""'}


@attrs.frozen(kw_only=True)
class EntrypointOptions:
    """The command line of one task attempt (see the module docstring)."""

    inputs: str
    output_prefix: str
    raw_output_data_prefix: str | None = None
    checkpoint_path: str | None = None
    prev_checkpoint: str | None = None
    resolver: str = DEFAULT_RESOLVER
    resolver_args: tuple[str, ...] = ()
    code_uri: str | None = None


class _Failure(Exception):
    """The attempt failed; carries what goes into ``error.pb``."""

    def __init__(self, code: str, message: str, *, origin: int, recoverable: bool) -> None:
        super().__init__(message)
        self.code, self.message, self.origin, self.recoverable = code, message, origin, recoverable

    @classmethod
    def system(cls, code: str, message: str, *, recoverable: bool = False) -> _Failure:
        return cls(f"SYSTEM:{code}", message, origin=_SYSTEM, recoverable=recoverable)

    @classmethod
    def user(cls, cause: BaseException, traceback_text: str | None = None) -> _Failure:
        """The body's exception ``cause``; the message has flytekit's form (the user's traceback,
        then the exception) when there is a traceback to show."""
        summary = f"{type(cause).__name__}: {cause}"
        message = summary
        if traceback_text:
            message = f"Trace:\n\n{_indent(traceback_text.rstrip())}\n\nMessage:\n\n{_indent(summary)}"
        return cls(f"USER:{type(cause).__name__}", message, origin=_USER,
                   recoverable=isinstance(cause, FlyteRecoverableException))

    def document(self, worker: str) -> bytes:
        """The flyteidl ``ErrorDocument`` bytes."""
        stamp = Timestamp()
        stamp.GetCurrentTime()
        kind = errors_pb2.ContainerError.RECOVERABLE if self.recoverable else errors_pb2.ContainerError.NON_RECOVERABLE
        error = errors_pb2.ContainerError(
            code=self.code, message=self.message, kind=kind, origin=self.origin, timestamp=stamp, worker=worker
        )
        return bytes(errors_pb2.ErrorDocument(error=error).SerializeToString())


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())


@click.command("flytecore-execute", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--code-uri", help="A .tar.gz of the user's code (fast registration), imported before the task.")
@click.option("--inputs", required=True, help="inputs.pb: a flyteidl LiteralMap (path or fsspec URL).")
@click.option("--output-prefix", required=True, help="Where outputs.pb, futures.pb or error.pb is written.")
@click.option("--raw-output-data-prefix", help="Where files and folders the task returns are uploaded.")
@click.option("--checkpoint-path", help="Where this attempt saves checkpoints.")
@click.option("--prev-checkpoint", help="The previous attempt's checkpoint, if any.")
@click.option("--resolver", default=DEFAULT_RESOLVER, show_default=True, help="Finds the task from the args after --.")
@click.argument("resolver_args", nargs=-1, type=click.UNPROCESSED)
def _command(**values: Any) -> EntrypointOptions:
    """Run one attempt of a flytecore Python task."""
    for name in ("raw_output_data_prefix", "checkpoint_path", "prev_checkpoint"):
        if values[name] in _UNSET:
            values[name] = None
    values["resolver_args"] = tuple(values["resolver_args"])
    return EntrypointOptions(**values)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Run one task attempt for the command line ``argv`` (default: ``sys.argv[1:]``) and return
    the exit code (see the module docstring); never exits the process.

    :param environ: the environment Flyte's variables are read from (default: ``os.environ``);
        a warm worker passes each task's own.
    """
    try:
        parsed = _command.main(args=list(sys.argv[1:] if argv is None else argv),
                               prog_name="flytecore-execute", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        return 1
    if not isinstance(parsed, EntrypointOptions):
        return int(parsed or 0)  # --help
    return execute(parsed, environ)


def run() -> NoReturn:
    """The ``flytecore-execute`` console script."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    sys.exit(main())


def execute(options: EntrypointOptions, environ: Mapping[str, str] | None = None) -> int:
    """Run one task attempt and write its document into ``options.output_prefix``; returns the
    exit code."""
    env = os.environ if environ is None else environ
    error_file, worker = _error_file_name(env), _env(env, "FLYTE_INTERNAL_WORKER_NAME", "_F_WN")
    workdir = _scratch.take()
    try:
        try:
            name, data = _attempt(options, env, workdir)
        except _Failure as failure:
            name, data = error_file, failure.document(worker)
            _log.error("task failed (%s):\n%s", failure.code, failure.message)
        except Exception as exc:
            # A fault of the entrypoint or of a plugin, not of the task's body: flytekit reports
            # these as recoverable system errors too.
            unknown = _Failure.system("Unknown", f"the task entrypoint failed: {type(exc).__name__}: {exc}",
                                      recoverable=True)
            name, data = error_file, unknown.document(worker)
            _log.exception("the task entrypoint failed")
        try:
            write_bytes(FileAccess.join(options.output_prefix, name), data)
        except Exception as exc:
            _log.error("cannot write %s into %s: %s", name, options.output_prefix, exc)
            if name == error_file:
                return 1
            unwritable = _Failure.system("OutputsUnwritable", f"cannot write {name} into {options.output_prefix}: {exc}",
                                         recoverable=True)
            try:
                write_bytes(FileAccess.join(options.output_prefix, error_file), unwritable.document(worker))
            except Exception as again:
                _log.error("cannot write %s either: %s", error_file, again)
                return 1
            name = error_file
        _log.info("wrote %s", FileAccess.join(options.output_prefix, name))
        if name == error_file and _env(env, "FLYTE_FAIL_ON_ERROR").lower() in ("1", "true", "yes"):
            return 1
        return 0
    finally:
        _scratch.give_back(workdir)


class _Scratch:
    """The attempt's scratch folder (``current_context().working_directory`` and the local
    sandbox of its files live under it). A warm worker runs one attempt after another: it keeps
    one empty folder and empties it after each attempt, rather than creating and removing a
    temporary folder per task (a few file system calls less per task). An attempt that starts
    while another runs in this process (threads) gets a fresh folder of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None

    def take(self) -> str:
        if self._lock.acquire(blocking=False):
            if self._path is None or not os.path.isdir(self._path):
                self._path = tempfile.mkdtemp(prefix="flytecore-execute-")
                atexit.register(shutil.rmtree, self._path, ignore_errors=True)  # the worker's end
            return self._path
        return tempfile.mkdtemp(prefix="flytecore-execute-")

    def give_back(self, path: str) -> None:
        if path != self._path:
            shutil.rmtree(path, ignore_errors=True)
            return
        try:
            _empty(path, keep_folders=True)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            self._path = None
        finally:
            self._lock.release()


def _empty(path: str, *, keep_folders: bool) -> None:
    """Remove what is in ``path``; its sub-folders (the sandbox and work folders every attempt
    uses) stay, emptied, when ``keep_folders``."""
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            if keep_folders:
                _empty(entry.path, keep_folders=False)
            else:
                shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


_scratch = _Scratch()


def _attempt(options: EntrypointOptions, env: Mapping[str, str], workdir: str) -> tuple[str, bytes]:
    """Steps 1-5 of the module docstring; returns the document's file name and bytes."""
    _activate_code(options.code_uri)
    task = _load_task(options)
    inputs = _read_inputs(options.inputs)
    raw_prefix = options.raw_output_data_prefix or FileAccess.join(options.output_prefix, "raw")
    file_access = FileAccess(raw_prefix, local_sandbox=os.path.join(workdir, "sandbox"))
    params = execution_parameters(env, task, file_access, options, workdir)
    _log.info("running task %s (execution %s)", task.name, params.execution_id.name)
    with using_file_access(file_access):
        try:
            kwargs = task.inputs_to_python(inputs.literals)
        except FlyteCoreError as exc:
            raise _Failure.system("InputsMismatch", f"{options.inputs} does not fit task {task.name!r}: {exc}") from exc
        try:
            if isinstance(task, DynamicWorkflowTask):
                produced = task.compile_into_job(kwargs, _settings(env, options), params)
            else:
                produced = task.outputs_to_literals(task.run_body(kwargs, params))
        except TaskExecutionError as exc:
            raise _Failure.user(exc.cause, exc.traceback_text) from exc
        except SystemExit as exc:
            # sys.exit() in a body must not end a warm worker, and a task that exits has no outputs.
            raise _Failure.user(exc, "".join(traceback.format_exception(exc))) from exc
        except OSError as exc:
            raise _Failure.system("DataTransferFailed", f"task {task.name!r}: moving data failed: {exc}",
                                  recoverable=True) from exc
        except FlyteCoreError as exc:
            # The body returned something its interface does not allow (or, in a @dynamic,
            # called a task wrongly): the user's to fix.
            raise _Failure.user(exc) from exc
    if isinstance(produced, DynamicJobSpec):
        return FUTURES_FILE, bytes(to_idl(produced).SerializeToString(deterministic=True))
    return OUTPUTS_FILE, literal_map_to_bytes(LiteralMap(literals=produced))


def _activate_code(code_uri: str | None) -> None:
    try:
        code_archive.activate(code_archive.fetch(code_uri) if code_uri else None)
    except code_archive.CodeArchiveError as exc:
        raise _Failure.system("CodeArchive", str(exc), recoverable=exc.recoverable) from exc
    # As flytekit does: code in the working directory is importable (console scripts do not
    # put it on sys.path themselves).
    cwd = os.getcwd()
    if cwd in _on_path and cwd in sys.path:
        return  # checked before (a warm worker runs many tasks from the same folder)
    if all(os.path.realpath(p or cwd) != cwd for p in sys.path):
        sys.path.append(cwd)
    _on_path.add(cwd)


def _load_task(options: EntrypointOptions) -> Any:
    try:
        return load_resolver(options.resolver).load_task(options.resolver_args)
    except FlyteCoreError as exc:
        raise _Failure.system("TaskNotFound", f"cannot load the task: {exc}") from exc
    except Exception as exc:
        # A plugin's resolver may raise anything (a KeyError for an unknown name, ...).
        where = f"--resolver {options.resolver} -- {' '.join(options.resolver_args)}"
        raise _Failure.system("TaskNotFound", f"cannot load the task ({where}): {type(exc).__name__}: {exc}") from exc


def _read_inputs(uri: str) -> LiteralMap:
    try:
        data = read_bytes(uri)
    except FileNotFoundError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: cannot be read: {exc}", recoverable=True) from exc
    try:
        return literal_map_from_bytes(data)
    except ConversionError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: {exc}") from exc


def _env(env: Mapping[str, str], *names: str) -> str:
    """The first of ``names`` set in ``env`` (Flyte sets long names, or short ones like ``_F_PRJ``)."""
    return next((env[n] for n in names if n in env), "")


def _error_file_name(env: Mapping[str, str]) -> str:
    # Distributed tasks (several workers, one output prefix) each write their own error file.
    if _env(env, "FLYTE_INTERNAL_DIST_ERROR_STRATEGY", "_F_DES"):
        import uuid

        return f"error-{uuid.uuid4().hex}.pb"
    return ERROR_FILE


def execution_parameters(
    env: Mapping[str, str], task: Any, file_access: FileAccess, options: EntrypointOptions, workdir: str
) -> ExecutionParameters:
    """What ``current_context()`` returns in a task container, from the variables Flyte sets:
    ``FLYTE_INTERNAL_EXECUTION_PROJECT``/``_DOMAIN``/``_ID`` (the execution) and
    ``FLYTE_INTERNAL_TASK_PROJECT``/``_DOMAIN``/``_NAME``/``_VERSION`` (the task), or their short
    forms (``_F_PRJ``, ``_F_DM``, ``_F_NM``, ``_F_TK_PRJ``, ...). Without them (a task run by hand)
    the execution gets a local id and the task its own name."""
    execution_id = WorkflowExecutionIdentifier(
        project=_env(env, "FLYTE_INTERNAL_EXECUTION_PROJECT", "_F_PRJ"),
        domain=_env(env, "FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM"),
        name=_env(env, "FLYTE_INTERNAL_EXECUTION_ID", "_F_NM"),
    )
    if not execution_id.name:
        execution_id = new_local_execution_id()
    task_id = Identifier(
        resource_type=ResourceType.TASK,
        project=_env(env, "FLYTE_INTERNAL_TASK_PROJECT", "_F_TK_PRJ"),
        domain=_env(env, "FLYTE_INTERNAL_TASK_DOMAIN", "_F_TK_DM"),
        name=_env(env, "FLYTE_INTERNAL_TASK_NAME", "_F_TK_NM") or task.name,
        version=_env(env, "FLYTE_INTERNAL_TASK_VERSION", "_F_TK_V"),
    )
    checkpoint = (
        Checkpoint(options.checkpoint_path, options.prev_checkpoint, file_access) if options.checkpoint_path else None
    )
    working_directory = os.path.join(workdir, "work")
    os.makedirs(working_directory, exist_ok=True)
    return ExecutionParameters(
        execution_id=execution_id,
        execution_date=_dt.datetime.now(_dt.UTC),
        working_directory=working_directory,
        raw_output_prefix=file_access.raw_output_prefix,
        task_id=task_id,
        checkpoint=checkpoint,
        output_prefix=options.output_prefix,
    )


def _settings(env: Mapping[str, str], options: EntrypointOptions) -> SerializationSettings:
    """How a dynamic job identifies the tasks it references: the running task's project, domain
    and version, and the same code archive."""
    values: dict[str, Any] = {
        "project": _env(env, "FLYTE_INTERNAL_TASK_PROJECT", "_F_TK_PRJ") or _env(env, "FLYTE_INTERNAL_EXECUTION_PROJECT", "_F_PRJ"),
        "domain": _env(env, "FLYTE_INTERNAL_TASK_DOMAIN", "_F_TK_DM") or _env(env, "FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM"),
        "version": _env(env, "FLYTE_INTERNAL_TASK_VERSION", "_F_TK_V"),
        "image": _env(env, "FLYTECORE_DEFAULT_IMAGE"),
    }
    return SerializationSettings(**{k: v for k, v in values.items() if v}, code_uri=options.code_uri)
