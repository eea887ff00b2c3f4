"""The propeller's storage I/O: flyteidl documents (``inputs.pb``, ``outputs.pb``, ``error.pb``,
``futures.pb``) at fsspec URIs.

The propeller never imports the admin (DESIGN.md, floors), so it has this small reader and
writer of its own; the layout it reads and writes is the one the workflow object names
(``{metadata_prefix}/nodes/{node}/...``), which the admin serves back to clients.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import fsspec
from flyteidl.core import errors_pb2
from fsspec.utils import get_protocol

from flytecore.sdk.data import filesystem_for
from flytecore.spec import idl
from flytecore.spec.execution import ErrorKind, ExecutionError
from flytecore.spec.literals import LiteralMap

__all__ = ["FsspecDataStore", "error_from_document"]


def error_from_document(data: bytes, uri: str = "") -> tuple[ExecutionError, bool]:
    """An ``error.pb`` as an execution error, and whether a retry may succeed (RECOVERABLE)."""
    doc = errors_pb2.ErrorDocument.FromString(data)
    error = doc.error
    try:
        kind = ErrorKind(error.origin)
    except ValueError:
        kind = ErrorKind.UNKNOWN
    if kind == ErrorKind.UNKNOWN:
        kind = ErrorKind.USER
    return (
        ExecutionError(code=error.code, message=error.message, error_uri=uri, kind=kind),
        error.kind == errors_pb2.ContainerError.RECOVERABLE,
    )


class FsspecDataStore:
    """Reads and writes documents through fsspec, one filesystem per protocol."""

    def __init__(self) -> None:
        self._filesystems: dict[str, fsspec.AbstractFileSystem] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _local_path(uri: str) -> str | None:
        """The path of a URI on the local disk (no scheme, or ``file://``), else None: such
        documents are read and written with plain file calls, the common case that runs once
        or twice per task."""
        if uri.startswith("file://"):
            return uri[len("file://") :]
        if uri.startswith("/") or "://" not in uri:
            return uri
        return None

    def _fs(self, uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
        protocol = get_protocol(uri)
        with self._lock:
            fs = self._filesystems.get(protocol)
            if fs is None:
                fs = self._filesystems[protocol] = filesystem_for(uri)
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        return fs, path

    def write_bytes(self, uri: str, data: bytes, *, unread: bool = False) -> None:
        """Write ``data`` at ``uri`` (whole; a reader never sees half of it on a local disk).

        :param unread: nothing reads ``uri`` before this returns (the inputs of a node about to
            start: its task is submitted after): on a local disk the file is written in place,
            without the temporary file and rename that keep readers from seeing half of it.
        """
        path = self._local_path(uri)
        if path is None and get_protocol(uri) == "local":
            path = uri[len("local://") :]
        if path is not None:
            tmp = path if unread else f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
            try:
                f = open(tmp, "wb")
            except FileNotFoundError:  # the folder's first document
                os.makedirs(os.path.dirname(path), exist_ok=True)
                f = open(tmp, "wb")
            with f:
                f.write(data)
            if tmp != path:
                os.replace(tmp, path)
            return
        fs, path = self._fs(uri)
        fs.pipe_file(path, data)

    def read_bytes(self, uri: str) -> bytes | None:
        """The bytes at ``uri``, None if nothing is there."""
        local = self._local_path(uri)
        if local is not None:
            try:
                with open(local, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
        fs, path = self._fs(uri)
        try:
            data: Any = fs.cat_file(path)
        except FileNotFoundError:
            return None
        return bytes(data)

    def write_literal_map(self, uri: str, literal_map: LiteralMap, *, unread: bool = False) -> None:
        """Write a LiteralMap protobuf (``unread``: see :meth:`write_bytes`)."""
        self.write_bytes(uri, idl.literal_map_to_bytes(literal_map), unread=unread)

    def read_literal_map(self, uri: str) -> LiteralMap | None:
        """The LiteralMap protobuf at ``uri``, None if missing."""
        data = self.read_bytes(uri)
        return None if data is None else idl.literal_map_from_bytes(data)

    def read_error(self, uri: str) -> ExecutionError | None:
        """The ErrorDocument at ``uri`` as an execution error, None if missing."""
        data = self.read_bytes(uri)
        return None if data is None else error_from_document(data, uri)[0]
