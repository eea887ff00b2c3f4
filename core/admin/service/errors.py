"""Errors of the admin service, each with the status code the transports send.

The service layer raises only these; the gRPC layer maps :attr:`AdminError.code` to the gRPC
status of the same name, the HTTP layer to an HTTP status. Nothing leaves as UNKNOWN.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

from flytecore.admin.db import errors as db_errors
from flytecore.errors import FlyteCoreError


class Code(enum.StrEnum):
    """gRPC status names used by the admin."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INTERNAL = "INTERNAL"


class AdminError(FlyteCoreError):
    """A request the admin refuses; ``code`` says how."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AdminError):
    """What the request names does not exist."""

    code = Code.NOT_FOUND


class AlreadyExistsError(AdminError):
    """The entity exists (for registration: with an identical body, which clients treat as success)."""

    code = Code.ALREADY_EXISTS


class InvalidArgumentError(AdminError):
    """The request is malformed or breaks a rule; the message names what and where."""

    code = Code.INVALID_ARGUMENT


class FailedPreconditionError(AdminError):
    """The request is valid but the stored state does not allow it (e.g. an event after the end)."""

    code = Code.FAILED_PRECONDITION


class AbortedError(AdminError):
    """A concurrent change won; the client may retry."""

    code = Code.ABORTED


@contextlib.contextmanager
def repository_errors() -> Iterator[None]:
    """Turn repository errors into admin errors with the same message."""
    try:
        yield
    except db_errors.NotFound as exc:
        raise NotFoundError(str(exc)) from exc
    except db_errors.AlreadyExists as exc:
        raise AlreadyExistsError(str(exc)) from exc
    except db_errors.InvalidListRequest as exc:
        raise InvalidArgumentError(str(exc)) from exc
    except db_errors.ConcurrentUpdate as exc:
        raise AbortedError(str(exc)) from exc
