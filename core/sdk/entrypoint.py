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
3. Read ``inputs.pb`` (a flyteidl ``LiteralMap``) through fsspec (in a warm worker, a small one
   may come with the job instead: :mod:`flytecore.sdk._handoff`).
4. Set up ``current_context()`` from the environment Flyte gives a task (execution and task ids,
   see :func:`execution_parameters`), the raw output prefix and the checkpoint paths.
5. Convert the inputs with the type engine and run the body.
6. Write exactly one document into the output prefix: ``outputs.pb`` (a ``LiteralMap``);
   ``futures.pb`` (a ``DynamicJobSpec``) when a ``@dynamic`` body called tasks; or ``error.pb``
   (an ``ErrorDocument``): origin USER for the body's exceptions (kind RECOVERABLE for a
   :class:`~flytecore.errors.FlyteRecoverableException`, else NON_RECOVERABLE), origin SYSTEM
   when the entrypoint itself failed (code archive, task not found, inputs unreadable or not
   fitting the interface, storage errors). In a warm worker, a small ``outputs.pb`` may go back
   with the job's result instead of into storage (:mod:`flytecore.sdk._handoff`).

Exit codes: 0 when a document was written (also ``error.pb``: Flyte reads the failure from it);
1 when not even ``error.pb`` could be written, or when ``FLYTE_FAIL_ON_ERROR`` is true and
``error.pb`` was written; 2 for a wrong command line. :func:`main` never exits the process, so a
warm worker calls it once per task.

Batch mode, ``--array-elements MANIFEST``: the local backend runs a chunk of a map task's elements
as one job of a warm worker, so that a trivial element costs tens of microseconds rather than a
job, a re-parse of the code, the task and the inputs, and a folder and three files of its own.
``--inputs`` is then the array node's ``inputs.pb`` (its mapped inputs are lists) and
``--output-prefix`` the batch's folder (nothing is written there). The manifest (JSON, a path or
fsspec URL)::

    {"bound": ["b"], "journal": ".../n1/0/batch-1.journal",
     "elements": [{"index": 3, "output_prefix": ".../n1-0-3/0", "raw_output_data_prefix": ...,
                   "checkpoint_path": ..., "prev_checkpoint": null,
                   "stdout": ".../n1-0-3/0/stdout.log", "stderr": ".../n1-0-3/0/stderr.log",
                   "env": {"FLYTE_INTERNAL_NODE_ID": "n1-0-3", "FLYTE_ATTEMPT_NUMBER": "0"}}]}

or, as the local backend writes it, each element as ``[index, attempt]`` and its fields as
``pattern``: templates of :meth:`str.format` with ``{index}``, ``{attempt}`` and ``{previous}``
(the attempt before; ``prev_checkpoint`` is null for attempt 0)::

    {"bound": ["b"], "journal": ".../n1/0/batch-1.journal", "elements": [[3, 0], [4, 1]],
     "pattern": {"output_prefix": ".../n1-0-{index}/{attempt}", ...,
                 "prev_checkpoint": ".../n1-0-{index}/{previous}/_flytecheckpoints",
                 "env": {"FLYTE_INTERNAL_NODE_ID": "n1-0-{index}", "FLYTE_ATTEMPT_NUMBER": "{attempt}"}}}

