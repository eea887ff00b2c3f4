"""Documents a warm worker and the task entrypoint it runs in-process hand each other in memory
instead of through storage: a task's small ``inputs.pb`` comes with its job, its small
``outputs.pb`` goes back with the job's result.

A sandbox task that takes an integer and returns one would otherwise create a node folder, an
inputs file, an attempt folder and an outputs file — four new inodes, the largest and least
predictable part of a short task's cost on a local disk — for documents the propeller has in
hand before and reads right after. The propeller keeps such data in its workflow store and sends
it to the admin inline in events (FlyteAdmin's inline event data); larger documents, remote
storage and commands that run as subprocesses go through storage as before.

The worker sets the hand-off for one job (:func:`begin`, :func:`end`); the entrypoint asks
:func:`given` before reading its inputs and offers its document to :func:`take` before writing
it. Outside a worker's job both answer "no": nothing is handed, everything goes to storage.

Outputs in memory are not durable until the propeller saves its round: if it is killed in
between, the attempt is lost and runs again. So only a short attempt hands its outputs back
(at most :data:`SHORT` seconds from the start of its task, :func:`running`: loading the task's
code, a first import in a new worker, is not what a warm worker repeats): running it again costs
little, and a longer one's outputs are written, the file's cost being small beside its run time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

__all__ = ["LIMIT", "OUTPUTS", "SHORT", "begin", "end", "environ", "given", "running", "take"]

LIMIT = 64 * 1024
"""The largest document handed over in memory (bytes); larger ones go through storage."""

SHORT = 0.1
"""An attempt whose task ran longer (seconds; from the job's start, or from :func:`running`)
writes its outputs, durable at once, instead."""

OUTPUTS = "outputs.pb"
"""The one document handed back: a task's outputs (``futures.pb`` and ``error.pb``, rare and
read by other paths, are always written)."""

_given: Mapping[str, bytes] = {}
_environ: Mapping[str, str] | None = None
_prefix: str | None = None
_taken: dict[str, bytes] = {}
_began = 0.0


def begin(given: Mapping[str, bytes], hand_back: str | None, environ: Mapping[str, str] | None = None) -> None:
    """For the job about to run: ``given`` holds documents by URI (instead of storage);
    ``hand_back``, an output prefix whose outputs document comes back with the result;
    ``environ``, the job's environment as the worker made os.environ, decoded (the entrypoint
    then reads its variables from it, instead of decoding os.environ again)."""
    global _given, _prefix, _began, _environ
    _given, _prefix, _began, _environ = given, hand_back, time.monotonic(), environ
    _taken.clear()


def end() -> dict[str, bytes]:
    """The job ended: the documents it handed back, by file name; the hand-off is cleared."""
    global _given, _prefix, _environ
    taken = dict(_taken)
    _given, _prefix, _environ = {}, None, None
    _taken.clear()
    return taken


def running() -> None:
    """The job's task starts now (its code is loaded): a short attempt is counted from here."""
    global _began
    _began = time.monotonic()


def environ() -> Mapping[str, str] | None:
    """The job's environment the worker handed over (see :func:`begin`), or None: read os.environ."""
    return _environ


def given(uri: str) -> bytes | None:
    """The document at ``uri`` if the job was handed it, else None (read storage)."""
    return _given.get(uri)


def take(prefix: str, name: str, data: bytes) -> bool:
    """Offer document ``name`` written into output prefix ``prefix``: True if it goes back with
    the job's result (then it must not be written), False to write it to storage."""
    if prefix != _prefix or name != OUTPUTS or len(data) > LIMIT or time.monotonic() - _began > SHORT:
        return False
    _taken[name] = data
    return True
