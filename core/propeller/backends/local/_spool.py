"""A job's stdout and stderr through its worker's spool files: a log file appears only when the
job writes to it.

Most tasks print nothing, and creating a file is the dearest thing a job does on a local disk
(a new inode: ~20 µs on a quiet disk, up to a millisecond on a busy or virtualised one, against
~10 µs for opening or renaming). So a worker keeps one spool file per stream, points the job's
file descriptors 1 and 2 at them, and publishes a spool at the job's log path -- a hard link,
no copy -- once something was written: within :data:`PUBLISH_EVERY` seconds while the job runs
(``flytecore logs`` follows it live from then on, as it followed the file before) and at the
latest when the job ends, before the worker answers. A published spool is the job's log file
now; the worker makes a new one for the next job. An empty spool is kept for the next job.

A job whose worker dies (a crash, a timeout, a cancellation) is published by the pool, which
knows its slots' spool paths; the next worker of the slot starts with new files and never
truncates old ones (a published spool is somebody's log).

Where a hard link cannot be made (the log path on another file system than the spools), the
content is copied when the job ends, and that worker opens the log files directly from then on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading

__all__ = ["PUBLISH_EVERY", "Spools", "link", "publish", "publish_if_written", "streams"]

PUBLISH_EVERY = 0.25
"""Seconds between a worker's checks for written spools while a job runs."""

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)


def link(spool: str, target: str) -> bool:
    """Make ``target`` a hard link to the spool file (its later writes show there too); False
    if no link can be made there (another file system, or one without hard links). The folder
    of ``target`` is created when missing; a ``target`` that is another file is replaced.
    """
    for _ in range(3):
        try:
            os.link(spool, target)
            return True
        except FileNotFoundError:
            if not os.path.exists(spool):
                raise
            os.makedirs(os.path.dirname(target), exist_ok=True)
        except FileExistsError:
            if os.path.samefile(spool, target):
                return True
            os.unlink(target)  # a stale log of the same path (a job run again): replaced, as O_TRUNC did
        except OSError:
            return False
    return False


def publish(spool: str, target: str, *, linkable: bool = True) -> bool:
    """Give ``target`` what the spool holds: a hard link where one can be made (and
    ``linkable``), else a copy. Returns whether it is a link."""
    if linkable and link(spool, target):
        return True
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(spool, target)
    return False


def streams(stdout_path: str | None, stderr_path: str | None) -> dict[str, int]:
    """A job's log path -> the index of the spool that holds it (0: stdout's, 1: stderr's); a
    stream without a path has none, both streams to one path share stdout's."""
    used: dict[str, int] = {}
    for index, path in enumerate((stdout_path, stderr_path)):
        if path is not None:
            used.setdefault(path, index)
    return used


def publish_if_written(spool: str, target: str) -> None:
    """:func:`publish`, for a job whose worker died (the worker could not); nothing for an
    empty or missing spool (a worker that died before its first job)."""
    try:
        if os.path.getsize(spool) == 0:
            return
    except FileNotFoundError:
        return
    publish(spool, target)


class Spools:
    """One worker's spool files (stdout and stderr) and the job they belong to now.

    The worker's main thread calls :meth:`begin` and :meth:`end` around each job; its publishing
    thread calls :meth:`publish_written` every :data:`PUBLISH_EVERY` seconds.
    """

    def __init__(self, stdout_spool: str, stderr_spool: str) -> None:
        self.paths = (stdout_spool, stderr_spool)
        self.linkable = True
        """False once a link failed: the worker then opens jobs' log files directly."""
        self._fds: list[int] = []
        self._lock = threading.Lock()
        # The running job's streams: [spool index, log path, published] per spool it uses.
        self._job: list[list] = []
        for path in self.paths:
            self._fds.append(self._create(path))

    @staticmethod
    def _create(path: str) -> int:
        # Never truncate: the file under this name may be a log published by a dead worker.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return os.open(path, _FLAGS, 0o644)

    def begin(self, stdout_path: str | None, stderr_path: str | None) -> list[tuple[int, int]]:
        """Point fds 1 and 2 at the spools for a job logging to these paths; returns the
        ``(fd, saved copy)`` pairs that undo it (:func:`flytecore.sdk._streams.restore_fds`).
        A stream without a path keeps its fd (see :func:`streams`)."""
        used = streams(stdout_path, stderr_path)
        saved: list[tuple[int, int]] = []
        for target, path in ((1, stdout_path), (2, stderr_path)):
            if path is not None:
                saved.append((target, os.dup(target)))
                os.dup2(self._fds[used[path]], target)
        with self._lock:
            self._job = [[index, path, False] for path, index in used.items()]
        return saved

    def publish_written(self) -> None:
        """Publish the running job's spools that have something in them (live: hard links)."""
        with self._lock:
            self._publish(live=True)

    def end(self) -> None:
        """After the job (fds restored): publish what it wrote, and give each published spool a
        new file for the next job."""
        with self._lock:
            try:
                self._publish(live=False)
            finally:  # the next job starts from an empty spool, whatever happened to this one's
                for index, _, _ in self._job:
                    if os.fstat(self._fds[index]).st_size:
                        os.close(self._fds[index])
                        self._fds[index] = self._create(self.paths[index])
                self._job = []

    def _publish(self, *, live: bool) -> None:
        for stream in self._job:
            index, path, published = stream
            if published or os.fstat(self._fds[index]).st_size == 0:
                continue
            if live:  # a link only: a copy is made once, when nothing more comes
                stream[2] = self.linkable and link(self.paths[index], path)
                self.linkable = stream[2]
            else:
                self.linkable = publish(self.paths[index], path, linkable=self.linkable)
                stream[2] = True
