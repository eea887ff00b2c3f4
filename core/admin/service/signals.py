"""Signals: SignalService's GetOrCreateSignal, ListSignals and SetSignal (gates waiting for input).

A gate node (``wait_for_input``, ``approve``) waits for a signal of its execution. The execution
engine asks for it with GetOrCreateSignal each time it looks at the gate: the first call
creates it with the gate's type, later ones return it, with its value once someone set it.
People and programs set it with SetSignal (``flytecore signal set``, flytekit's
``FlyteRemote.set_signal``); ListSignals shows an execution's signals and their values.

The rules, next to FlyteAdmin's (``signal_manager.go``, ``validation/signal_validator.go``):

- ids: the signal id is required, at most 255 UTF-8 bytes (FlyteAdmin's column limit), no
  control characters; it may hold spaces and other punctuation (flytekit allows
  ``approve(x, "approval name", ...)``); the execution id is checked like every execution id;
- GetOrCreateSignal needs a type. The signal's type is fixed when it is created: asking again
  with another type is FAILED_PRECONDITION naming both (FlyteAdmin's ``FirstOrCreate`` matches
  on the type too and fails on the primary key instead, a less helpful error);
- a signal belongs to an execution: an unknown execution is NOT_FOUND;
- SetSignal of a signal nobody created yet is NOT_FOUND, saying that the signal appears when
  the execution reaches its gate (FlyteAdmin answers INVALID_ARGUMENT "failed to validate that
  signal exists"); a value that does not fit the signal's type is INVALID_ARGUMENT naming the
  signal and both types (the compiler's castability rules, as FlyteAdmin's ``AreTypesCastable``);
- setting a signal that already has a value replaces it, as FlyteAdmin's ``SignalRepo.Update``
  does. A gate reads its signal once, when it opens: a gate that already passed keeps the value
  it read, and ListSignals shows the latest;
- a value is at most :data:`~flytecore.admin.service.limits.MAX_INPUTS_BYTES` serialized, like an
  execution's inputs.

Every check runs before anything is written, so a refused call changes nothing. After a value
is stored, :attr:`SignalService.on_signal_set` (if set) is told the execution, so that an
engine in the same process (the sandbox's propeller) looks at its gate at once instead of at
its next poll.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.service.base import ServiceBase, sort_of
from flytecore.admin.service.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.executions.ids import execution_id_of, show_execution
from flytecore.admin.service.limits import MAX_INPUTS_BYTES, OFFLOAD_INPUTS, check_size
from flytecore.admin.service.registration import parse
from flytecore.admin.service.validation import MAX_NAME_BYTES
from flytecore.compiler.values import literal_mismatch
from flytecore.spec import idl
from flytecore.spec.identifiers import WorkflowExecutionIdentifier
from flytecore.spec.literals import Literal
from flytecore.spec.types import LiteralType

__all__ = ["SignalService", "check_signal_id"]

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_TYPE_BYTES = MAX_INPUTS_BYTES


def check_signal_id(value: str, field: str = "signal_id") -> None:
    """A signal id: present, at most 255 UTF-8 bytes, no control characters."""
    if not value:
        raise InvalidArgumentError(f"{field} is required")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise InvalidArgumentError(
            f"{field} {value[:40] + '…'!r} is {size} bytes long (UTF-8); at most {MAX_NAME_BYTES} allowed"
        )
    if _CONTROL.search(value):
        raise InvalidArgumentError(f"{field} {value!r} contains a control character (such as NUL)")


def _show_type(literal_type: LiteralType) -> str:
    return literal_type.short()


class SignalService(ServiceBase):
    """The calls of flyteidl's SignalService."""

    on_signal_set: Callable[[WorkflowExecutionIdentifier], None] | None = None
    """Called with the execution's id after a signal of it was set (the sandbox points it at the
    propeller's ``wake``); its failures are logged, never the caller's."""

    def get_or_create_signal(self, request: signal_pb2.SignalGetOrCreateRequest) -> signal_pb2.Signal:
        """The signal ``request.id``, created with ``request.type`` if it does not exist yet."""
        eid, signal_id = self._signal_id_of(request)
        if not request.HasField("type"):
            raise InvalidArgumentError(f"type of signal {signal_id!r} is required")
        check_size(request.type, _MAX_TYPE_BYTES, f"type of signal {signal_id!r}", "use a smaller type")
        literal_type = parse(request.type, LiteralType, f"type of signal {signal_id!r}")
        row = m.Signal(
            execution_project=eid.project,
            execution_domain=eid.domain,
            execution_name=eid.name,
            signal_id=signal_id,
            type=request.type.SerializeToString(deterministic=True),
        )
        with repository_errors():
            stored, _created = self.repo.get_or_create_signal(row)
        known = _type_of(stored)
        if known != literal_type:
            raise FailedPreconditionError(
                f"signal {signal_id!r} of execution {show_execution(eid)} exists with type {_show_type(known)}, "
                f"not {_show_type(literal_type)}: gates waiting for one signal must expect the same type"
            )
        return _signal_proto(stored)

    def list_signals(self, request: signal_pb2.SignalListRequest) -> signal_pb2.SignalList:
        """The signals of an execution, in the order they were created unless sorted otherwise,
        each with its value once set; filters on ``signal_id``, ``created_at``, ``updated_at``."""
        if not request.HasField("workflow_execution_id"):
            raise InvalidArgumentError("workflow_execution_id is required")
        eid = execution_id_of(request.workflow_execution_id, self.config.domains)
        with repository_errors():
            page = self.repo.list_signals(
                eid, filters=request.filters, sort=sort_of(request.sort_by), limit=request.limit or 100,
                token=request.token,
            )
            if not page.rows:
                # An unknown execution is NOT_FOUND, not an execution without signals.
                self.repo.get_execution(eid)
        return signal_pb2.SignalList(signals=[_signal_proto(row) for row in page.rows], token=page.next_token)

    def set_signal(self, request: signal_pb2.SignalSetRequest) -> signal_pb2.SignalSetResponse:
        """Give a signal its value (replacing an earlier one); the value must fit the signal's type."""
        eid, signal_id = self._signal_id_of(request)
        what = f"value of signal {signal_id!r}"
        if not request.HasField("value"):
            raise InvalidArgumentError(f"{what} is required")
        check_size(request.value, MAX_INPUTS_BYTES, what, OFFLOAD_INPUTS)
        value = parse(request.value, Literal, what)
        with repository_errors():
            try:
                stored = self.repo.get_signal(eid, signal_id)
            except NotFound:
                raise NotFoundError(
                    f"execution {show_execution(eid)} has no signal {signal_id!r} (yet): a signal exists once "
                    f"the execution reaches the gate that waits for it; {self._known_signals(eid)}"
                ) from None
            literal_type = _type_of(stored)
            reason = literal_mismatch(value, literal_type, "value")
            if reason is not None:
                raise InvalidArgumentError(
                    f"cannot set signal {signal_id!r} of execution {show_execution(eid)} (type "
                    f"{_show_type(literal_type)}): {reason}"
                )
            self.repo.set_signal_value(eid, signal_id, request.value.SerializeToString(deterministic=True))
        hook = self.on_signal_set
        if hook is not None:
            try:
                hook(eid)
            except Exception:  # the value is stored; the engine's poll picks it up anyway
                log.exception("on_signal_set hook failed for %s", show_execution(eid))
        return signal_pb2.SignalSetResponse()

    def _signal_id_of(self, request: Any) -> tuple[WorkflowExecutionIdentifier, str]:
        """The checked execution id and signal id of a request's ``id`` (a SignalIdentifier)."""
        if not request.HasField("id"):
            raise InvalidArgumentError("id is required (a SignalIdentifier: signal_id and execution_id)")
        proto_id: identifier_pb2.SignalIdentifier = request.id
        check_signal_id(proto_id.signal_id, "id signal_id")
        if not proto_id.HasField("execution_id"):
            raise InvalidArgumentError(f"id execution_id of signal {proto_id.signal_id!r} is required")
        eid = execution_id_of(proto_id.execution_id, self.config.domains)
        return eid, proto_id.signal_id

    def _known_signals(self, eid: WorkflowExecutionIdentifier) -> str:
        """What an execution has, for a NOT_FOUND message."""
        page = self.repo.list_signals(eid, limit=20)
        if page.rows:
            return "its signals: " + ", ".join(repr(row.signal_id) for row in page.rows)
        self.repo.get_execution(eid)  # NOT_FOUND naming the execution if there is none
        return "it has none so far"


def _type_of(row: m.Signal) -> LiteralType:
    return idl.from_idl(types_pb2.LiteralType.FromString(row.type), LiteralType)


def _signal_proto(row: m.Signal) -> signal_pb2.Signal:
    signal = signal_pb2.Signal(
        id=identifier_pb2.SignalIdentifier(
            signal_id=row.signal_id,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=row.execution_project, domain=row.execution_domain, name=row.execution_name
            ),
        ),
        type=types_pb2.LiteralType.FromString(row.type),
    )
    if row.value is not None:
        signal.value.CopyFrom(literals_pb2.Literal.FromString(row.value))
    return signal
