"""How big a request may be: the admin's size limits, and the check that enforces them.

Each limit follows FlyteAdmin's defaults where it has one:

- :data:`MAX_INPUTS_BYTES` and :data:`MAX_EVENT_DATA_BYTES`, 2 MiB: FlyteAdmin's
  ``remoteData.maxSizeInBytes``, the most literal data it takes inline (it refuses an event's
  ``output_data`` above it). Larger values travel as files or offloaded literals, by URI.
- :data:`MAX_REGISTRATION_BYTES`, 4 MiB: FlyteAdmin sets no registration limit of its own
  (``registration.workflowSizeLimit`` is unset), so what it accepts is what fits in its gRPC
  server's default 4 MiB message; that much is accepted here too, and beyond it the answer
  says what to do instead of gRPC's bare RESOURCE_EXHAUSTED.
- :data:`MAX_EVENT_BYTES`, 8 MiB: the largest event whose parts are each within their own limit
  (a dynamic workflow as large as a registration, inline inputs and outputs).
- :data:`MAX_LIST_LIMIT`, 10,000: the most items one list page returns (flyteconsole's own
  "no limit" page size); more than that is paged with the token.

:data:`MAX_GRPC_MESSAGE_BYTES` is for the transport: the gRPC server must accept messages this
large (``grpc.max_receive_message_length``) so that an oversize request reaches the service and
is answered INVALID_ARGUMENT with the size, the limit and what to do, rather than being cut off
by gRPC. It is twice the largest service limit, leaving room for the rest of the request.
"""

from __future__ import annotations

from google.protobuf.message import Message

from flytecore.admin.db.repository import MAX_LIMIT
from flytecore.admin.service.errors import InvalidArgumentError

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_EVENT_DATA_BYTES",
    "MAX_EXECUTION_SPEC_BYTES",
    "MAX_GRPC_MESSAGE_BYTES",
    "MAX_INPUTS_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_REGISTRATION_BYTES",
    "check_size",
    "show_bytes",
]

MiB = 1024 * 1024

MAX_INPUTS_BYTES = 2 * MiB
"""Largest serialized ``LiteralMap`` of an execution's inputs in a CreateExecution request."""

MAX_EXECUTION_SPEC_BYTES = 1 * MiB
"""Largest serialized ``ExecutionSpec`` without its inputs (labels, annotations, options)."""

MAX_REGISTRATION_BYTES = 4 * MiB
"""Largest serialized body (``TaskSpec``, ``WorkflowSpec``, ``LaunchPlanSpec``) registered."""

MAX_EVENT_DATA_BYTES = 2 * MiB
"""Largest inline ``input_data`` / ``output_data`` literal map of an event."""

MAX_EVENT_BYTES = MAX_REGISTRATION_BYTES + 2 * MAX_EVENT_DATA_BYTES
"""Largest serialized event (workflow, node or task) as a whole."""

MAX_LIST_LIMIT = MAX_LIMIT
"""Most items a list request may ask for in one page (``limit``)."""

MAX_GRPC_MESSAGE_BYTES = 2 * max(MAX_REGISTRATION_BYTES, MAX_EVENT_BYTES, MAX_INPUTS_BYTES)
"""What the gRPC server must accept (``grpc.max_receive_message_length``): above every limit
here, so that the service, not the transport, answers an oversize request."""

# What to do instead, said with each refusal.
OFFLOAD_INPUTS = (
    "pass large values as files (FlyteFile, FlyteDirectory, a structured dataset) uploaded to the "
    "raw data store, or as offloaded literals, so that only their URIs travel in the request"
)
SMALLER_BODY = (
    "make it smaller: split a large workflow into subworkflows or launch plans, and move large "
    "default or fixed values into files that the workflow reads"
)
OFFLOAD_EVENT_DATA = (
    "write the literal map to storage and send its location (input_uri / output_uri) instead, "
    "as FlyteAdmin's offload policy does"
)


def show_bytes(size: int) -> str:
    """A size as people read it: ``2.5 MiB (2621440 bytes)``."""
    for unit, factor in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit} ({size} bytes)".replace(".0 ", " ")
    return f"{size} bytes"


def check_size(message: Message | int, limit: int, what: str, advice: str) -> None:
    """Refuse ``message`` (or a size in bytes) larger than ``limit`` serialized: INVALID_ARGUMENT
    naming ``what``, its size, the limit and ``advice`` (what to do instead)."""
    size = message if isinstance(message, int) else message.ByteSize()
    if size > limit:
        raise InvalidArgumentError(f"{what}: {show_bytes(size)} serialized, over the limit of {show_bytes(limit)}; {advice}")
