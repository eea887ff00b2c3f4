"""The garbage collector's settings while flytecore's control plane runs in a process.

An admin and a propeller allocate many short-lived objects per event and per round (statuses,
events, literals, rows), and a large execution's inputs or outputs are tens of thousands of
objects at once. With CPython's defaults (a collection of the youngest generation every 700 net
allocations, and full collections that walk every tracked object) a busy control plane spent
about a fifth of its CPU in the collector, most of it walking the objects it loaded at start-up
(modules, classes, compiled statements, codecs), which live as long as the process.

While a control plane runs (:func:`hold`), those start-up objects are frozen out of the
collector's reach (:func:`gc.freeze`) and the youngest generation is collected every
:data:`SERVICE_THRESHOLD`\\[0] allocations. :func:`release` undoes both when the last holder
stops (an embedded sandbox in a test process), returning the frozen objects to the collector.
Measured in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["SERVICE_THRESHOLD", "hold", "release"]

SERVICE_THRESHOLD = (10_000, 20, 20)
"""``gc.set_threshold`` while a control plane runs: young collections every 10,000 net
allocations (CPython: 700), older generations as often relative to them as CPython's 10, 10."""

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None


def hold() -> None:
    """A control plane starts in this process: freeze what exists and collect less often
    (nested holds count; the first one changes the settings)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*SERVICE_THRESHOLD)
        _holders += 1


def release() -> None:
    """A control plane stopped: when it was the last, the collector's settings as before
    :func:`hold` and the frozen objects back in its reach."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()
            if _saved is not None:
                gc.set_threshold(*_saved)
            _saved = None
