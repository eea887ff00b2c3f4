"""Transformers of ``FlyteFile`` / ``os.PathLike`` and ``FlyteDirectory``: blobs.

A local path is uploaded to a fresh location under the raw output prefix of the current file
access (in a local run, a local temporary folder: values reach the next task through a copy,
as they do remotely); a remote URL is kept as it is. A literal becomes an object that downloads
lazily. Unlike flytekit, a value declared as plain ``os.PathLike`` is uploaded too, since a
local path means nothing on another machine.
"""

from __future__ import annotations

import os
from typing import Any

from flytecore.sdk.data import FileAccess, current_file_access
from flytecore.sdk.transformers.pickled import PYTHON_PICKLE_FORMAT
from flytecore.sdk.type_engine import (
    TypeTransformer,
    describe_literal,
    describe_value,
    mismatch,
    type_name,
)
from flytecore.sdk.types.files import FlyteDirectory, FlyteFile
from flytecore.spec.literals import Blob, BlobMetadata, Literal, Scalar
from flytecore.spec.types import BlobDimensionality, BlobType, LiteralType

__all__ = ["FlyteDirectoryTransformer", "FlyteFileTransformer"]


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _in_raw_store(file_access: FileAccess, path: str) -> bool:
    # Written straight into the raw output store (``new_remote_file`` in a local run): no copy.
    prefix = file_access.raw_output_prefix
    return not file_access.is_remote(prefix) and os.path.abspath(path).startswith(prefix.rstrip(os.sep) + os.sep)


class _BlobTransformer(TypeTransformer[Any]):
    """What files and folders share; subclasses say which class, dimensionality and checks."""

    cls: type
    dimensionality: BlobDimensionality
    what: str  # "file" or "folder", for messages

    def _format(self, python_type: Any) -> str:
        return python_type.extension() if isinstance(python_type, type) and issubclass(python_type, self.cls) else ""

    def _target(self, python_type: Any) -> Any:
        return python_type if isinstance(python_type, type) and issubclass(python_type, self.cls) else self.cls

    def _exists(self, path: str) -> bool:
        raise NotImplementedError

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """A blob type with the declared format."""
        return LiteralType(blob=BlobType(format=self._format(python_type), dimensionality=self.dimensionality))

    def _upload(self, source: str, destination: str | bool | None, value: Any, expected: LiteralType) -> str:
        file_access = current_file_access()
        if destination is False or file_access.is_remote(source):
            return source
        local = _local(source)
        if not self._exists(local):
            raise mismatch(expected, f"{describe_value(value)}, which is not an existing local {self.what}")
        if isinstance(destination, str):
            return file_access.put(local, destination, recursive=self.dimensionality == BlobDimensionality.MULTIPART)
        if _in_raw_store(file_access, local):
            return local
        multipart = self.dimensionality == BlobDimensionality.MULTIPART
        target = file_access.random_remote_path("" if multipart else os.path.basename(local))
        return file_access.put(local, target, recursive=multipart)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A blob of the value: an instance of the class, a str or an ``os.PathLike``."""
        uri = self._uri(value, expected)
        blob_type = expected.blob or BlobType(format=self._format(python_type), dimensionality=self.dimensionality)
        return Literal(scalar=Scalar(blob=Blob(metadata=BlobMetadata(type=blob_type), uri=uri)))

    def _uri(self, value: Any, expected: LiteralType) -> str:
        raise NotImplementedError

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        """A local object for a local blob, a lazily downloading one for a remote blob."""
        blob = literal.scalar.blob if literal.scalar is not None else None
        if blob is None or blob.metadata.type.dimensionality != self.dimensionality:
            raise mismatch(type_name(python_type), describe_literal(literal))
        target = self._target(python_type)
        uri = blob.uri
        file_access = current_file_access()
        if not file_access.is_remote(uri):
            if not self._exists(_local(uri)):
                raise mismatch(type_name(python_type), f"{describe_literal(literal)}: no such local {self.what}")
            return target(_local(uri))
        return target.from_source(uri)


class FlyteFileTransformer(_BlobTransformer):
    """``FlyteFile``, ``FlyteFile[fmt]`` and ``os.PathLike`` as single-file blobs."""

    name, python_type = "FlyteFilePath", FlyteFile
    cls, dimensionality, what = FlyteFile, BlobDimensionality.SINGLE, "file"

    def matches(self, python_type: Any) -> bool:
        """FlyteFile (and its format subclasses) and ``os.PathLike``."""
        return python_type is os.PathLike or (isinstance(python_type, type) and issubclass(python_type, FlyteFile))

    def _exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def _uri(self, value: Any, expected: LiteralType) -> str:
        if isinstance(value, FlyteFile):
            if value.remote_source:
                return value.remote_source  # an input passed on: no copy
            if value._downloader is not None and not os.path.exists(value.path):
                value.download()
            return self._upload(value.path, value.remote_path, value, expected)
        if isinstance(value, str | os.PathLike) and not isinstance(value, FlyteDirectory):
            return self._upload(os.fspath(value), None, value, expected)
        raise mismatch(expected, describe_value(value))

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``FlyteFile[format]`` for a single-file blob that is not a pickle."""
        blob = literal_type.blob
        if blob is None or blob.dimensionality != BlobDimensionality.SINGLE or blob.format == PYTHON_PICKLE_FORMAT:
            return None
        return FlyteFile[blob.format] if blob.format else FlyteFile


class FlyteDirectoryTransformer(_BlobTransformer):
    """``FlyteDirectory`` and ``FlyteDirectory[fmt]`` as multipart blobs."""

    name, python_type = "FlyteDirectory", FlyteDirectory
    cls, dimensionality, what = FlyteDirectory, BlobDimensionality.MULTIPART, "folder"

    def matches(self, python_type: Any) -> bool:
        """FlyteDirectory and its format subclasses."""
        return isinstance(python_type, type) and issubclass(python_type, FlyteDirectory)

    def _exists(self, path: str) -> bool:
        return os.path.isdir(path)

    def _uri(self, value: Any, expected: LiteralType) -> str:
        if isinstance(value, FlyteDirectory):
            if value.remote_source:
                return value.remote_source
            if value._downloader is not None and not os.path.exists(value.path):
                value.download()
            return self._upload(value.path, value.remote_directory, value, expected)
        if isinstance(value, str | os.PathLike) and not isinstance(value, FlyteFile):
            return self._upload(os.fspath(value), None, value, expected)
        raise mismatch(expected, describe_value(value))

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``FlyteDirectory[format]`` for a multipart blob."""
        blob = literal_type.blob
        if blob is None or blob.dimensionality != BlobDimensionality.MULTIPART:
            return None
        return FlyteDirectory[blob.format] if blob.format else FlyteDirectory

