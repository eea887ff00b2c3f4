"""A pool of warm worker processes that runs jobs (task entrypoints and command lines).

Process model: each worker is a fresh ``python`` (``sys.executable``) started with
:mod:`subprocess` -- fork+exec, never a bare fork of this threaded process -- in its own process
group, with flytecore imported once. One pool thread per worker ("slot") runs its worker's jobs:
it sends each over a socket pair and waits for the answer, the worker's death (a pidfd) or the
job's deadline, whichever comes first. A dead, killed or recycled worker is replaced by its slot,
so the pool keeps ``size`` workers.

A job submitted while a slot waits idle with a ready worker is sent to that worker by the
submitting thread itself, at once; the slot thread only waits for the answer. Otherwise the job
is queued and the next slot to be free takes it. (Handing the job to the slot thread to send
would make it wait for the interpreter lock until the submitting thread lets go of it -- in a
propeller's round, after the round's save: ~0.2 ms per task of a chain, with the worker idle.)
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

import attrs

from flytecore.propeller.backends.local._process import READY, WorkerProcess
from flytecore.propeller.backends.local._spool import publish_if_written, streams
from flytecore.propeller.backends.local.jobs import (
    Job,
    JobHandle,
    JobOutcome,
    JobResult,
    PoolClosedError,
    _call_back,
)

__all__ = ["DEFAULT_IN_PROCESS", "WorkerPool"]

log = logging.getLogger(__name__)

DEFAULT_IN_PROCESS: Mapping[str, str] = MappingProxyType(
    {"flytecore-execute": "flytecore.sdk.entrypoint:main"}
)
"""Commands a worker runs in-process: ``argv[0]`` -> ``"module:function"``, called with argv[1:]."""


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


_Sent = tuple[_dt.datetime, float | None]
"""A job's message went to its worker: when (its start) and its deadline (time.monotonic())."""


@attrs.define(eq=False)
class _Slot:
    """What the pool knows of one slot thread while it waits for a job (under the pool's lock)."""

    index: int
    wake: threading.Condition
    worker: WorkerProcess | None = None
    """Its worker (None: it has none, e.g. it could not start one)."""
    reserved: bool = False
    """A submitting thread took this slot and is sending it a job."""
    handed: tuple[JobHandle, _Sent | None] | None = None
    """The job a submitting thread handed it, and whether its message went out (None: it did
    not, the slot sends it, or finds its worker dead)."""


