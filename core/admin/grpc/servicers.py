"""flyteidl's gRPC servicers, generated from the service descriptors onto one admin service.

Nothing here is written per RPC. For each served flyteidl service (:data:`SERVED`),
:func:`servicer_class` builds a subclass of the generated servicer (e.g.
``AdminServiceServicer``) with one coroutine per RPC of the service descriptor. The RPC
``CreateTask`` calls the admin service's ``create_task(request)``; a service without that method
answers ``UNIMPLEMENTED`` naming the RPC. So the transport grows by itself as the service layer
gains methods.

Every way a call can fail leaves with a deliberate status, never ``UNKNOWN``:

- :class:`~flytecore.admin.service.errors.AdminError` -> the gRPC status named by its ``code``;
- a request whose bytes are not the RPC's protobuf message -> ``INVALID_ARGUMENT``, naming the
  field whose bytes are corrupt when it can be told (``event.output_data``: a client's corrupt
  inline literal map);
- any other exception (a bug, a lost database) -> ``INTERNAL`` with the exception's type and
  message, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any, NoReturn

import attrs
import grpc
from flyteidl.service import (
    admin_pb2,
    admin_pb2_grpc,
    dataproxy_pb2,
    dataproxy_pb2_grpc,
    signal_pb2,
    signal_pb2_grpc,
)
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from flytecore.admin.service.errors import AdminError

__all__ = [
    "MAX_DETAILS_BYTES",
    "SERVED",
    "MalformedRequest",
    "ServedService",
    "add_servicers",
    "implemented_rpcs",
    "method_name",
    "servicer_class",
    "status_of",
]

log = logging.getLogger(__name__)

MAX_DETAILS_BYTES = 6000
"""Longest status message sent, in UTF-8 bytes. Details travel in a trailing HTTP/2 header and
clients drop headers past 8 KiB by default (gRPC percent-encodes non-ASCII bytes, so the bytes
on the wire can be more); a longer message is cut and logged in full."""


@attrs.frozen
class ServedService:
    """One flyteidl gRPC service the admin serves.

    :ivar descriptor: the protobuf service descriptor: full name and RPCs with their types.
    :ivar servicer_base: the generated servicer class the admin's servicer subclasses.
    """

    descriptor: ServiceDescriptor
    servicer_base: type


SERVED: tuple[ServedService, ...] = (
    ServedService(admin_pb2.DESCRIPTOR.services_by_name["AdminService"], admin_pb2_grpc.AdminServiceServicer),
    ServedService(
        dataproxy_pb2.DESCRIPTOR.services_by_name["DataProxyService"], dataproxy_pb2_grpc.DataProxyServiceServicer
    ),
    ServedService(signal_pb2.DESCRIPTOR.services_by_name["SignalService"], signal_pb2_grpc.SignalServiceServicer),
)
"""The services :func:`add_servicers` registers, as FlyteAdmin serves them."""


@attrs.frozen
class MalformedRequest:
    """Stands in for a request whose bytes did not parse as the RPC's message.

    gRPC would answer a deserializer's exception with a generic status; parsing never raises
    so that the RPC itself can answer ``INVALID_ARGUMENT`` saying what was wrong.
    """

    message_type: str
    error: str


_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def method_name(rpc: str) -> str:
    """The service method an RPC calls: ``CreateTask`` -> ``create_task``."""
    return _CAMEL_BOUNDARY.sub("_", rpc).lower()


def status_of(error: AdminError) -> grpc.StatusCode:
    """The gRPC status of an admin error: the one named by its code, INTERNAL for anything else."""
    name = str(getattr(error.code, "value", error.code))
    status = grpc.StatusCode.__members__.get(name)
    # OK is no refusal; a code gRPC does not know is a bug in the service layer.
    return status if status is not None and status is not grpc.StatusCode.OK else grpc.StatusCode.INTERNAL


def _unary_methods(descriptor: ServiceDescriptor) -> list[MethodDescriptor]:
    # flyteidl's admin services are all unary. A streaming RPC added in a later flyteidl is left
    # unregistered, which gRPC itself answers with UNIMPLEMENTED.
    return [m for m in descriptor.methods if not (m.client_streaming or m.server_streaming)]


def implemented_rpcs(service: object, served: ServedService) -> list[str]:
    """The RPCs of ``served`` that ``service`` has a method for, in the descriptor's order."""
    return [m.name for m in _unary_methods(served.descriptor) if callable(getattr(service, method_name(m.name), None))]


class _Dispatcher:
    """The behaviour every generated servicer shares: find the service method, call it in a
    thread, turn its result or error into a gRPC answer."""

    _service_name: str = ""
    _rpc_methods: tuple[MethodDescriptor, ...] = ()

    def __init__(self, service: object) -> None:
        """Serve ``service``: any object with snake_case methods taking and returning flyteidl
        messages (normally an :class:`~flytecore.admin.service.AdminService`)."""
        self.service = service
        # Resolved once: which RPCs are implemented cannot change while serving.
        self._calls: dict[str, Callable[[Message], Any]] = {}
        for method in self._rpc_methods:
            call = getattr(service, method_name(method.name), None)
            if callable(call):
                self._calls[method.name] = call

    async def _dispatch(self, method: MethodDescriptor, request: Message | MalformedRequest, context: Any) -> Message:
        rpc = f"{self._service_name}.{method.name}"
        call = self._calls.get(method.name)
        if call is None:
            await _abort(context, grpc.StatusCode.UNIMPLEMENTED, f"{rpc} is not implemented by flytecore's admin yet")
        if isinstance(request, MalformedRequest):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{rpc}: the request is not a valid {request.message_type} protobuf message: {request.error}",
            )
        try:
            # The service does blocking database and storage I/O: keep it off the event loop so
            # one slow call never stalls the others.
            response = await asyncio.to_thread(call, request)
            if not isinstance(response, Message) or response.DESCRIPTOR is not method.output_type:
                raise TypeError(
                    f"{method_name(method.name)} returned {type(response).__name__}, "
                    f"expected {method.output_type.full_name}"
                )
            return response
        except AdminError as err:
            status, details = status_of(err), err.message
            log.debug("%s refused: %s %s", rpc, status.name, details)
        except Exception as exc:
            status, details = grpc.StatusCode.INTERNAL, f"{rpc} failed: {type(exc).__name__}: {exc}"
            log.exception("%s failed", rpc)
        # Outside the except blocks: abort raises, and must not be chained to the error it reports.
        await _abort(context, status, details)


