"""The Get*Data calls' shared answer: stored literal maps, in full and as locations."""

from __future__ import annotations

from typing import TypeVar

from flyteidl.admin import common_pb2
from flyteidl.core import literals_pb2
from google.protobuf.message import DecodeError, Message

from flytecore.admin.service.errors import FailedPreconditionError
from flytecore.admin.storage import InvalidStoragePath, MetadataStore, StorageNotFound

__all__ = ["data_response", "literal_map_data"]

M = TypeVar("M", bound=Message)


def literal_map_data(store: MetadataStore, uri: str) -> tuple[literals_pb2.LiteralMap, common_pb2.UrlBlob]:
    """A stored literal map and its location, as the Get*Data calls return them; nothing stored
    (yet) reads as an empty map, so data calls work while an execution is still running."""
    if not uri:
        return literals_pb2.LiteralMap(), common_pb2.UrlBlob()
    try:
        data = store.read_bytes(uri)
        return literals_pb2.LiteralMap.FromString(data), common_pb2.UrlBlob(url=uri, bytes=len(data))
    except StorageNotFound:
        return literals_pb2.LiteralMap(), common_pb2.UrlBlob(url=uri)
    except (InvalidStoragePath, DecodeError) as exc:  # a URI an engine reported; say what is wrong with it
        raise FailedPreconditionError(f"the recorded data at {uri} cannot be read: {exc}") from exc


def data_response(store: MetadataStore, response: type[M], input_uri: str, output_uri: str) -> M:
    """A Get*DataResponse: the inputs and outputs in full and as locations."""
    full_inputs, inputs = literal_map_data(store, input_uri)
    full_outputs, outputs = literal_map_data(store, output_uri)
    return response(inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs)
