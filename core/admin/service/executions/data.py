"""The Get*Data calls' shared answer: recorded literal maps, in full and as locations.

A literal map is recorded by location (a file in metadata storage) or, when small, in the
database itself: an execution's inputs (see :mod:`flytecore.admin.service.executions.create`)
and the inline event data of node and task executions (see
:mod:`flytecore.admin.service.events.recording`). Either way the calls answer it in full
(``full_inputs`` / ``full_outputs``); the location (``inputs`` / ``outputs``) is empty for data
kept in the database, as FlyteAdmin answers: there is no file to point at.
"""

from __future__ import annotations

from typing import TypeVar

from flyteidl.admin import common_pb2
from flyteidl.core import literals_pb2
from google.protobuf.message import DecodeError, Message

from flytecore.admin.service.errors import FailedPreconditionError
from flytecore.admin.storage import InvalidStoragePath, MetadataStore, StorageNotFound

__all__ = ["data_response", "inline_literal_map", "literal_map_data"]

M = TypeVar("M", bound=Message)


def literal_map_data(
    store: MetadataStore, uri: str, inline: literals_pb2.LiteralMap | None = None
) -> tuple[literals_pb2.LiteralMap, common_pb2.UrlBlob]:
    """A recorded literal map and its location, as the Get*Data calls return them: read from
    ``uri``; with no URI, ``inline`` (the map kept in the database) and an empty location.
    Nothing recorded (yet) reads as an empty map, so data calls work while an execution is
    still running."""
    if not uri:
        return (inline if inline is not None else literals_pb2.LiteralMap()), common_pb2.UrlBlob()
    try:
        data = store.read_bytes(uri)
        return literals_pb2.LiteralMap.FromString(data), common_pb2.UrlBlob(url=uri, bytes=len(data))
    except StorageNotFound:
        return literals_pb2.LiteralMap(), common_pb2.UrlBlob(url=uri)
    except (InvalidStoragePath, DecodeError) as exc:  # a URI an engine reported; say what is wrong with it
        raise FailedPreconditionError(f"the recorded data at {uri} cannot be read: {exc}") from exc


def inline_literal_map(data: bytes | None, what: str) -> literals_pb2.LiteralMap | None:
    """A literal map kept in the database (serialized ``data``), None if there is none.

    :raises FailedPreconditionError: the bytes are not a literal map, naming ``what``.
    """
    if data is None:
        return None
    try:
        return literals_pb2.LiteralMap.FromString(data)
    except DecodeError as exc:
        raise FailedPreconditionError(f"the recorded {what} cannot be read: {exc}") from exc


def data_response(
    store: MetadataStore,
    response: type[M],
    input_uri: str,
    output_uri: str,
    *,
    inline_inputs: literals_pb2.LiteralMap | None = None,
    inline_outputs: literals_pb2.LiteralMap | None = None,
) -> M:
    """A Get*DataResponse: the inputs and outputs in full and as locations; the ``inline_*``
    maps (kept in the database) stand in for a URI that is empty."""
    full_inputs, inputs = literal_map_data(store, input_uri, inline_inputs)
    full_outputs, outputs = literal_map_data(store, output_uri, inline_outputs)
    return response(inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs)