async def _abort(context: Any, status: grpc.StatusCode, details: str) -> NoReturn:
    """End the call with ``status``; long details are cut (and logged whole) to fit a header."""
    encoded = details.encode()
    if len(encoded) > MAX_DETAILS_BYTES:
        log.warning("%s status details cut to %d bytes; in full: %s", status.name, MAX_DETAILS_BYTES, details)
        cut = encoded[: MAX_DETAILS_BYTES - 100].decode(errors="ignore")
        details = f"{cut} … ({len(encoded) - len(cut.encode())} more bytes in the admin's log)"
    await context.abort(status, details)
    raise AssertionError("grpc.aio's context.abort returned instead of raising")


def _rpc(method: MethodDescriptor) -> Callable[[Any, Any, Any], Coroutine[Any, Any, Message]]:
    async def rpc(self: _Dispatcher, request: Any, context: Any) -> Message:
        return await self._dispatch(method, request, context)

    rpc.__name__ = rpc.__qualname__ = method.name
    rpc.__doc__ = f"{method.name}: calls the admin service's ``{method_name(method.name)}``."
    return rpc


@cache
def servicer_class(served: ServedService) -> type:
    """The servicer class for ``served``: a subclass of its generated servicer with one coroutine
    per unary RPC; instantiate it with the admin service. Built once per service."""
    name = served.descriptor.name
    namespace: dict[str, Any] = {
        "__doc__": f"flyteidl's {name} on top of flytecore's admin service (generated from the descriptor).",
        "__module__": __name__,
        "_service_name": name,
        "_rpc_methods": tuple(_unary_methods(served.descriptor)),
    }
    for method in _unary_methods(served.descriptor):
        namespace[method.name] = _rpc(method)
    # _Dispatcher first: its __init__ (taking the service) wins over the generated base's.
    return type(f"FlyteCore{name}Servicer", (_Dispatcher, served.servicer_base), namespace)


def _parser(message_class: Any) -> Callable[[bytes], Message | MalformedRequest]:
    def parse(data: bytes) -> Message | MalformedRequest:
        try:
            return message_class.FromString(data)  # type: ignore[no-any-return]
        except Exception as exc:  # DecodeError, or a nesting-depth error: both mean bad bytes
            error = str(exc) or type(exc).__name__
            where = _corrupt_field(message_class.DESCRIPTOR, data)
            return MalformedRequest(message_class.DESCRIPTOR.full_name, f"{error} (in {where})" if where else error)

    return parse


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """The varint at ``position`` and the position after it. :raises IndexError: cut short."""
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


_BLAME_DEPTH = 8
"""How deep :func:`_corrupt_field` looks: each level parses its part of the request again."""


def _corrupt_field(descriptor: Descriptor, data: bytes, depth: int = _BLAME_DEPTH) -> str:
    """Where the serialized ``descriptor`` message ``data`` is corrupt: the dotted path of the
    deepest field (up to ``depth`` fields down) whose bytes do not parse
    (``event.output_data.literals``), or "" if no one field can be blamed (the message's own
    framing is broken). Only run on bytes that already failed to parse, to say where."""
    if depth == 0:
        return ""
    position = 0
    try:
        while position < len(data):
            tag, position = _varint(data, position)
            wire_type, field = tag & 7, descriptor.fields_by_number.get(tag >> 3)
            if wire_type == 0:
                _, position = _varint(data, position)
            elif wire_type in (1, 5):
                position += 8 if wire_type == 1 else 4
            elif wire_type == 2:
                size, position = _varint(data, position)
                payload, position = data[position : position + size], position + size
                if field is None:
                    continue
                if position > len(data):
                    return field.name
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    try:
                        message_factory.GetMessageClass(field.message_type).FromString(payload)
                    except Exception:
                        inner = _corrupt_field(field.message_type, payload, depth - 1)
                        return f"{field.name}.{inner}" if inner else field.name
                elif field.type == FieldDescriptor.TYPE_STRING:
                    try:
                        payload.decode()
                    except UnicodeDecodeError:
                        return field.name
            else:  # groups (unused by flyteidl) or a broken tag
                return ""
    except IndexError:
        return ""
    return ""


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def add_servicers(server: grpc.aio.Server, service: object, served: tuple[ServedService, ...] = SERVED) -> None:
    """Register a servicer for each of ``served`` on ``server``, all calling ``service``.

    This does what the generated ``add_<Service>Servicer_to_server`` functions do (same
    service and method names, same messages) with one difference: requests are parsed by
    :func:`_parser`, so a malformed one is answered ``INVALID_ARGUMENT`` by the RPC.
    """
    for entry in served:
        servicer = servicer_class(entry)(service)
        handlers = {
            method.name: grpc.unary_unary_rpc_method_handler(
                getattr(servicer, method.name),
                request_deserializer=_parser(message_factory.GetMessageClass(method.input_type)),
                response_serializer=_serialize,
            )
            for method in _unary_methods(entry.descriptor)
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(entry.descriptor.full_name, handlers),))
