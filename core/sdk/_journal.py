"""The journal of a batch of map elements (``flytecore-execute --array-elements``): one file the
batch appends to, read by the propeller once the batch ended.

Each record is one ``write`` of a header (kind, element index, payload length; little-endian
``<BII``) and its payload: ``STARTED`` when an element starts (its payload: the sizes of the
batch's stdout and stderr files then, ``<QQ``: what the element wrote is after them), then
``OUTPUTS`` (a ``LiteralMap``) or ``ERROR`` (an ``ErrorDocument``) when it ends. A record cut short (the process
died while writing it) is ignored, as is anything after it. An element with ``STARTED`` and no
document is one the process died under; one without ``STARTED`` never ran.

One append per record to a file that stays open replaces what a single attempt does with its
own documents (a folder and a file each): the difference is most of what a trivial element
costs on a disk.
"""

from __future__ import annotations

import os
import struct

import attrs

__all__ = ["ERROR", "OUTPUTS", "STARTED", "Journal", "ElementRecord", "read_journal"]

STARTED, OUTPUTS, ERROR = 1, 2, 3
_HEADER = struct.Struct("<BII")
_OFFSETS = struct.Struct("<QQ")


class Journal:
    """Appends records to the journal at ``path`` (created, with its folder, if needed)."""

    def __init__(self, path: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            self._fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._fd = os.open(path, flags, 0o644)

    def started(self, index: int, stdout_offset: int, stderr_offset: int) -> None:
        self.record(STARTED, index, _OFFSETS.pack(stdout_offset, stderr_offset))

    def record(self, kind: int, index: int, payload: bytes = b"") -> None:
        data = _HEADER.pack(kind, index, len(payload)) + payload
        written = os.write(self._fd, data)
        while written < len(data):  # a regular file takes it whole; be safe anyway
            written += os.write(self._fd, data[written:])

    def close(self) -> None:
        os.close(self._fd)


@attrs.define
class ElementRecord:
    """What a journal says about one element: it started (where its output begins in the batch's
    stdout and stderr files), and its document if it wrote one."""

    started: bool = False
    offsets: tuple[int, int] = (0, 0)
    kind: int = 0
    document: bytes | None = None


def read_journal(data: bytes) -> dict[int, ElementRecord]:
    """The journal's records by element index (a later record of an index wins)."""
    found: dict[int, ElementRecord] = {}
    offset, size = 0, len(data)
    while offset + _HEADER.size <= size:
        kind, index, length = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if end > size or kind not in (STARTED, OUTPUTS, ERROR):
            break  # cut short: the process died while writing it
        payload = data[offset + _HEADER.size : end]
        if kind == STARTED:
            offsets = _OFFSETS.unpack(payload) if length == _OFFSETS.size else (0, 0)
            found[index] = ElementRecord(started=True, offsets=offsets)
        else:
            record = found.setdefault(index, ElementRecord(started=True))
            record.kind, record.document = kind, payload
        offset = end
    return found
