"""The child side of the worker pool: one warm Python process that runs jobs one at a time.

The pool starts ``python -c "...worker import main; main(FD)"`` where FD is one end of a socket
pair. Protocol (pickled messages, :mod:`multiprocessing.connection` framing):

- pool -> worker, first: ``{"sys_path": [...], "commands": {name: "module:function"},
  "measure_rss": bool, "spools": (stdout_spool, stderr_spool) or None}``; worker -> pool:
  ``("ready", pid)`` once it is warm.
- pool -> worker: ``(job_id, argv, env, cwd, stdout_path, stderr_path, hand_in, hand_back)`` per
  job, ``None`` to stop; worker -> pool: ``(exit_code, rss_bytes_or_None, note_or_None,
  handed_back)`` per job (``hand_in``/``hand_back``/``handed_back``: documents an in-process
  command gets and gives in memory, see :mod:`flytecore.sdk._handoff`).

Everything a job may change in the process (file descriptors 1 and 2, ``sys.stdout``/``stderr``,
the working directory, ``sys.argv``) is put back after it, so the next job starts from the same
state; ``os.environ`` is made the worker's own plus the job's variables before each job, which
undoes what the job before changed (consecutive jobs share most of their variables: only those
that differ are set). What a job does to imported modules stays: that is the point of warm workers.

With spool files (the pool's ``log_dir``), a job's log files appear only when it writes to them:
see :mod:`flytecore.propeller.backends.local._spool`.
"""

from __future__ import annotations

import faulthandler
import importlib
import io
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from flytecore.propeller.backends.local._spool import PUBLISH_EVERY, Spools
from flytecore.sdk import _handoff, _streams

JobMessage = tuple[
    str, tuple[str, ...], Mapping[str, str], str | None, str | None, str | None, Mapping[str, bytes], str | None
]
JobReply = tuple[int, int | None, str | None, dict[str, bytes]]
InProcessFunction = Callable[[list[str]], Any]

# Exit codes a shell would use when a command cannot be started.
CANNOT_EXECUTE = 126
NOT_FOUND = 127


def main(fd: int) -> None:
    """Serve jobs from the pool over the connection on file descriptor ``fd`` until told to stop."""
    # pass_fds made the socket inheritable; no subprocess of a job should hold the pool's channel.
    os.set_inheritable(fd, False)
    conn = Connection(fd)
    init = conn.recv()
    # The same import path as the pool's process, so commands registered there resolve here.
    sys.path[:] = init["sys_path"]
    _watch_parent(os.getppid())
    # A segfault in a job then leaves a Python traceback in that job's stderr file (fd 2).
    faulthandler.enable()
    for stream in (sys.stdout, sys.stderr):
        # As on a terminal: print() and os.write(1, ...) stay in order in the job's files.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    spools = init.get("spools")
    runner = JobRunner(init["commands"], measure_rss=init["measure_rss"], spools=Spools(*spools) if spools else None)
    runner.preload()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break  # the pool went away
        if message is None:
            break
        conn.send(runner.run(message))


