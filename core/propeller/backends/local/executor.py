"""The local backend's task executor: a task's container command run in the worker pool.

What a Kubernetes pod would run, run here: the template's command line with Flyte's template
variables filled in (:mod:`.template`), the task's environment plus Flyte's ``FLYTE_INTERNAL_*``
variables, stdout and stderr captured to the attempt's folder in storage. A command other than
the pool's in-process ones (flytekit's ``pyflyte-fast-execute``/``pyflyte-execute``, a raw
container's program) runs as a subprocess in a fresh working directory of its own, with the
propeller's interpreter's bin folder first on PATH: the sandbox's environment stands in for the
container image, which is recorded in the template but never pulled. The result is read
the way FlytePropeller reads a pod's: ``outputs.pb`` means success, ``error.pb`` says what went
wrong and whether a retry may help, a worker that died is a system failure (retried on the
system budget), a non-zero exit without ``error.pb`` is a retryable user failure.

flytecore's own entrypoint runs in the workers' processes, so its small documents skip storage
(:mod:`flytecore.sdk._handoff`): the inputs come with the job when the engine did not store them
(``ctx.inputs_stored``), and an ``outputs.pb`` of at most 64 KiB of an attempt that ran at most
0.1 s comes back with the job's result.
The engine keeps both in its workflow store and sends them to the admin inline in events, so a
short task creates no file and no folder of its own.

Jobs live in this process's pool. After a propeller restart the pool is new: an attempt whose
``outputs.pb`` or ``error.pb`` was written before the restart is read as finished; one that was
still running, or whose outputs came back in memory and were not saved yet, is a lost attempt,
retried as a system failure.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flytecore.propeller.backends.local.jobs import Job, JobHandle, JobOutcome, JobResult
from flytecore.propeller.backends.local.pool import WorkerPool
from flytecore.propeller.backends.local.template import render_command
from flytecore.propeller.context import TaskContext, TaskTransition, system_error, user_error
from flytecore.propeller.data import FsspecDataStore, error_from_document
from flytecore.sdk._handoff import OUTPUTS as HANDED_OUTPUTS
from flytecore.sdk._journal import OUTPUTS, ElementRecord, read_journal
from flytecore.sdk.data import is_local
from flytecore.spec.execution import ErrorKind, TaskLog
from flytecore.spec.idl import literal_map_from_bytes, literal_map_to_bytes
from flytecore.spec.phases import TaskExecutionPhase
from flytecore.spec.tasks import TaskTemplate

__all__ = ["ContainerExecutor", "LocalBackend"]

_JOB = "job"
_ENTRYPOINT = "flytecore-execute"
_TAIL_BYTES = 4000


def _command_path(path: str | None) -> str:
    """PATH for a task's command: this interpreter's bin folder first, so the entrypoints of the
    environment the propeller runs in (``pyflyte-fast-execute``, ``pyflyte-execute``, ...) are
    found even when that environment is not activated (a virtualenv's, a tox env's)."""
    return _bin_first(path if path is not None else os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=16)
def _bin_first(path: str) -> str:
    # Kept per PATH: nearly every task gives the same one.
    bin_dir = os.path.dirname(sys.executable)
    rest = [p for p in path.split(os.pathsep) if p and p != bin_dir]
    return os.pathsep.join([bin_dir, *rest])


@functools.lru_cache(maxsize=256)
def _attempt_logs(output_prefix: str, suffix: str = "") -> tuple[TaskLog, ...]:
    """An attempt's ``stdout.log`` and ``stderr.log`` in its output prefix (named ``stdout``,
    ``stderr``, with ``suffix`` for a map element's: ``stdout-2``)."""
    base = output_prefix.rstrip("/")
    return tuple(TaskLog(uri=f"{base}/{name}.log", name=f"{name}{suffix}") for name in ("stdout", "stderr"))