Steps 1-3 happen once per call; then each element, in the manifest's order, runs steps 4-6 as
its own attempt would: item ``index`` of every input not in ``bound`` (bound inputs are passed
whole), its ``env`` in ``os.environ`` (and ``current_context()``) while it runs, its own output
prefix. Its one document goes to the ``journal`` when there is one (:mod:`flytecore.sdk._journal`:
a started mark, then the document, appended to one file), else into its output prefix. What it
writes to fds 1 and 2, when these are files the call can read back (a worker's job files), is
moved to its ``stdout``/``stderr`` files once it ends: an element that wrote nothing has none. An
index out of a mapped list's range, or a mapped input that is not a list, is that element's
SYSTEM error; a failure of steps 1-3 is every element's. Exit codes: 0 when every element got its
document, 1 otherwise (``FLYTE_FAIL_ON_ERROR`` does not apply); 2 for a wrong command line or a
manifest that cannot be read or has not this shape; :data:`ELEMENTS_UNSUPPORTED` (3) for a
``@dynamic`` task, whose elements must run one attempt each: nothing is written.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import fcntl
import functools
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn

import attrs
import click
from flyteidl.core import errors_pb2, execution_pb2, literals_pb2  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from flytecore.errors import ConversionError, FlyteCoreError, FlyteRecoverableException, TaskExecutionError
from flytecore.sdk import _handoff, _journal, _streams, code_archive
from flytecore.sdk._journal import Journal
from flytecore.sdk.checkpoint import Checkpoint
from flytecore.sdk.context import ExecutionParameters, new_local_execution_id
from flytecore.sdk.data import FileAccess, read_bytes, using_file_access, write_bytes
from flytecore.sdk.dynamic import DynamicWorkflowTask
from flytecore.sdk.resolver import DEFAULT_RESOLVER, load_resolver
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec.dynamic import DynamicJobSpec
from flytecore.spec.identifiers import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytecore.spec.idl import from_idl, to_idl
from flytecore.spec.literals import Literal, LiteralMap

__all__ = [
    "ELEMENTS_UNSUPPORTED", "ERROR_FILE", "FUTURES_FILE", "OUTPUTS_FILE", "EntrypointOptions", "execute", "main", "run",
]

OUTPUTS_FILE = "outputs.pb"
FUTURES_FILE = "futures.pb"
ERROR_FILE = "error.pb"
ELEMENTS_UNSUPPORTED = 3
"""The exit code of ``--array-elements`` for a task whose elements cannot run as a batch (a
``@dynamic``): nothing was written, each element has to run as its own attempt."""

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
    array_elements: str | None = None


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
@click.option("--array-elements", metavar="MANIFEST",
              help="Run the map elements this JSON manifest lists, one after another (batch mode).")
@click.argument("resolver_args", nargs=-1, type=click.UNPROCESSED)
def _command(**values: Any) -> EntrypointOptions:
    """Run one attempt of a flytecore Python task."""
    return _options(values)


def _options(values: dict[str, Any]) -> EntrypointOptions:
    for name in ("raw_output_data_prefix", "checkpoint_path", "prev_checkpoint"):
        if values[name] in _UNSET:
            values[name] = None
    values["resolver_args"] = tuple(values["resolver_args"])
    return EntrypointOptions(**values)


# --name -> (parameter, default) of every option of _command, for _parse_plain.
_OPTIONS = {
    opt: (param.name, param.default if isinstance(param.default, str) else None)  # click's unset: None
    for param in _command.params
    if isinstance(param, click.Option)
    for opt in param.opts
    if opt.startswith("--")
}


def _parse_plain(argv: Sequence[str]) -> EntrypointOptions | None:
    """The command line the propeller writes (``--option value`` pairs, ``--``, the resolver's
    arguments) parsed as click would, without click's per-call set-up (~90 µs, a sixth of a warm
    worker's task); None for anything else (help, ``--opt=value``, an unknown, repeated or
    missing option, a value that looks like an option), which click then parses."""
    try:
        end = list(argv).index("--")
    except ValueError:
        return None
    if end % 2:
        return None
    values: dict[str, Any] = {name: default for name, default in _OPTIONS.values()}
    seen = set()
    for i in range(0, end, 2):
        opt, value = argv[i], argv[i + 1]
        known = _OPTIONS.get(opt)
        if known is None or known[0] in seen or value.startswith("-"):
            return None
        seen.add(known[0])
        values[known[0]] = value
    if values["inputs"] is None or values["output_prefix"] is None:
        return None
    values["resolver_args"] = argv[end + 1 :]
    return _options(values)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Run one task attempt (or, with ``--array-elements``, a batch of map elements) for the
    command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code (see the module
    docstring); never exits the process.

    :param environ: the environment Flyte's variables are read from (default: ``os.environ``);
        a warm worker passes each task's own.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    plain = _parse_plain(args)
    if plain is not None:
        return execute(plain, environ)
    try:
        parsed = _command.main(args=args, prog_name="flytecore-execute", standalone_mode=False)
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
    """Run one task attempt and write its document into ``options.output_prefix`` (with
    ``options.array_elements``: the map elements the manifest lists, each into its own output
    prefix); returns the exit code (see the module docstring)."""
    env = _flyte_variables() if environ is None else environ
    if options.array_elements is not None:
        return _execute_elements(options, env)
    written, failed = _run_attempt(options, env, lambda: _load(options))
    if not written:
        return 1
    if failed and _env(env, "FLYTE_FAIL_ON_ERROR").lower() in ("1", "true", "yes"):
        return 1
    return 0


_Inputs = literals_pb2.LiteralMap | dict[str, Literal]
"""An attempt's inputs: the ``inputs.pb`` message as read, or (a batch's element) spec literals."""

_Loader = Callable[[], tuple[Any, _Inputs]]
"""Gives an attempt its task and its inputs (or raises why it cannot)."""


def _run_attempt(
    options: EntrypointOptions, env: Mapping[str, str], load: _Loader, publish: Callable[[str, bytes], None] | None = None
) -> tuple[bool, bool]:
    """Run one attempt with the task and inputs ``load`` gives and write its one document into
    ``options.output_prefix`` (or give it to ``publish(file name, bytes)``: a batch's journal);
    returns ``(a document was written, it is an error document)``."""
    if publish is None:
        def publish(name: str, data: bytes) -> None:
            if not _handoff.take(options.output_prefix, name, data):  # a warm worker's job
                write_bytes(FileAccess.join(options.output_prefix, name), data)

    error_file, worker = _error_file_name(env), _env(env, "FLYTE_INTERNAL_WORKER_NAME", "_F_WN")
    workdir = _scratch.take()
    try:
        try:
            name, data = _attempt(options, env, workdir, load)
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
            publish(name, data)
        except Exception as exc:
            _log.error("cannot write %s into %s: %s", name, options.output_prefix, exc)
            if name == error_file:
                return False, True
            unwritable = _Failure.system("OutputsUnwritable", f"cannot write {name} into {options.output_prefix}: {exc}",
                                         recoverable=True)
            try:
                publish(error_file, unwritable.document(worker))
            except Exception as again:
                _log.error("cannot write %s either: %s", error_file, again)
                return False, True
            name = error_file
        _log.info("wrote %s", FileAccess.join(options.output_prefix, name))
        return True, name == error_file
    finally:
        _scratch.give_back(workdir)


# --- batch mode: --array-elements MANIFEST ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Element:
    """One element of a batch, as the manifest gives it."""

    index: int
    output_prefix: str
    raw_output_data_prefix: str | None
    checkpoint_path: str | None
    prev_checkpoint: str | None
    stdout: str | None
    stderr: str | None
    env: dict[str, str]


@attrs.frozen(kw_only=True)
class _Loaded:
    """What a batch loads once: the task and the array node's inputs, or why it could not."""

    task: Any = None
    inputs: _ArrayInputs | None = None
    error: Exception | None = None
    traceback: TracebackType | None = None


class _BadManifest(Exception):
    """The manifest cannot be read or does not have its shape: no element can be told."""


def _execute_elements(options: EntrypointOptions, env: Mapping[str, str]) -> int:
    """Run the elements ``options.array_elements`` lists, one after another, each as its own
    attempt would (see the module docstring); returns the exit code of the batch."""
    assert options.array_elements is not None
    try:
        manifest = _read_manifest(options.array_elements)
    except _BadManifest as exc:
        print(f"flytecore-execute: {exc}", file=sys.stderr, flush=True)
        return 2
    # Once for the whole batch: the code archive, the task and the array node's inputs.
    try:
        _activate_code(options.code_uri)
        task = _load_task(options)
        loaded = _Loaded(task=task, inputs=_read_array_inputs(options.inputs))
    except Exception as exc:
        # Every element reports it, as its own attempt would have.
        loaded = _Loaded(error=exc, traceback=exc.__traceback__)
    else:
        if isinstance(task, DynamicWorkflowTask):
            print(f"flytecore-execute: task {task.name!r} is a @dynamic: its elements cannot run as a batch "
                  f"(--array-elements {options.array_elements}), run each as its own attempt",
                  file=sys.stderr, flush=True)
            return ELEMENTS_UNSUPPORTED
    # The call's environment, read once: an element's own variables go on top of it.
    base = dict(env)
    journal = Journal(manifest.journal) if manifest.journal else None
    capture = _Capture()
    code = 0
    try:
        for element in manifest.elements:
            if not _run_element(options, base, manifest.bound, element, loaded, journal, capture):
                code = 1
    finally:
        if journal is not None:
            journal.close()
    return code


class _Capture:
    """An element's output, moved to its own log files. The batch's fds 1 and 2 point at the
    job's files all along; what an element wrote there (found by their sizes before and after
    it) is moved into the element's ``stdout``/``stderr`` files, which exist only for elements
    that wrote something. When fds 1 and 2 are not regular files (a terminal), output stays
    where it goes."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        try:
            out, err = os.fstat(1), os.fstat(2)
        except OSError:
            return
        if _movable(1, out):
            self.fds.append(1)
        if _movable(2, err) and not os.path.samestat(out, err):
            self.fds.append(2)

    def offsets(self) -> tuple[int, int]:
        _streams.flush(sys.stdout, sys.stderr)
        sizes = {fd: os.fstat(fd).st_size for fd in self.fds}
        return sizes.get(1, 0), sizes.get(2, 0)

    def move(self, offsets: tuple[int, int], element: _Element) -> None:
        """Move what was written after ``offsets`` to the element's files."""
        _streams.flush(sys.stdout, sys.stderr)
        for fd in self.fds:
            start = offsets[fd - 1]
            size = os.fstat(fd).st_size
            path = element.stdout if fd == 1 or len(self.fds) == 1 else element.stderr
            if size <= start or path is None:
                continue
            try:
                data = os.pread(fd, size - start, start)
                target = _streams.open_log(path, append=True)
                try:
                    os.write(target, data)
                finally:
                    os.close(target)
                os.ftruncate(fd, start)
                os.lseek(fd, start, os.SEEK_SET)  # a file not opened to append writes at its offset
            except OSError as exc:  # the output stays in the batch's file, which says why
                os.write(2, f"flytecore-execute: cannot move element {element.index}'s output to {path}: {exc}\n".encode())


def _movable(fd: int, status: os.stat_result) -> bool:
    """``fd`` is a regular file this process can read back and truncate."""
    return stat.S_ISREG(status.st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR


def _run_element(
    options: EntrypointOptions, env: dict[str, str], bound: frozenset[str], element: _Element, loaded: _Loaded,
    journal: Journal | None, capture: _Capture,
) -> bool:
    """Run one element with its own environment (``env``, the call's, with the element's on top;
    also in ``os.environ`` while it runs) and output prefix, its output moved to its own log
    files; returns whether its document was written."""

    def load() -> tuple[Any, dict[str, Literal]]:
        if loaded.error is not None:
            raise loaded.error.with_traceback(loaded.traceback)  # frames do not pile up per element
        assert loaded.inputs is not None
        return loaded.task, loaded.inputs.element(bound, element.index)

    element_options = attrs.evolve(
        options, output_prefix=element.output_prefix, raw_output_data_prefix=element.raw_output_data_prefix,
        checkpoint_path=element.checkpoint_path, prev_checkpoint=element.prev_checkpoint, array_elements=None,
    )
    publish = None
    if journal is not None:
        def publish(name: str, data: bytes) -> None:
            journal.record(_journal.ERROR if name != OUTPUTS_FILE else _journal.OUTPUTS, element.index, data)

    saved_env = _streams.environ_data().copy()
    saved_cwd = os.getcwd()
    saved_out, saved_err = sys.stdout, sys.stderr
    offsets = capture.offsets()
    if journal is not None:
        journal.started(element.index, *offsets)
    try:
        os.environ.update(element.env)
        written, _ = _run_attempt(element_options, {**env, **element.env}, load, publish)
        return written
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        capture.move(offsets, element)
        if os.getcwd() != saved_cwd:
            os.chdir(saved_cwd)
        _streams.restore_environ(saved_env)


class _ArrayInputs:
    """The array node's inputs as a batch reads them: parsed once by flyteidl (a warm worker keeps
    them for the next batch of the same map), each element's items converted when it runs (a
    batch of 100 elements of a 100,000-element map converts 100 items, not the lists)."""

    def __init__(self, message: Any, uri: str) -> None:
        self._message, self._uri = message, uri
        self._whole: dict[str, Literal] = {}

    def element(self, bound: frozenset[str], index: int) -> dict[str, Literal]:
        """Element ``index``'s inputs: the bound inputs whole, item ``index`` of every other one."""
        selected: dict[str, Literal] = {}
        for name, literal in self._message.literals.items():
            if name in bound:
                if name not in self._whole:
                    self._whole[name] = _from_idl(literal, self._uri)
                selected[name] = self._whole[name]
                continue
            if not literal.HasField("collection"):
                raise _Failure.system(
                    "InputsMismatch", f"{self._uri}: input {name!r} is mapped over but is not a list (element {index})")
            items = literal.collection.literals
            if not 0 <= index < len(items):
                raise _Failure.system(
                    "InputsMismatch",
                    f"{self._uri}: input {name!r} has {len(items)} items: element index {index} is out of range")
            selected[name] = _from_idl(items[index], self._uri)
        return selected


def _from_idl(message: Any, uri: str) -> Literal:
    try:
        return from_idl(message, Literal)
    except ConversionError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: {exc}") from exc


_kept_inputs: tuple[tuple[str, int, int], _ArrayInputs] | None = None
"""The last array inputs a batch read from a local file, by (path, size, modification time)."""


def _read_array_inputs(uri: str) -> _ArrayInputs:
    global _kept_inputs
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    key = None
    if not FileAccess.is_remote(uri):
        try:
            found = os.stat(path)
            key = (path, found.st_size, found.st_mtime_ns)
        except OSError:
            pass  # read_bytes says what is wrong
        if key is not None and _kept_inputs is not None and _kept_inputs[0] == key:
            return _kept_inputs[1]
    data = _read_input_bytes(uri)
    try:
        message = literals_pb2.LiteralMap.FromString(data)
    except DecodeError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: not a serialized flyteidl.core.LiteralMap: {exc}") from exc
    inputs = _ArrayInputs(message, uri)
    if key is not None:
        _kept_inputs = (key, inputs)
    return inputs


@attrs.frozen
class _Manifest:
    bound: frozenset[str]
    elements: list[_Element]
    journal: str | None


def _read_manifest(uri: str) -> _Manifest:
    """The manifest: bound input names, elements, journal; :class:`_BadManifest` names ``uri``."""
    where = f"--array-elements {uri}"
    try:
        data = _handoff.given(uri) or read_bytes(uri)  # a warm worker's job: handed over with it
    except FileNotFoundError as exc:
        raise _BadManifest(f"{where}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise _BadManifest(f"{where}: cannot be read: {exc}") from exc
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise _BadManifest(f"{where}: not JSON: {exc}") from exc
    try:
        return _parse_manifest(document)
    except ValueError as exc:
        raise _BadManifest(f"{where}: {exc}") from exc


def _parse_manifest(document: Any) -> _Manifest:
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object with 'elements', got {type(document).__name__}")
    bound = document.get("bound", [])
    if not isinstance(bound, list) or not all(isinstance(name, str) for name in bound):
        raise ValueError("'bound' must be a list of input names")
    elements = document.get("elements")
    if not isinstance(elements, list):
        raise ValueError("'elements' must be a list")
    journal = document.get("journal")
    if journal is not None and (not isinstance(journal, str) or not journal):
        raise ValueError(f"'journal' must be a path, got {journal!r}")
    pattern = document.get("pattern")
    if pattern is not None:
        return _Manifest(frozenset(bound), _elements_by_pattern(pattern, elements), journal)
    return _Manifest(frozenset(bound), [_parse_element(i, element) for i, element in enumerate(elements)], journal)


_ELEMENT_PATHS = ("output_prefix", "raw_output_data_prefix", "checkpoint_path", "prev_checkpoint", "stdout", "stderr")


def _elements_by_pattern(pattern: Any, elements: list[Any]) -> list[_Element]:
    """The elements ``[index, attempt]`` with their fields from ``pattern`` (see the module
    docstring); a pattern that does not format is refused once, naming the field."""
    if not isinstance(pattern, dict):
        raise ValueError("'pattern' must be an object")
    env = _string_map("pattern", pattern, "templates")
    templates = _optional_strings("pattern", pattern, _ELEMENT_PATHS, "a template")
    if not templates["output_prefix"]:
        raise ValueError("pattern.output_prefix must be a template")
    for name, template in [*templates.items(), *(("env." + k, v) for k, v in env.items())]:
        try:
            None if template is None else template.format(index=0, attempt=1, previous=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"pattern.{name} {template!r} is not a template of index, attempt, previous: {exc!r}") from None
    found = []
    for position, element in enumerate(elements):
        if (
            not isinstance(element, list) or len(element) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in element)
        ):  # fmt: skip
            raise ValueError(f"elements[{position}] must be [index, attempt], got {element!r}")
        index, attempt = element
        fields = {"index": index, "attempt": attempt, "previous": attempt - 1}
        paths = {name: None if t is None else t.format_map(fields) for name, t in templates.items()}
        if not attempt:
            paths["prev_checkpoint"] = None
        found.append(_Element(index=index, env={k: v.format_map(fields) for k, v in env.items()}, **paths))  # type: ignore[arg-type]
    return found


def _parse_element(position: int, element: Any) -> _Element:
    where = f"elements[{position}]"
    if not isinstance(element, dict):
        raise ValueError(f"{where} must be an object")
    index = element.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError(f"{where}.index must be an integer, got {index!r}")
    output_prefix = element.get("output_prefix")
    if not isinstance(output_prefix, str) or not output_prefix:
        raise ValueError(f"{where}.output_prefix must be a path, got {output_prefix!r}")
    paths = _optional_strings(where, element, _ELEMENT_PATHS[1:], "a path")
    env = _string_map(where, element, "strings")
    return _Element(index=index, output_prefix=output_prefix, env=env, **paths)


def _optional_strings(where: str, source: dict[str, Any], names: tuple[str, ...], what: str) -> dict[str, str | None]:
    """``names`` of ``source``: strings, or None for a missing, null or unset one (``_UNSET``)."""
    found: dict[str, str | None] = {}
    for name in names:
        value = source.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}.{name} must be {what} or null, got {value!r}")
        found[name] = None if value in _UNSET else value
    return found


def _string_map(where: str, source: dict[str, Any], what: str) -> dict[str, str]:
    """``source``'s ``env``: names to strings (empty if missing)."""
    env = source.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError(f"{where}.env must map names to {what}")
    return env



class _Scratch:
    """The attempt's scratch folder (``current_context().working_directory`` and the local
    sandbox of its files live under it). A warm worker runs one attempt after another: it keeps
    one empty folder and empties it after each attempt, rather than creating and removing a
    temporary folder per task (a few file system calls less per task). An attempt that starts
    while another runs in this process (threads) gets a fresh folder of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._work = ""  # its work folder

    def take(self) -> str:
        """A scratch folder holding an empty ``work`` folder (the task's working directory)."""
        if self._lock.acquire(blocking=False):
            # One check per attempt: a long-idle worker's folder may have been cleaned away.
            if self._path is None or not os.path.isdir(self._work):
                self._path = self._new()
                self._work = os.path.join(self._path, "work")
                atexit.register(shutil.rmtree, self._path, ignore_errors=True)  # the worker's end
            return self._path
        return self._new()

    @staticmethod
    def _new() -> str:
        path = tempfile.mkdtemp(prefix="flytecore-execute-")
        os.mkdir(os.path.join(path, "work"))
        return path

    def give_back(self, path: str) -> None:
        if path != self._path:
            shutil.rmtree(path, ignore_errors=True)
            return
        try:
            if not _left_empty(path):
                _empty(path, keep_folders=True)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            self._path = None
        finally:
            self._lock.release()


_SCRATCH_FOLDERS = ("work", "sandbox")


def _left_empty(path: str) -> bool:
    """The scratch folder holds only its own folders (not links), all empty: most attempts leave
    nothing behind, and a listing or two tells without walking anything."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name not in _SCRATCH_FOLDERS or not entry.is_dir(follow_symlinks=False) or os.listdir(entry.path):
                return False
    return True


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


def _load(options: EntrypointOptions) -> tuple[Any, _Inputs]:
    """Steps 1-3 of the module docstring: the task and its inputs."""
    _activate_code(options.code_uri)
    task = _load_task(options)
    return task, _read_inputs(options.inputs)


def _attempt(options: EntrypointOptions, env: Mapping[str, str], workdir: str, load: _Loader) -> tuple[str, bytes]:
    """Steps 1-5 of the module docstring (1-3 are ``load``'s); returns the document's file name
    and bytes."""
    task, inputs = load()
    _handoff.running()  # a short attempt is counted from its task's start (see _handoff.SHORT)
    raw_prefix = options.raw_output_data_prefix or FileAccess.join(options.output_prefix, "raw")
    file_access = FileAccess(raw_prefix, local_sandbox=os.path.join(workdir, "sandbox"))
    params = execution_parameters(env, task, file_access, options, workdir)
    _log.info("running task %s (execution %s)", task.name, params.execution_id.name)
    with using_file_access(file_access):
        kwargs = _python_inputs(task, inputs, options.inputs)
        try:
            if isinstance(task, DynamicWorkflowTask):
                produced = task.compile_into_job(kwargs, _settings(env, options), params)
                if not isinstance(produced, DynamicJobSpec):  # the body called nothing: its outputs
                    produced = to_idl(LiteralMap(literals=produced))
            else:
                produced = _outputs_message(task, task.run_body(kwargs, params))
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
    return OUTPUTS_FILE, produced.SerializeToString(deterministic=True)


def _python_inputs(task: Any, inputs: _Inputs, uri: str) -> dict[str, Any]:
    """The body's arguments: plain primitives straight from the message when the task can
    (``inputs_from_idl``), anything else through spec literals and the type engine."""
    if isinstance(inputs, literals_pb2.LiteralMap):
        fast = getattr(task, "inputs_from_idl", None)  # a plugin's own task class may lack it
        kwargs: dict[str, Any] | None = fast(inputs) if fast is not None else None
        if kwargs is not None:
            return kwargs
        try:
            inputs = from_idl(inputs, LiteralMap).literals
        except ConversionError as exc:
            raise _Failure.system("InputsUnreadable", f"--inputs {uri}: {exc}") from exc
    try:
        values: dict[str, Any] = task.inputs_to_python(inputs)
    except FlyteCoreError as exc:
        raise _Failure.system("InputsMismatch", f"{uri} does not fit task {task.name!r}: {exc}") from exc
    return values


def _outputs_message(task: Any, result: Any) -> literals_pb2.LiteralMap:
    """The body's ``result`` as the ``outputs.pb`` message (``outputs_to_idl``; through spec
    literals for a task class without it). A value that cannot be written (an integer beyond 64
    bits, a string that is not valid Unicode) raises here, inside the attempt: the task's error."""
    to_message = getattr(task, "outputs_to_idl", None)
    if to_message is not None:
        return to_message(result)
    message: literals_pb2.LiteralMap = to_idl(LiteralMap(literals=task.outputs_to_literals(result)))
    return message


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


_loaded: dict[tuple[str, ...], tuple[Any, str, list[str]]] = {}
"""Tasks the default resolver loaded in this process, by resolver arguments: (task, its module's
name, its attribute path). A warm worker runs the same few tasks again and again; a kept task is
used only while the module in ``sys.modules`` still holds it at that path (another code archive,
a reload or a rebound name loads it again), and tasks whose module left ``sys.modules`` are
dropped (not kept alive with all their module loaded) at the next load."""


def _kept_task(args: tuple[str, ...]) -> Any:
    known = _loaded.get(args)
    if known is None:
        return None
    task, module_name, path = known
    found: Any = sys.modules.get(module_name)
    for part in path:
        found = getattr(found, part, None)
    return task if found is task else None


def _keep_task(args: tuple[str, ...], task: Any) -> None:
    named = dict(zip(args[::2], args[1::2], strict=False))
    module_name, attribute = named.get("task-module"), named.get("task-name")
    if not module_name or not attribute:
        return
    for key in [key for key, (_, name, _) in _loaded.items() if name not in sys.modules]:
        del _loaded[key]
    if len(_loaded) >= 256:
        _loaded.clear()
    _loaded[args] = (task, module_name, attribute.split("."))


def _load_task(options: EntrypointOptions) -> Any:
    default = options.resolver == DEFAULT_RESOLVER  # other resolvers may answer differently each time
    if default:
        kept = _kept_task(options.resolver_args)
        if kept is not None:
            return kept
    try:
        task = load_resolver(options.resolver).load_task(options.resolver_args)
    except FlyteCoreError as exc:
        raise _Failure.system("TaskNotFound", f"cannot load the task: {exc}") from exc
    except Exception as exc:
        # A plugin's resolver may raise anything (a KeyError for an unknown name, ...).
        where = f"--resolver {options.resolver} -- {' '.join(options.resolver_args)}"
        raise _Failure.system("TaskNotFound", f"cannot load the task ({where}): {type(exc).__name__}: {exc}") from exc
    if default:
        _keep_task(options.resolver_args, task)
    return task


def _read_inputs(uri: str) -> literals_pb2.LiteralMap:
    """The ``inputs.pb`` message; converted to Python by :func:`_python_inputs`."""
    data = _read_input_bytes(uri)
    try:
        message: literals_pb2.LiteralMap = literals_pb2.LiteralMap.FromString(data)
    except DecodeError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: not a serialized flyteidl.core.LiteralMap: {exc}") from exc
    return message


def _read_input_bytes(uri: str) -> bytes:
    data = _handoff.given(uri)  # a warm worker's job: handed over with it
    if data is not None:
        return data
    try:
        return read_bytes(uri)
    except FileNotFoundError as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise _Failure.system("InputsUnreadable", f"--inputs {uri}: cannot be read: {exc}", recoverable=True) from exc


_READ = ("FLYTE", "_F_")
"""What the entrypoint reads of the environment: Flyte's variables (``FLYTE_*``, the short
``_F_*`` forms) and flytecore's (``FLYTECORE_*``)."""


def _flyte_variables() -> dict[str, str]:
    """The variables of os.environ the entrypoint reads (:data:`_READ`), decoded once (a warm
    worker's job: from the environment the worker handed over with it, already decoded)."""
    handed = _handoff.environ()
    if handed is not None:
        return {k: v for k, v in handed.items() if k.startswith(_READ)}
    return _streams.environ_variables(_READ)


def _env(env: Mapping[str, str], *names: str) -> str:
    """The first of ``names`` set in ``env`` (Flyte sets long names, or short ones like ``_F_PRJ``)."""
    for name in names:  # a loop, not a generator: an attempt asks a dozen times
        value = env.get(name)
        if value is not None:
            return value
    return ""


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
    execution_id, task_id = _identifiers(
        _env(env, "FLYTE_INTERNAL_EXECUTION_PROJECT", "_F_PRJ"),
        _env(env, "FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM"),
        _env(env, "FLYTE_INTERNAL_EXECUTION_ID", "_F_NM"),
        _env(env, "FLYTE_INTERNAL_TASK_PROJECT", "_F_TK_PRJ"),
        _env(env, "FLYTE_INTERNAL_TASK_DOMAIN", "_F_TK_DM"),
        _env(env, "FLYTE_INTERNAL_TASK_NAME", "_F_TK_NM") or task.name,
        _env(env, "FLYTE_INTERNAL_TASK_VERSION", "_F_TK_V"),
    )
    if not execution_id.name:
        execution_id = new_local_execution_id()
    checkpoint = (
        Checkpoint(options.checkpoint_path, options.prev_checkpoint, file_access) if options.checkpoint_path else None
    )
    working_directory = os.path.join(workdir, "work")  # made by _Scratch.take, kept emptied
    return ExecutionParameters(
        execution_id=execution_id,
        execution_date=_dt.datetime.now(_dt.UTC),
        working_directory=working_directory,
        raw_output_prefix=file_access.raw_output_prefix,
        task_id=task_id,
        checkpoint=checkpoint,
        output_prefix=options.output_prefix,
    )


@functools.lru_cache(maxsize=64)
def _identifiers(
    project: str, domain: str, name: str, task_project: str, task_domain: str, task_name: str, task_version: str
) -> tuple[WorkflowExecutionIdentifier, Identifier]:
    """The execution's and the task's ids (the same for the elements of a batch, and for the
    attempts of a task one warm worker runs: built once)."""
    return (
        WorkflowExecutionIdentifier(project=project, domain=domain, name=name),
        Identifier(resource_type=ResourceType.TASK, project=task_project, domain=task_domain, name=task_name,
                   version=task_version),
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