def _watch_parent(parent_pid: int) -> None:
    """Kill this worker's process group (it and its job's subprocesses) if the pool's process dies.

    Polling getppid() once a second is enough: it only matters when the pool died without
    closing, e.g. killed by SIGKILL, and it does not race with a graceful stop.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="flytecore-worker-watchdog", daemon=True).start()


class JobRunner:
    """Runs one job at a time in this process and restores the process state after each."""

    def __init__(self, commands: Mapping[str, str], *, measure_rss: bool, spools: Spools | None = None) -> None:
        self._commands = dict(commands)
        self._resolved: dict[str, InProcessFunction] = {}
        self._measure_rss = measure_rss
        self._spools = spools
        # The environment every job starts from (with its own variables on top); read at the
        # first job, as each job used to read it.
        self._environ: _streams.JobEnviron | None = None
        if spools is not None:
            threading.Thread(target=self._publish_live, name="flytecore-worker-logs", daemon=True).start()

    def _publish_live(self) -> None:
        """What a running job wrote shows at its log paths within :data:`PUBLISH_EVERY` s."""
        assert self._spools is not None
        while True:
            time.sleep(PUBLISH_EVERY)
            try:
                self._spools.publish_written()
            except OSError:
                pass  # tried again, and at the job's end, where a failure is reported

    def preload(self) -> None:
        """Import the in-process commands now, so the first job is warm too.

        A command that cannot be imported yet (e.g. its module is still being written) is not an
        error here: it is resolved again, and its error reported, when a job uses it.
        """
        for name in self._commands:
            try:
                self._resolve(name)
            except Exception:
                pass

    def run(self, message: JobMessage) -> JobReply:
        """Run one job; return ``(exit_code, rss_bytes, note, handed_back)`` for the pool."""
        job_id, argv, env, cwd, stdout_path, stderr_path, hand_in, hand_back = message
        note = None
        if self._environ is None:
            self._environ = _streams.JobEnviron(_streams.environ_data().copy())
        saved_cwd = os.getcwd()
        saved_argv, saved_out, saved_err = sys.argv, sys.stdout, sys.stderr
        self._flush(saved_out, saved_err)
        spools = self._spools if self._spools is not None and self._spools.linkable else None
        try:
            if spools is not None:
                saved_fds = spools.begin(stdout_path, stderr_path)
            else:
                saved_fds = _streams.redirect(stdout_path, stderr_path)
        except OSError as exc:
            return CANNOT_EXECUTE, self._rss(), f"cannot open the output files of job {job_id}: {exc}", {}
        environ = self._environ
        try:
            environ.enter(env)
            # An in-process entrypoint reads its variables from the hand-off, decoded already.
            _handoff.begin(hand_in, hand_back, environ.variables() if argv[0] in self._commands else None)
            if cwd is not None:
                os.chdir(cwd)
            sys.argv = list(argv)
            if argv[0] in self._commands:
                code = self._run_in_process(argv)
            else:
                code = _run_subprocess(argv)
        except OSError as exc:  # the cwd does not exist, ...
            note = f"job {job_id} could not start: {exc}"
            print(f"flytecore worker: {note}", file=sys.stderr)
            code = CANNOT_EXECUTE
        finally:
            handed_back = _handoff.end()
            self._flush(sys.stdout, sys.stderr, saved_out, saved_err)
            _streams.restore_fds(saved_fds)
            sys.argv, sys.stdout, sys.stderr = saved_argv, saved_out, saved_err
            os.chdir(saved_cwd)
            if spools is not None:
                try:
                    spools.end()
                except OSError as exc:  # the job's result stands
                    print(f"flytecore worker: job {job_id}'s output was lost: {exc}", file=sys.stderr)
        return code, self._rss(), note, handed_back

    def _run_in_process(self, argv: tuple[str, ...]) -> int:
        try:
            return _exit_code(self._resolve(argv[0])(list(argv[1:])))
        except SystemExit as exc:
            return _exit_code(exc.code)
        except BaseException:
            # The entrypoint catches task errors itself; this is a bug there or a broken command.
            traceback.print_exc()
            return 1

    def _resolve(self, name: str) -> InProcessFunction:
        function = self._resolved.get(name)
        if function is None:
            module_name, _, attribute = self._commands[name].partition(":")
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
            function = self._resolved[name] = target
        return function

    def _flush(self, *streams: Any) -> None:
        _streams.flush(*streams)  # Python's buffers, then C stdio's (printf() of C extensions)

    def _rss(self) -> int | None:
        if not self._measure_rss:
            return None
        try:
            with open("/proc/self/statm", "rb") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            import resource

            # Not Linux: the peak is the best this platform tells (bytes on macOS).
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_subprocess(argv: tuple[str, ...]) -> int:
    import subprocess

    # fds 1 and 2, os.environ and the cwd are already the job's: the child inherits them.
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, check=False).returncode
    except FileNotFoundError:
        print(f"flytecore worker: command not found: {argv[0]}", file=sys.stderr)
        return NOT_FOUND
    except PermissionError as exc:
        print(f"flytecore worker: cannot run {argv[0]}: {exc}", file=sys.stderr)
        return CANNOT_EXECUTE


def _exit_code(value: object) -> int:
    """sys.exit()'s rules: None is 0, an int is itself, anything else is printed and 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)
    return 1