def _local_path(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


class ContainerExecutor:
    """Runs container tasks (flytecore's and flytekit's Python tasks, raw containers) as jobs of
    a :class:`WorkerPool`."""

    def __init__(
        self,
        pool: WorkerPool,
        data: FsspecDataStore,
        log_dir: str | os.PathLike[str],
        work_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """:param log_dir: where logs go when storage is not a local folder.
        :param work_dir: under it, each attempt of a command that runs as a subprocess gets a
            fresh working directory of its own (what a pod's container would have; flytekit's
            ``pyflyte-fast-execute --dest-dir .`` unpacks the code there), removed when the
            attempt ends. Default: ``work`` beside ``log_dir``."""
        self.pool = pool
        self.data = data
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(work_dir) if work_dir is not None else self.log_dir.parent / "work"
        self._jobs: dict[str, JobHandle] = {}
        self._lock = threading.Lock()

    def _log_paths(self, ctx: TaskContext) -> tuple[str, str]:
        # Straight into storage when it is a local folder; else a local file copied afterwards.
        # The worker creates the folder when it opens the files.
        if is_local(ctx.output_prefix):
            folder = _local_path(ctx.output_prefix)
        else:
            folder = str(self.log_dir / ctx.job_id)
        return os.path.join(folder, "stdout.log"), os.path.join(folder, "stderr.log")

    def _work_folder(self, ctx: TaskContext) -> str:
        return str(self.work_dir / ctx.job_id)

    def _in_process_entrypoint(self, template: TaskTemplate) -> bool:
        """``template``'s command is flytecore's entrypoint, which the workers run in-process."""
        container = template.container
        parts = (*container.command, *container.args) if container is not None else ()
        return bool(parts) and parts[0] == _ENTRYPOINT and _ENTRYPOINT in self.pool.in_process_commands

    def hands_inputs(self, template: TaskTemplate) -> bool:
        """Small inputs of ``template``'s attempts go to the worker with the job, not through
        storage (and small outputs come back with the result): its command is flytecore's
        entrypoint, run in-process by the workers (see :mod:`flytecore.sdk._handoff`)."""
        return self._in_process_entrypoint(template)

    def _logs(self, ctx: TaskContext) -> tuple[TaskLog, ...]:
        return _attempt_logs(ctx.output_prefix)

    def handle(self, ctx: TaskContext) -> TaskTransition:
        """Submit the attempt on the first call; then report on it."""
        job_id = ctx.plugin_state.get(_JOB)
        if job_id is None:
            return self._submit(ctx)
        with self._lock:
            handle = self._jobs.get(job_id)
        if handle is None:
            return self._orphan(ctx)
        result = handle.result()
        if result is None:
            return TaskTransition(TaskExecutionPhase.RUNNING, logs=self._logs(ctx), wakes=True)
        with self._lock:
            self._jobs.pop(job_id, None)
        if handle.job.cwd is not None:  # ran as a subprocess, in a working folder of its own
            shutil.rmtree(handle.job.cwd, ignore_errors=True)
        self._upload_logs(ctx)
        return self._finished(ctx, result)

    def _submit(self, ctx: TaskContext) -> TaskTransition:
        container = ctx.template.container
        if container is None:
            return TaskTransition(
                TaskExecutionPhase.FAILED,
                error=user_error(
                    "NoContainer", f"task {ctx.template.id.name} has no container to run on the local backend"
                ),
            )
        parts = (*container.command, *container.args)
        in_process = bool(parts) and parts[0] in self.pool.in_process_commands
        cwd = None if in_process else self._work_folder(ctx)
        try:
            argv = render_command(container.command, container.args, ctx, work_dir=cwd)
        except ValueError as exc:
            return TaskTransition(
                TaskExecutionPhase.FAILED,
                error=user_error("TemplateVariable", f"task {ctx.template.id.name}: {exc}"),
            )
        stdout, stderr = self._log_paths(ctx)
        env = {kv.key: kv.value for kv in container.env}
        env.update(ctx.environment)
        env["PATH"] = _command_path(env.get("PATH"))
        if cwd is not None:
            shutil.rmtree(cwd, ignore_errors=True)  # left by an attempt the propeller lost
            os.makedirs(cwd)
        hand_in, hand_back = {}, None
        if in_process and parts[0] == _ENTRYPOINT:  # flytecore's entrypoint, in the worker
            hand_back = ctx.output_prefix
            if not ctx.inputs_stored:
                known = ctx.inputs_bytes
                hand_in[ctx.inputs_uri] = known if known is not None else literal_map_to_bytes(ctx.inputs)
        job = Job(
            job_id=ctx.job_id, argv=tuple(argv), env=env, cwd=cwd, stdout_path=stdout, stderr_path=stderr,
            hand_in=hand_in, hand_back=hand_back,
        )
        handle = self.pool.submit(job)
        with self._lock:
            self._jobs[job.job_id] = handle
        ctx.plugin_state[_JOB] = job.job_id
        handle.add_done_callback(lambda _h: ctx.wake())
        reason = "submitted to the local worker pool"
        if container.image:
            reason += f"; image {container.image} recorded, not pulled (runs in the propeller's environment)"
        return TaskTransition(TaskExecutionPhase.QUEUED, logs=self._logs(ctx), reason=reason, wakes=True)

    def _orphan(self, ctx: TaskContext) -> TaskTransition:
        """An attempt this process never submitted (the propeller restarted): use what it left."""
        shutil.rmtree(self._work_folder(ctx), ignore_errors=True)
        finished = self._read_result(ctx)
        if finished is not None:
            return finished
        return TaskTransition(
            TaskExecutionPhase.RETRYABLE_FAILED,
            error=system_error(
                "AttemptLost",
                f"attempt {ctx.task_execution_id.retry_attempt} was running when the propeller stopped",
            ),
        )

    def _read_result(self, ctx: TaskContext) -> TaskTransition | None:
        prefix = ctx.output_prefix.rstrip("/")
        outputs_uri = f"{prefix}/outputs.pb"
        data = self.data.read_bytes(outputs_uri)  # the common case first, read once
        if data is not None:
            outputs = literal_map_from_bytes(data)
            return TaskTransition(TaskExecutionPhase.SUCCEEDED, logs=self._logs(ctx), outputs=outputs, output_uri=outputs_uri)
        data = self.data.read_bytes(f"{prefix}/error.pb")
        if data is not None:
            error, recoverable = error_from_document(data, f"{prefix}/error.pb")
            retry = recoverable or error.kind == ErrorKind.SYSTEM
            phase = TaskExecutionPhase.RETRYABLE_FAILED if retry else TaskExecutionPhase.FAILED
            return TaskTransition(phase, error=error, logs=self._logs(ctx))
        if self.data.read_bytes(f"{prefix}/futures.pb") is not None:
            return TaskTransition(TaskExecutionPhase.SUCCEEDED, logs=self._logs(ctx))
        return None

    def _finished(self, ctx: TaskContext, result: JobResult) -> TaskTransition:
        logs = self._logs(ctx)
        if result.outcome == JobOutcome.CANCELLED:
            return TaskTransition(TaskExecutionPhase.ABORTED, logs=logs, reason=result.message)
        if result.outcome in (JobOutcome.CRASHED, JobOutcome.TIMED_OUT):
            return TaskTransition(
                TaskExecutionPhase.RETRYABLE_FAILED,
                logs=logs,
                error=system_error("WorkerCrashed", result.message),
            )
        handed = result.handed_back.get(HANDED_OUTPUTS)
        if handed is not None:  # small outputs, back with the result: not in storage
            return TaskTransition(TaskExecutionPhase.SUCCEEDED, logs=logs, outputs=literal_map_from_bytes(handed))
        read = self._read_result(ctx)
        if read is not None:
            return read
        if result.exit_code == 0:
            # Nothing written: a task without outputs (the handler checks the interface).
            return TaskTransition(TaskExecutionPhase.SUCCEEDED, logs=logs)
        tail = self._stderr_tail(ctx)
        return TaskTransition(
            TaskExecutionPhase.RETRYABLE_FAILED,
            logs=logs,
            error=user_error(
                f"ExitCode{result.exit_code}",
                f"the task's process exited with code {result.exit_code} without an error document"
                + (f"; its stderr ends with:\n{tail}" if tail else ""),
            ),
        )

    def _stderr_tail(self, ctx: TaskContext) -> str:
        data = self.data.read_bytes(f"{ctx.output_prefix.rstrip('/')}/stderr.log") or b""
        return data[-_TAIL_BYTES:].decode(errors="replace").strip()

    def _upload_logs(self, ctx: TaskContext) -> None:
        if is_local(ctx.output_prefix):
            return
        folder = self.log_dir / ctx.job_id
        for name in ("stdout.log", "stderr.log"):
            path = folder / name
            if path.exists():
                self.data.write_bytes(f"{ctx.output_prefix.rstrip('/')}/{name}", path.read_bytes())
                path.unlink()

    # -- elements of a map, in batches (see flytecore.propeller.handlers.array_batch) ----------

    def runs_elements(self, template: TaskTemplate, prefix: str) -> bool:
        """Elements of a map over ``template`` can run as batches here: its command is
        flytecore's entrypoint, run in-process by the workers, and storage under ``prefix`` is a
        local folder (each element's logs go straight into its attempt's folder)."""
        return self._in_process_entrypoint(template) and is_local(prefix)

    def element_logs(self, output_prefix: str, index: int) -> tuple[TaskLog, ...]:
        """The logs of one element attempt whose output prefix is ``output_prefix``."""
        return _attempt_logs(output_prefix, f"-{index}")

    def submit_elements(
        self, ctx: TaskContext, job_id: str, bound: list[str], pattern: dict[str, Any], elements: list[list[int]]
    ) -> None:
        """Run ``elements`` (each ``[index, attempt]``, its paths and environment from
        ``pattern``: templates of ``output_prefix``, ``raw_output_data_prefix``,
        ``checkpoint_path``, ``prev_checkpoint``, ``env``, see :mod:`flytecore.sdk.entrypoint`)
        of the map whose array node ``ctx`` describes (its inputs are the lists; its output prefix
        the batches' folder) as one job: ``flytecore-execute --array-elements MANIFEST``, whose
        journal :meth:`element_records` reads; ``ctx.wake()`` is called when the job ends."""
        assert ctx.template.container is not None
        folder = _local_path(ctx.output_prefix.rstrip("/"))
        manifest = os.path.join(folder, f"{job_id}.json")
        base = _local_path(pattern["output_prefix"].rstrip("/"))
        pattern = {**pattern, "stdout": f"{base}/stdout.log", "stderr": f"{base}/stderr.log"}
        data = json.dumps(
            {"bound": bound, "journal": os.path.join(folder, f"{job_id}.journal"), "pattern": pattern, "elements": elements},
            separators=(",", ":"),
        ).encode()
        # The manifest goes with the job (the entrypoint runs in the worker's process, see
        # runs_elements), never to storage: the journal, which the worker makes, is what stays.
        argv = render_command(ctx.template.container.command, ctx.template.container.args, ctx)
        env = {kv.key: kv.value for kv in ctx.template.container.env}
        env.update(ctx.environment)
        env["PATH"] = _command_path(env.get("PATH"))
        # The batch's own output; each element's is moved out of it into the element's files.
        stdout, stderr = (os.path.join(folder, f"{job_id}.{name}") for name in ("out", "err"))
        job = Job(job_id=job_id, argv=(argv[0], "--array-elements", manifest, *argv[1:]), env=env,
                  stdout_path=stdout, stderr_path=stderr, hand_in={manifest: data})
        handle = self.pool.submit(job)
        with self._lock:
            self._jobs[job_id] = handle
        handle.add_done_callback(lambda _h: ctx.wake())

    def element_records(self, folder: str, job_id: str) -> tuple[str, dict[int, ElementRecord]]:
        """The journal of batch ``job_id`` in ``folder``: its path, and what it says by element
        index (nothing if the batch never started)."""
        path = os.path.join(_local_path(folder.rstrip("/")), f"{job_id}.journal")
        try:
            with open(path, "rb") as stream:
                return path, read_journal(stream.read())
        except FileNotFoundError:
            return path, {}

    def element_outputs(self, folder: str) -> dict[int, bytes]:
        """The outputs of every element that succeeded in a batch in ``folder`` (after a restart)."""
        found: dict[int, bytes] = {}
        for path in sorted(Path(_local_path(folder.rstrip("/"))).glob("*.journal")):
            for index, record in read_journal(path.read_bytes()).items():
                if record.kind == OUTPUTS and record.document is not None:
                    found[index] = record.document
        return found

    def keep_crash_output(self, folder: str, job_id: str, record: ElementRecord, output_prefix: str) -> None:
        """The element of ``record`` was running when its batch's worker died: what it wrote is
        still in the batch's files (from its offsets on); append it to the element's own."""
        base = _local_path(folder.rstrip("/"))
        target = _local_path(output_prefix.rstrip("/"))
        for name, offset, log in (("out", record.offsets[0], "stdout.log"), ("err", record.offsets[1], "stderr.log")):
            try:
                with open(os.path.join(base, f"{job_id}.{name}"), "rb") as stream:
                    stream.seek(offset)
                    data = stream.read()
            except FileNotFoundError:
                continue
            if data:
                os.makedirs(target, exist_ok=True)
                with open(os.path.join(target, log), "ab") as out:
                    out.write(data)

    def element_job(self, job_id: str) -> tuple[str, JobResult | None]:
        """Where a batch stands: ``("queued" | "running" | "done" | "unknown", result)``
        (unknown: this process never ran it, the propeller restarted). A done job is forgotten."""
        with self._lock:
            handle = self._jobs.get(job_id)
            if handle is None:
                return "unknown", None
            result = handle.result()
            if result is not None:
                del self._jobs[job_id]
                return "done", result
            return ("running" if handle.started() else "queued"), None

    def cancel_elements(self, job_id: str) -> None:
        """Cancel a batch (queued or running)."""
        with self._lock:
            handle = self._jobs.pop(job_id, None)
        if handle is not None:
            handle.cancel()

    def abort(self, ctx: TaskContext) -> None:
        """Cancel the attempt's job (queued or running)."""
        job_id = ctx.plugin_state.get(_JOB)
        with self._lock:
            handle = self._jobs.pop(job_id, None) if job_id else None
        if handle is not None:
            handle.cancel()
            handle.add_done_callback(lambda _h: shutil.rmtree(self._work_folder(ctx), ignore_errors=True))


class LocalBackend:
    """The embedded default backend: container tasks in the worker pool; the plugin registry
    says which task types are installed."""

    def __init__(self, executor: ContainerExecutor, task_types: Iterable[str]) -> None:
        self.executor = executor
        self._types = set(task_types)

    def executor_for(self, template: TaskTemplate) -> ContainerExecutor | None:
        """The container executor for an installed task type with a container."""
        if template.type not in self._types:
            return None
        return self.executor if template.container is not None else None

    def known_types(self) -> list[str]:
        """The installed task types."""
        return sorted(self._types)