class WorkerPool:
    """Runs jobs in ``size`` warm worker processes; see the module docstring for the model.

    :param size: number of worker processes (and of jobs running at once).
    :param in_process_commands: ``argv[0]`` -> ``"module:function"``; such a job runs inside the
        worker as ``function(argv[1:]) -> exit code``. The module is imported by the worker, at
        start if it can be, else when a job needs it. Any other ``argv`` runs as a subprocess.
    :param env: variables set in every worker on top of this process's environment.
    :param log_dir: folder for each worker's own output (what it writes outside jobs), one file
        per slot, and its spool files (a job's log files then appear only when it writes to
        them: :mod:`~flytecore.propeller.backends.local._spool`); None: workers write to this
        process's stderr and open every job's log files.
    :param max_jobs_per_worker: replace a worker after this many jobs (None: never).
    :param max_rss_bytes: replace a worker whose resident memory is above this after a job.
    :param startup_timeout: seconds a new worker may take to become ready.
    """

    def __init__(
        self,
        size: int,
        *,
        in_process_commands: Mapping[str, str] = DEFAULT_IN_PROCESS,
        env: Mapping[str, str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        max_jobs_per_worker: int | None = None,
        max_rss_bytes: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, got size={size}")
        for name, target in in_process_commands.items():
            module, colon, function = target.partition(":")
            if not (module and colon and function):
                raise ValueError(f"in-process command {name!r} must name 'module:function', got {target!r}")
        if max_jobs_per_worker is not None and max_jobs_per_worker < 1:
            raise ValueError(f"max_jobs_per_worker must be at least 1, got {max_jobs_per_worker}")
        self._size = size
        self._max_jobs = max_jobs_per_worker
        self._max_rss = max_rss_bytes
        self._startup_timeout = startup_timeout
        self._log_dir = Path(log_dir) if log_dir is not None else None
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
        self._env = {**os.environ, **(env or {})}
        self._init = {
            "sys_path": list(sys.path),
            "commands": dict(in_process_commands),
            "measure_rss": max_rss_bytes is not None,
        }
        self._lock = threading.Lock()
        self._slots = [_Slot(slot, threading.Condition(self._lock)) for slot in range(size)]
        self._idle: list[_Slot] = []  # waiting for a job; the last one to become idle last
        self._queue: deque[JobHandle] = deque()
        self._active: set[JobHandle] = set()
        self._closed = False
        self._stop_deadline = 0.0
        self._threads = [
            threading.Thread(target=self._serve, args=(slot,), name=f"flytecore-pool-{slot.index}", daemon=True)
            for slot in self._slots
        ]
        for thread in self._threads:
            thread.start()

    # -- public API ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of worker processes."""
        return self._size

    @property
    def in_process_commands(self) -> Mapping[str, str]:
        """The commands workers run in-process (``argv[0]`` -> ``"module:function"``)."""
        return MappingProxyType(self._init["commands"])  # type: ignore[arg-type]

    @property
    def running(self) -> int:
        """Jobs running now."""
        return len(self._active)

    @property
    def queued(self) -> int:
        """Jobs waiting for a free worker."""
        return len(self._queue)

    @property
    def free_workers(self) -> int:
        """Workers not running a job (a worker still starting counts as free)."""
        return self._size - len(self._active)

    def submit(self, job: Job) -> JobHandle:
        """Start ``job`` on an idle worker, or queue it until one is free; returns its handle."""
        with self._lock:
            if self._closed:
                raise PoolClosedError(f"cannot run job {job.job_id}: the worker pool is closed")
            handle = JobHandle(job, self, self._lock)
            slot = self._idle_slot()
            if slot is None:
                self._queue.append(handle)  # every slot is busy: the first to be free takes it
                return handle
            self._started(handle, slot.worker)
            slot.reserved = True
        # Outside the lock: the worker reads its socket while it waits, so this does not block.
        worker = slot.worker
        sent = self._send(worker, handle) if worker is not None and worker.ready else None
        with self._lock:
            slot.reserved, slot.handed = False, (handle, sent)
            slot.wake.notify()
        return handle

    def _started(self, handle: JobHandle, worker: WorkerProcess | None) -> None:
        """Mark ``handle`` running on ``worker`` (under the lock)."""
        handle._state, handle._worker = "running", worker
        self._active.add(handle)

    def _idle_slot(self) -> _Slot | None:
        """An idle slot (under the lock), taken out of the idle list: the last to become idle
        among those with a ready worker (its process's memory is the warmest), else any."""
        if not self._idle:
            return None
        ready = [i for i, slot in enumerate(self._idle) if slot.worker is not None and slot.worker.ready]
        return self._idle.pop(ready[-1] if ready else -1)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the pool: drop queued jobs, let running ones finish for up to ``timeout`` seconds,
        then kill their workers (those jobs end CANCELLED). Safe to call again."""
        with self._lock:
            dropped: list[JobHandle] = []
            if not self._closed:
                self._closed = True
                self._stop_deadline = time.monotonic() + timeout
                dropped, self._queue = list(self._queue), deque()
                for slot in self._slots:
                    slot.wake.notify()
        for handle in dropped:
            self._complete_unstarted(
                handle, f"the worker pool was closed before job {handle.job.job_id} started"
            )
        # A done callback may close the pool from a slot thread, which cannot wait for itself.
        others = [thread for thread in self._threads if thread is not threading.current_thread()]
        for thread in others:
            thread.join(max(0.0, self._stop_deadline - time.monotonic()))
        if any(thread.is_alive() for thread in others):
            for worker in self._cancel_running("the worker pool was closed while job {job} was running"):
                worker.kill()
            for thread in others:
                thread.join(30.0)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- cancellation and completion (any thread) -----------------------------------------------

    def _cancel(self, handle: JobHandle) -> bool:
        with self._lock:
            if handle._state == "done":
                return False
            queued = handle._state == "queued"
            if queued:
                self._queue.remove(handle)
            elif handle._cancel_message is None:
                handle._cancel_message = f"job {handle.job.job_id} was cancelled while running" + (
                    f"; worker process {handle._worker.pid} was killed and replaced" if handle._worker else ""
                )
            worker = handle._worker
        if queued:
            self._complete_unstarted(handle, f"job {handle.job.job_id} was cancelled before it started")
        elif worker is not None:
            # The slot thread sees its worker die and reports the job CANCELLED.
            worker.kill()
        return True

    def _cancel_running(self, template: str) -> list[WorkerProcess]:
        """Mark running jobs cancelled; return their workers, for the caller to kill."""
        with self._lock:
            for handle in self._active:
                if handle._cancel_message is None:
                    handle._cancel_message = template.format(job=handle.job.job_id)
            return [handle._worker for handle in self._active if handle._worker is not None]

    def _complete_unstarted(self, handle: JobHandle, message: str) -> None:
        result = JobResult(JobOutcome.CANCELLED, None, message, None, _now())
        with self._lock:
            callbacks = handle._complete(result)
        for fn in callbacks:
            _call_back(fn, handle)

    def _finish(self, handle: JobHandle, result: JobResult) -> None:
        """Report a job that a slot ran (or tried to); a pending cancellation wins."""
        with self._lock:
            if handle._cancel_message is not None:
                result = attrs.evolve(
                    result, outcome=JobOutcome.CANCELLED, exit_code=None, message=handle._cancel_message
                )
            if result.outcome is not JobOutcome.EXITED and handle.job.stderr_path is not None:
                # Whoever reads the job's log should learn why it stops where it stops.
                _append_note(handle.job.stderr_path, result.message)
            self._active.discard(handle)
            callbacks = handle._complete(result)
        for fn in callbacks:
            _call_back(fn, handle)

    # -- the slot threads -----------------------------------------------------------------------

    def _serve(self, state: _Slot) -> None:
        """One slot: keep a warm worker, run jobs on it one by one, replace it as needed."""
        slot = state.index
        worker: WorkerProcess | None = None
        jobs_on_worker = 0
        try:
            while True:
                if worker is None and not self._closed:
                    worker, _ = self._spawn(slot)
                    jobs_on_worker = 0
                taken = self._take(state, worker)
                if taken is None:
                    return
                handle, sent = taken
                try:
                    if sent is not None:
                        assert worker is not None  # sent to it by the submitting thread
                        result, rss = self._receive(worker, handle, sent)
                    else:
                        if worker is not None and not worker.alive():
                            # Killed while idle (the OOM killer, a user): not this job's fault.
                            log.warning(
                                "worker process %d %s while idle", worker.pid, worker.death(worker.reap())
                            )
                            worker = None
                        if worker is None:
                            worker, error = self._spawn(slot)
                            if worker is None:
                                message = f"could not start a worker process for job {handle.job.job_id}: {error}"
                                self._finish(handle, JobResult(JobOutcome.CRASHED, None, message, None, _now()))
                                continue
                            jobs_on_worker = 0
                            if self._attach(handle, worker):
                                worker.kill()  # cancelled while we were starting it
                        result, rss = self._run(worker, handle)
                    if result.outcome is not JobOutcome.EXITED:
                        self._publish_spools(slot, handle.job)
                except Exception as exc:  # a bug here must not lose the job nor the slot
                    log.exception("worker pool slot %d failed on job %s", slot, handle.job.job_id)
                    result, rss = (
                        JobResult(JobOutcome.CRASHED, None, f"worker pool error: {exc!r}", None, _now()),
                        None,
                    )
                    if worker is not None:
                        worker.kill()
                        worker.reap()
                self._finish(handle, result)
                jobs_on_worker += 1
                if worker is not None and (
                    result.outcome is not JobOutcome.EXITED or handle._cancel_message is not None
                ):
                    worker.kill()  # already dead or killed, unless cancelled after it answered
                    worker.reap()
                    worker = None
                elif worker is not None and self._should_recycle(worker, jobs_on_worker, rss):
                    worker.stop(time.monotonic() + 5.0)
                    worker = None
        finally:
            if worker is not None:
                worker.stop(self._stop_deadline)

    def _spools(self, slot: int) -> tuple[str, str] | None:
        if self._log_dir is None:
            return None
        return str(self._log_dir / f"worker-{slot}.stdout"), str(self._log_dir / f"worker-{slot}.stderr")

    def _spawn(self, slot: int) -> tuple[WorkerProcess | None, str | None]:
        log_path = self._log_dir / f"worker-{slot}.log" if self._log_dir is not None else None
        try:
            return WorkerProcess({**self._init, "spools": self._spools(slot)}, env=self._env, log_path=log_path), None
        except OSError as exc:
            log.error("could not start a worker process: %s", exc)
            return None, str(exc)

    def _publish_spools(self, slot: int, job: Job) -> None:
        """What a job whose worker died had written, at its log paths (the worker could not)."""
        spools = self._spools(slot)
        if spools is None:
            return
        for path, index in streams(job.stdout_path, job.stderr_path).items():
            try:
                publish_if_written(spools[index], path)
            except OSError as exc:
                log.warning("the output of job %s could not be published to %s: %s", job.job_id, path, exc)

    def _take(self, slot: _Slot, worker: WorkerProcess | None) -> tuple[JobHandle, _Sent | None] | None:
        """Block until there is a job for this slot (returned, now running on ``worker``, with
        whether a submitting thread sent it already) or the pool closes (None)."""
        with self._lock:
            slot.worker = worker
            try:
                while True:
                    if slot.handed is not None:
                        handed, slot.handed = slot.handed, None
                        return handed
                    if slot.reserved:  # a job is being sent to this slot's worker
                        slot.wake.wait()
                        continue
                    if self._queue and not self._closed:
                        handle = self._queue.popleft()
                        self._started(handle, worker)
                        return handle, None
                    if self._closed:
                        return None
                    if slot not in self._idle:
                        self._idle.append(slot)
                    slot.wake.wait()
            finally:
                if slot in self._idle:
                    self._idle.remove(slot)

    def _attach(self, handle: JobHandle, worker: WorkerProcess) -> bool:
        """Record the job's worker; True if the job was cancelled before it had one."""
        with self._lock:
            handle._worker = worker
            return handle._cancel_message is not None

    def _run(self, worker: WorkerProcess, handle: JobHandle) -> tuple[JobResult, int | None]:
        """Run one job on ``worker``; return its result and the worker's memory after it."""
        job, pid = handle.job, worker.pid
        status = worker.wait_ready(time.monotonic() + self._startup_timeout)
        if status != READY:
            worker.kill()
            returncode = worker.reap()
            where = f"see {worker.log_path}" if worker.log_path is not None else "see the pool's stderr"
            if status == "timeout":
                what = f"was not ready within {self._startup_timeout:g} s"
            else:
                what = worker.death(returncode)
            message = f"worker process {pid} {what} before it could run job {job.job_id} ({where})"
            return JobResult(JobOutcome.CRASHED, returncode, message, None, _now(), pid), None
        sent = self._send(worker, handle)
        return self._receive(worker, handle, sent or (_now(), None), delivered=sent is not None)

    def _send(self, worker: WorkerProcess, handle: JobHandle) -> _Sent | None:
        """Send the job's message to its (ready) worker; None if the worker is gone."""
        job = handle.job
        started_at = _now()
        deadline = time.monotonic() + job.timeout if job.timeout is not None else None
        wire = (
            job.job_id,
            job.argv,
            job.env,
            *(_absolute(p) for p in (job.cwd, job.stdout_path, job.stderr_path)),
            job.hand_in,
            job.hand_back,
        )
        return (started_at, deadline) if worker.send(wire) else None

    def _receive(
        self, worker: WorkerProcess, handle: JobHandle, sent: _Sent, *, delivered: bool = True
    ) -> tuple[JobResult, int | None]:
        """Wait for the answer to the job's message (not ``delivered``: the worker was gone);
        returns the job's result and the worker's memory after it."""
        job, pid = handle.job, worker.pid
        started_at, deadline = sent
        kind, payload = worker.receive(deadline) if delivered else ("died", None)
        if kind == "message":
            code, rss, note, handed_back = payload
            message = note or _exit_message(job.job_id, code)
            return JobResult(JobOutcome.EXITED, code, message, started_at, _now(), pid, handed_back), rss
        worker.kill()
        returncode = worker.reap()
        if kind == "timeout":
            message = (
                f"job {job.job_id} timed out after {job.timeout:g} s; "
                f"worker process {pid} was killed and replaced"
            )
            return JobResult(JobOutcome.TIMED_OUT, None, message, started_at, _now(), pid), None
        message = f"worker process {pid} {worker.death(returncode)} while running job {job.job_id}"
        return JobResult(JobOutcome.CRASHED, returncode, message, started_at, _now(), pid), None

    def _should_recycle(self, worker: WorkerProcess, jobs_on_worker: int, rss: int | None) -> bool:
        if self._max_jobs is not None and jobs_on_worker >= self._max_jobs:
            return True
        if self._max_rss is not None and rss is not None and rss > self._max_rss:
            log.info("replacing worker process %d: %d bytes resident > %d", worker.pid, rss, self._max_rss)
            return True
        return False


def _absolute(path: str | None) -> str | None:
    # A worker's cwd is ours as it was when the worker started: make relative paths mean ours now.
    return None if path is None else os.path.abspath(path)


def _exit_message(job_id: str, code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"job {job_id}'s command was killed by signal {name}"
    return f"job {job_id} exited with code {code}"


def _append_note(path: str, message: str) -> None:
    try:
        with open(path, "a") as stream:
            stream.write(f"flytecore: {message}\n")
    except OSError:
        pass  # the note is a courtesy; the result carries the message anyway
