"""Pointing a process's file descriptors 1 and 2 (and its environment) at one job, then back.

Shared by the local backend's warm worker (:mod:`flytecore.propeller.backends.local.worker`),
which runs one job after another in the same process, and the task entrypoint's batch mode
(``flytecore-execute --array-elements``), which runs one map element after another: each gets
its own stdout and stderr files and its own ``os.environ``, and the next one starts from the
state the previous one found. In the sdk, so the entrypoint does not import the propeller.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["decode_environ", "environ_data", "environ_variables", "flush", "open_log", "redirect", "restore_environ", "restore_fds", "set_environ"]


def redirect(stdout_path: str | None, stderr_path: str | None) -> list[tuple[int, int]]:
    """Point fds 1 and 2 at the job's files; return ``(fd, saved copy)`` pairs to undo it
    (:func:`restore_fds`). Flush the streams writing to them first (:func:`flush`)."""
    opened: dict[str, int] = {}
    saved: list[tuple[int, int]] = []
    try:
        for target, path in ((1, stdout_path), (2, stderr_path)):
            if path is None:
                continue
            if path not in opened:  # one file for both streams: one open file description
                opened[path] = open_log(path)
            saved.append((target, os.dup(target)))
            os.dup2(opened[path], target)
    except OSError:
        restore_fds(saved)
        raise
    finally:
        for fd in opened.values():
            os.close(fd)
    return saved


def open_log(path: str, *, append: bool = False) -> int:
    """Open a job's log file (emptied unless ``append``), creating its folder (the attempt's
    output prefix) on first use: the job's process does it, not the propeller's loop, which
    would pay a mkdir per task."""
    # Readable too: a batch of map elements moves each element's part out of the job's files.
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o644)


def restore_fds(saved: list[tuple[int, int]]) -> None:
    """Undo :func:`redirect`."""
    for target, copy in saved:
        os.dup2(copy, target)
        os.close(copy)


def flush(*streams: Any) -> None:
    """Flush ``streams`` (Python's buffers) and C stdio's buffers (printf() output of C
    extensions), so what was written so far lands in the files fds 1 and 2 point at now."""
    for stream in streams:
        try:
            stream.flush()
        except Exception:
            pass  # a job may have closed or replaced its streams
    if _libc_fflush is not None:
        _libc_fflush(None)


def _find_fflush() -> Callable[[None], int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None).fflush  # type: ignore[no-any-return]
    except (ImportError, OSError, AttributeError):
        return None


_libc_fflush = _find_fflush()


def environ_data() -> dict[Any, Any]:
    """os.environ's own dict: encoded on CPython, which copies and compares in a microsecond,
    where decoding every variable costs ~2 µs each -- the largest part of a trivial job's overhead.
    Save it with ``environ_data().copy()``, put it back with :func:`restore_environ`.
    """
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else dict(os.environ)


def _is_encoded(data: dict[Any, Any]) -> bool:
    """Whether ``data`` (from :func:`environ_data`) is os.environ's encoded dict (POSIX CPython)."""
    return data is not os.environ and data is getattr(os.environ, "_data", None)


def environ_variables(prefixes: tuple[str, ...]) -> dict[str, str]:
    """The variables of os.environ whose names start with one of ``prefixes``, decoded once
    (looking each up in os.environ encodes its name again)."""
    data = environ_data()
    if _is_encoded(data):
        encoded = tuple(_encode(prefix) for prefix in prefixes)
        return {decode_environ(k): decode_environ(v) for k, v in data.items() if k.startswith(encoded)}
    return {k: v for k, v in data.items() if k.startswith(prefixes)}


_FS = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


@functools.lru_cache(maxsize=4096)
def _encode(text: str) -> bytes:
    """os.fsencode for a str, cached: a worker's jobs set the same names and mostly the same
    values again and again."""
    return text.encode(*_FS)


def decode_environ(data: bytes) -> str:
    """os.fsdecode for os.environ's encoded names and values (a third of its cost)."""
    return data.decode(*_FS)


def restore_environ(saved: dict[Any, Any]) -> None:
    """Undo a job's changes to os.environ (``saved`` from environ_data().copy()), key by key."""
    set_environ(saved)


def set_environ(base: dict[Any, Any], extra: Mapping[str, str] | None = None) -> None:
    """Make os.environ ``base`` (from environ_data().copy()) with ``extra`` on top, changing only
    the variables that differ from what it holds now: a warm worker's consecutive jobs mostly
    share their variables (the execution's, the task's), and each change costs a putenv."""
    current = environ_data()
    encoded = _is_encoded(current)
    target = base
    if extra:
        encode: Any = _encode if encoded else str  # how os.environ encodes, on POSIX
        target = base.copy()
        _check_strings(extra)
        for key, value in extra.items():
            target[encode(key)] = encode(value)
    if current == target:
        return
    decode: Any = decode_environ if encoded else str
    # Through os.environ, not its dict: its setters and deleters also update the C environment.
    for key in [key for key in current if key not in target]:
        del os.environ[decode(key)]
    for key, value in target.items():
        if current.get(key) != value:
            os.environ[decode(key)] = decode(value)


def _check_strings(variables: Mapping[str, str]) -> None:
    """Refuse, before anything changes, a variable whose name or value is not a string."""
    for key, value in variables.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"environment variables are strings, not {key!r}={value!r}")


class JobEnviron:
    """os.environ for a warm worker's jobs, one after another: ``base`` (from
    ``environ_data().copy()``) plus each job's variables.

    Consecutive jobs share most variables (the execution's, the task's; a chain's next node
    changes two or three): when the job before left os.environ as it was given, only the
    variables the two jobs set differently are changed; otherwise (a job changed the environment
    itself) the whole of it is compared and put right, as :func:`set_environ` does.
    """

    def __init__(self, base: dict[Any, Any]) -> None:
        self._base = base
        self._extra: Mapping[str, str] = {}
        self._made: dict[Any, Any] | None = None  # os.environ's data as the last enter() left it
        self._decoded: dict[str, str] | None = None

    def enter(self, extra: Mapping[str, str]) -> None:
        """Make os.environ the base plus ``extra`` for the next job."""
        _check_strings(extra)
        current = environ_data()
        if self._made is not None and _is_encoded(current) and current == self._made:
            base, before = self._base, self._extra
            for key in before:
                if key not in extra:  # the job before set it: back to the base's value, or none
                    value = base.get(_encode(key))
                    if value is None:
                        del os.environ[key]
                    else:
                        os.environ[key] = decode_environ(value)
            for key, value in extra.items():
                if before.get(key) != value:
                    os.environ[key] = value
        else:
            set_environ(self._base, extra)
        self._extra = dict(extra)
        self._made = environ_data().copy()

    def variables(self) -> dict[str, str]:
        """The environment :meth:`enter` made, decoded (the base's variables decoded once)."""
        if self._decoded is None:
            decode: Any = decode_environ if _is_encoded(environ_data()) else str
            self._decoded = {decode(k): decode(v) for k, v in self._base.items()}
        return {**self._decoded, **self._extra}
