"""The pool's side of one worker process: start it, talk to it, notice its death, kill it."""

from __future__ import annotations

import math
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# `python -c` rather than `-m`: the worker module is imported, not run as __main__, so pickled
# references to it mean the same thing on both sides.
_BOOT = "import sys; from flytecore.propeller.backends.local.worker import main; main(int(sys.argv[1]))"

READY = "ready"


class WorkerProcess:
    """One warm worker: a ``python`` child in its own process group, a socket pair to it.

    Its own process group lets a kill reach the job's subprocesses too (container tasks), and
    keeps a terminal's Ctrl-C away from the workers: the pool decides when they stop.
    """

    def __init__(self, init: Mapping[str, Any], *, env: Mapping[str, str], log_path: Path | None) -> None:
        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        log = open(log_path, "ab") if log_path is not None else None  # the child keeps its own copy
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
                # Without a log folder the worker's own stderr (startup errors) is the pool's.
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=log,
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
            if log is not None:
                log.close()
        self.pid = self.proc.pid
        self.log_path = log_path
        self.ready = False
        self._conn = parent_end
        # kill() and reaping exclude each other, so a kill never hits a recycled pid.
        self._lock = threading.Lock()
        # A pidfd tells us the worker died even if a process it forked still holds its socket.
        self._pidfd: int | None = _pidfd_open(self.pid)
        self._poller = select.poll()
        self._poller.register(self._conn.fileno(), select.POLLIN)
        if self._pidfd is not None:
            self._poller.register(self._pidfd, select.POLLIN)
        self._conn.send(init)

    def send(self, message: object) -> bool:
        """Send a message; False if the worker is gone."""
        try:
            self._conn.send(message)
        except OSError:
            return False
        return True

    def receive(self, deadline: float | None) -> tuple[str, Any]:
        """Wait for the next message until ``deadline`` (time.monotonic()).

        Returns ``("message", obj)``, ``("died", None)`` or ``("timeout", None)``.
        """
        conn_fd = self._conn.fileno()
        while True:
            if deadline is None:
                wait_ms = None if self._pidfd is not None else 200
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout", None
                wait_ms = math.ceil(remaining * 1000)
                if self._pidfd is None:
                    wait_ms = min(wait_ms, 200)
            events = self._poller.poll(wait_ms)
            # Read the socket before believing a death: the last result may be waiting there.
            if any(fd == conn_fd for fd, _ in events):
                try:
                    return "message", self._conn.recv()
                except (EOFError, OSError):
                    return "died", None
            if events or (self._pidfd is None and self.proc.poll() is not None):
                return "died", None

    def wait_ready(self, deadline: float) -> str:
        """Wait for the worker's hello: ``"ready"``, ``"died"`` or ``"timeout"``."""
        if self.ready:
            return READY
        kind, message = self.receive(deadline)
        if kind == "message" and isinstance(message, tuple) and message[:1] == (READY,):
            self.ready = True
            return READY
        return "died" if kind == "message" else kind

    def alive(self) -> bool:
        """True while the worker process runs (a dead one is reaped here)."""
        with self._lock:
            return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its process group (its job's subprocesses); safe to repeat."""
        with self._lock:
            if self.proc.returncode is not None:
                return  # reaped: its pid may belong to someone else by now
            for kill, target in ((os.killpg, self.pid), (os.kill, self.pid)):
                try:
                    kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def reap(self, timeout: float = 30.0) -> int | None:
        """Wait for the worker to exit (call after kill or stop); its exit status, or None."""
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
            with self._lock:
                returncode = self.proc.poll()
        else:
            deadline = time.monotonic() + timeout
            while True:
                with self._lock:
                    returncode = self.proc.poll()
                if returncode is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
        if returncode is not None:
            self._close()
        return returncode

    def stop(self, deadline: float) -> None:
        """Ask the worker to exit; kill it if it has not by ``deadline``; reap it."""
        self.send(None)
        if self.reap(timeout=max(0.0, deadline - time.monotonic())) is None:
            self.kill()
            self.reap()

    def death(self, returncode: int | None) -> str:
        """How the worker ended, as a phrase: "died with signal SIGSEGV", "exited with code 3"."""
        if returncode is None:
            return "did not exit after SIGKILL"
        if returncode >= 0:
            return f"exited with code {returncode}"
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        phrase = f"died with signal {name}"
        if -returncode == signal.SIGKILL:
            phrase += " (killed from outside the pool, e.g. by the kernel's out-of-memory killer)"
        return phrase

    def _close(self) -> None:
        self._conn.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _pidfd_open(pid: int) -> int | None:
    """A pidfd for ``pid``, or None where there is none: no ``os.pidfd_open`` (not Linux), or a
    kernel that refuses it (before 5.3, a seccomp filter, an emulator such as valgrind): the
    worker's death is then seen by polling its exit status."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None
