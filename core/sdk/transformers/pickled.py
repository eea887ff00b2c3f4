"""The fallback transformer: values of types no transformer handles, as pickle files.

The literal is flytekit's ``FlytePickle`` form: a single-file blob of format ``PythonPickle``
whose file, written through the file access layer, holds the pickled value. ``cloudpickle`` is
used when installed (as flytekit does; it also pickles classes defined in ``__main__``), the
standard ``pickle`` otherwise. Unpickling runs code of the producer's choosing: only read
pickles your own tasks wrote.
"""

from __future__ import annotations

import os
import pickle
import typing
from typing import Any

from flytecore.sdk.data import current_file_access
from flytecore.sdk.type_engine import TypeTransformer, describe_literal, describe_value, mismatch, type_name
from flytecore.spec.literals import Blob, BlobMetadata, Literal, Scalar
from flytecore.spec.types import BlobDimensionality, BlobType, LiteralType

__all__ = ["PYTHON_PICKLE_FORMAT", "PickleTransformer"]

PYTHON_PICKLE_FORMAT = "PythonPickle"
"""Blob format of pickled values (flytekit's ``FlytePickleTransformer.PYTHON_PICKLE_FORMAT``)."""

_BLOB_TYPE = BlobType(format=PYTHON_PICKLE_FORMAT, dimensionality=BlobDimensionality.SINGLE)


def _pickler() -> Any:
    try:
        import cloudpickle
    except ImportError:
        return pickle
    return cloudpickle


class PickleTransformer(TypeTransformer[Any]):
    """Any type without a transformer (a fallback: the engine warns with
    :class:`~flytecore.sdk.type_engine.PickleFallbackWarning` when it is chosen)."""

    name = "FlytePickle"
    python_type = object
    is_fallback = True

    def matches(self, python_type: Any) -> bool:
        """Everything: the engine asks a fallback only when nothing else matched."""
        return True

    def is_instance(self, value: Any, python_type: Any) -> bool:
        """An instance of a class; False for ``Any`` and other non-class types."""
        return isinstance(python_type, type) and isinstance(value, python_type)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """A ``PythonPickle`` blob naming the class in ``metadata`` (as flytekit)."""
        return LiteralType(blob=_BLOB_TYPE, metadata={"python_class_name": str(python_type)})

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """Pickle the value to a file under the raw output prefix."""
        if value is None or (isinstance(python_type, type) and not isinstance(value, python_type)):
            raise mismatch(f"{type_name(python_type)} (pickled)", describe_value(value))
        try:
            data = _pickler().dumps(value)
        except Exception as exc:  # pickling raises many kinds (PicklingError, TypeError, AttributeError …)
            raise mismatch(
                f"{type_name(python_type)} (pickled)", f"{describe_value(value)} that cannot be pickled: {exc}"
            ) from exc
        file_access = current_file_access()
        local = file_access.random_local_path("value.pkl")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "wb") as f:
            f.write(data)
        uri = file_access.put(local, file_access.random_remote_path("value.pkl"))
        return Literal(scalar=Scalar(blob=Blob(metadata=BlobMetadata(type=_BLOB_TYPE), uri=uri)))

    def to_python_value(self, literal: Literal, python_type: Any) -> Any:
        """Unpickle the file a ``PythonPickle`` blob points at."""
        blob = literal.scalar.blob if literal.scalar is not None else None
        if blob is None or blob.metadata.type.format != PYTHON_PICKLE_FORMAT:
            raise mismatch(f"{type_name(python_type)} (pickled)", describe_literal(literal))
        file_access = current_file_access()
        path = blob.uri
        if file_access.is_remote(path):
            path = file_access.get(path, file_access.random_local_path("value.pkl"))
        elif path.startswith("file://"):
            path = path[len("file://") :]
        with open(path, "rb") as f:
            return _pickler().load(f)

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``typing.Any`` for a ``PythonPickle`` blob (the class itself cannot be known)."""
        if literal_type.blob is not None and literal_type.blob.format == PYTHON_PICKLE_FORMAT:
            return typing.Any
        return None
