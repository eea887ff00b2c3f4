"""Gate signals read through the admin's API (flyteidl's SignalService).

``AdminSignals(client)`` is the ``Services.signals`` callable of a propeller wired to an admin:
each look at a waiting gate is a ``get_or_create_signal`` call with the gate's type, as
FlytePropeller's gate handler does. The first call creates the signal, so that
``ListSignals`` (and ``flytecore signal list``) shows what the execution waits for; the answer
carries the value once someone set it.

The client is the same as the event sink's and the child-execution launcher's: the admin service
itself in the sandbox (an in-process call) or a gRPC client with snake_case methods
(:class:`~flytecore.propeller.sink.GrpcAdminClient`). The propeller never imports the admin.
"""

from __future__ import annotations

from typing import Any

from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2

from flytecore.propeller.handlers.gate import SignalRefused
from flytecore.propeller.sink import error_message, status_name
from flytecore.spec import idl
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.literals import Literal
from flytecore.spec.types import LiteralType

__all__ = ["AdminSignals"]

# The admin will never answer these differently for the same request: the gate fails.
_REFUSALS = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND"}


class AdminSignals:
    """``Services.signals`` through an admin client: ``(execution_id, signal_id, type) -> Literal | None``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, execution_id: WorkflowExecutionIdentifier, signal_id: str, literal_type: LiteralType) -> Literal | None:
        """The signal's value, or None while it is not set (the signal is created with
        ``literal_type`` on the first call).

        :raises SignalRefused: the admin refuses the request for good (the signal exists with
            another type, the execution is unknown to it); other errors (the admin is
            unreachable) propagate for the gate to try again later.
        """
        request = signal_pb2.SignalGetOrCreateRequest(
            id=identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=idl.to_idl(execution_id)),
            type=idl.to_idl(literal_type),
        )
        try:
            signal = self.client.get_or_create_signal(request)
        except Exception as exc:
            status = status_name(exc)
            if status in _REFUSALS:
                raise SignalRefused(f"the admin refused it ({status}): {error_message(exc)}") from exc
            raise
        if not signal.HasField("value"):
            return None
        return idl.from_idl(signal.value, Literal)
