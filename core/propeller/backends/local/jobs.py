"""What the worker pool runs and reports: jobs, their results and the handles to follow them."""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from flytecore.errors import FlyteCoreError

if TYPE_CHECKING:
    from flytecore.propeller.backends.local._process import WorkerProcess
    from flytecore.propeller.backends.local.pool import WorkerPool

__all__ = ["Job", "JobHandle", "JobOutcome", "JobResult", "PoolClosedError"]

log = logging.getLogger(__name__)


class PoolClosedError(FlyteCoreError, RuntimeError):
    """A job was submitted to a worker pool that was already closed."""


class JobOutcome(enum.StrEnum):
    """How a job ended."""

    EXITED = "exited"
    """The job ran to its end and returned an exit code (0 or not)."""
    CRASHED = "crashed"
    """The worker process died under the job (segfault, ``os._exit``, the OOM killer, ...)."""
    TIMED_OUT = "timed_out"
    """The job ran over its timeout; its worker was killed."""
    CANCELLED = "cancelled"
    """The job was cancelled (or the pool closed) before it could end by itself."""


def _optional_path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


def _check_argv(_: Any, __: Any, argv: tuple[str, ...]) -> None:
    if not argv or not all(isinstance(arg, str) for arg in argv):
        raise ValueError(f"a job's argv must be a non-empty sequence of strings, got {argv!r}")


def _check_env(_: Any, __: Any, env: dict[str, str]) -> None:
    bad = {key: value for key, value in env.items() if not (isinstance(key, str) and isinstance(value, str))}
    if bad:
        raise ValueError(f"a job's environment must map strings to strings, got {bad!r}")


def _check_timeout(_: Any, __: Any, timeout: float | None) -> None:
    if timeout is not None and not timeout > 0:
        raise ValueError(f"a job's timeout must be a positive number of seconds, got {timeout!r}")


@attrs.frozen(eq=False)
class Job:
    """One command for the pool to run.

    ``argv[0]`` names either an in-process command of the pool (run inside a warm worker) or a
    program (run as a subprocess of a worker).
    """

    job_id: str
    """Names the job in results and messages (the engine uses the task execution id)."""
    argv: tuple[str, ...] = attrs.field(converter=tuple, validator=_check_argv)
    """The command line."""
    env: Mapping[str, str] = attrs.field(factory=dict, converter=dict, validator=_check_env)
    """Variables set on top of the worker's environment for this job only."""
    cwd: str | None = attrs.field(default=None, converter=_optional_path)
    """Working directory of the job; None: the worker's (the pool creator's) directory."""
    stdout_path: str | None = attrs.field(default=None, converter=_optional_path)
    """File that receives everything written to file descriptor 1; None: the worker's own log."""
    stderr_path: str | None = attrs.field(default=None, converter=_optional_path)
    """File that receives file descriptor 2 (may be the same file as ``stdout_path``)."""
    timeout: float | None = attrs.field(default=None, validator=_check_timeout)
    """Seconds the job may run (counted from its start, not its submission); None: no limit."""
    hand_in: Mapping[str, bytes] = attrs.field(factory=dict, converter=dict)
    """Documents an in-process command reads from these URIs, handed to it with the job instead
    of stored (see :mod:`flytecore.sdk._handoff`)."""
    hand_back: str | None = None
    """An output prefix: an in-process command's small outputs document for it comes back in
    :attr:`JobResult.handed_back` instead of being written there."""


@attrs.frozen
class JobResult:
    """How a job ended."""

    outcome: JobOutcome
    """Exited by itself, crashed its worker, timed out or was cancelled."""
    exit_code: int | None
    """EXITED: the job's exit code (negative: its subprocess was killed by that signal).
    CRASHED: the worker's exit status in the same convention. Otherwise None."""
    message: str
    """A sentence for humans: what happened to which job in which worker process."""
    started_at: _dt.datetime | None
    """When a worker began the job (UTC); None if it never started."""
    finished_at: _dt.datetime
    """When the pool learned that the job had ended (UTC)."""
    worker_pid: int | None = None
    """The worker process that ran (or was starting to run) the job."""
    handed_back: Mapping[str, bytes] = attrs.field(factory=dict)
    """Documents the job handed back instead of writing them, by file name (``outputs.pb``)."""

    @property
    def ok(self) -> bool:
        """True if the job exited with code 0."""
        return self.outcome is JobOutcome.EXITED and self.exit_code == 0


class JobHandle:
    """Follows one submitted job: ask whether it is done, wait for it, cancel it.

    Handles are made by :meth:`WorkerPool.submit`; all methods are thread-safe.
    """

    def __init__(self, job: Job, pool: WorkerPool, lock: threading.Lock) -> None:
        self.job = job
        self._pool = pool
        # The pool's lock: a handle's state changes together with the pool's queue and counters.
        self._lock = lock
        # Made by the first wait(): the propeller asks result() and is called back instead.
        self._event: threading.Event | None = None
        self._result: JobResult | None = None
        self._callbacks: list[Callable[[JobHandle], object]] | None = []
        self._state = "queued"  # queued -> running -> done
        # Set by cancel() or close() while running; the pool reports CANCELLED with this message.
        self._cancel_message: str | None = None
        self._worker: WorkerProcess | None = None

    def __repr__(self) -> str:
        return f"<JobHandle {self.job.job_id!r} {self._state}>"

    def done(self) -> bool:
        """True once the job has a result."""
        return self._result is not None  # set once, under the lock

    def started(self) -> bool:
        """True once a worker took the job (it is running or done)."""
        return self._state != "queued"

    def result(self) -> JobResult | None:
        """The job's result, or None while it is queued or running."""
        return self._result

    def wait(self, timeout: float | None = None) -> JobResult | None:
        """Block until the job is done (or ``timeout`` seconds passed); return its result or None."""
        with self._lock:
            if self._result is not None:
                return self._result
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        event.wait(timeout)
        return self._result

    def cancel(self) -> bool:
        """Cancel the job: a queued job is dropped, a running job's worker is killed and replaced.

        Returns False if the job had already finished. The result then says CANCELLED.
        """
        return self._pool._cancel(self)

    def add_done_callback(self, fn: Callable[[JobHandle], object]) -> None:
        """Call ``fn(handle)`` once the job is done.

        It is called from the thread that finishes the job: a pool thread, the thread that
        cancels a queued job or closes the pool, or right here if the job is already done.
        Exceptions from ``fn`` are logged and swallowed: they must not stop the pool.
        """
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(fn)
                return
        _call_back(fn, self)

    def _complete(self, result: JobResult) -> list[Callable[[JobHandle], object]]:
        """Store the result (the caller holds the lock); return the callbacks to call after."""
        self._result = result
        self._state = "done"
        callbacks, self._callbacks = self._callbacks or [], None
        if self._event is not None:
            self._event.set()
        return callbacks


def _call_back(fn: Callable[[JobHandle], object], handle: JobHandle) -> None:
    try:
        fn(handle)
    except Exception:
        log.exception("done callback %r of job %s raised", fn, handle.job.job_id)
