"""How one event is applied: read the record, judge the transition, write it conditionally; and
where an event's data (inline inputs and outputs, errors) goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2

from flytecore.admin.db import NotFound
from flytecore.admin.db.errors import ConcurrentUpdate
from flytecore.admin.service.base import UPDATE_ATTEMPTS, ServiceBase
from flytecore.admin.service.errors import (
    AbortedError,
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.events.rules import serialized
from flytecore.admin.service.executions.ids import node_execution_id_of
from flytecore.admin.service.limits import (
    MAX_EVENT_BYTES,
    MAX_EVENT_DATA_BYTES,
    OFFLOAD_EVENT_DATA,
    check_size,
)
from flytecore.spec.identifiers import NodeExecutionIdentifier

__all__ = ["EventRecording"]

EVENT_TOO_LARGE = (
    "send inputs and outputs by location (input_uri / output_uri), keep logs, custom_info and "
    "error messages short, and write large error documents to storage (error_uri)"
)


class EventRecording(ServiceBase):
    """What the Create*Event calls share."""

    def _apply(
        self, what: str, read: Callable[[], Any], create: Callable[[], None] | None, decide: Callable[[Any], None]
    ) -> None:
        """Apply one event: read the record (create it on the first event), judge the transition
        and write it conditionally; when a concurrent event won, read again and judge again."""
        for _ in range(UPDATE_ATTEMPTS):
            try:
                row = read()
            except NotFound as exc:
                if create is None:
                    raise NotFoundError(str(exc)) from exc
                try:
                    with repository_errors():
                        create()
                    return
                except AlreadyExistsError:
                    continue  # a concurrent first event created it: judge this one as an update
            try:
                decide(row)
                return
            except ConcurrentUpdate:
                continue
        raise AbortedError(f"{what} kept changing concurrently; send the event again")

    def _check_event(self, event: Any, kind: str) -> None:
        """What every event must be, checked before anything is read: within the size limits
        (as a whole and its inline literal maps), with an error kind flyteidl knows."""
        check_size(event, MAX_EVENT_BYTES, f"the {kind} event", EVENT_TOO_LARGE)
        for field in ("input_data", "output_data"):
            if field in event.DESCRIPTOR.fields_by_name and event.HasField(field):
                check_size(
                    getattr(event, field), MAX_EVENT_DATA_BYTES, f"the {kind} event's {field}", OFFLOAD_EVENT_DATA
                )
        if event.HasField("error") and event.error.kind not in core_execution_pb2.ExecutionError.ErrorKind.values():
            kinds = ", ".join(core_execution_pb2.ExecutionError.ErrorKind.keys())
            raise InvalidArgumentError(f"the {kind} event's error kind {event.error.kind} is not one of {kinds}")

    def _node_id(self, proto_id: Any) -> NodeExecutionIdentifier:
        return node_execution_id_of(proto_id, self.config.domains)

    def _result(self, event: Any, closure: Any, changes: dict[str, Any], outputs_uri: Callable[[], str]) -> str:
        """Record an event's outputs or error on ``closure``/``changes``; returns the outputs URI
        (inline outputs written to ``outputs_uri()`` first), or "" if there are none."""
        uri = ""
        if event.output_uri:
            uri = event.output_uri
        elif event.HasField("output_data"):
            uri = outputs_uri()
            self.store.write_bytes(uri, serialized(event.output_data))
        elif event.HasField("error"):
            closure.error.CopyFrom(event.error)
            changes["error"] = {
                "code": event.error.code, "message": event.error.message, "error_uri": event.error.error_uri,
                "kind": core_execution_pb2.ExecutionError.ErrorKind.Name(event.error.kind),
            }
        if uri:
            changes["outputs_uri" if isinstance(closure, execution_pb2.ExecutionClosure) else "output_uri"] = uri
        return uri

    def _inputs(self, event: Any, inputs_uri: Callable[[], str]) -> str:
        if event.input_uri:
            return str(event.input_uri)
        if event.HasField("input_data"):
            uri = inputs_uri()
            self.store.write_bytes(uri, serialized(event.input_data))
            return uri
        return ""
