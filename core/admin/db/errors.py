"""Errors of the admin's repository layer.

The service layer maps them onto API status codes (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT,
ABORTED); each names the entity and its id so the message is useful as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping

from flytecore.errors import FlyteCoreError

__all__ = [
    "RepositoryError",
    "NotFound",
    "AlreadyExists",
    "ConcurrentUpdate",
    "InvalidListRequest",
    "InvalidFilter",
    "InvalidSort",
    "InvalidPageToken",
]


class RepositoryError(FlyteCoreError):
    """Base class of every error the repository raises on purpose."""


class NotFound(RepositoryError, LookupError):
    """No row has the id asked for."""

    def __init__(self, entity: str, identifier: str) -> None:
        self.entity = entity
        self.identifier = identifier
        super().__init__(f"{entity} {identifier} not found")


class AlreadyExists(RepositoryError):
    """A row with this id exists already; the stored row was left unchanged."""

    def __init__(self, entity: str, identifier: str) -> None:
        self.entity = entity
        self.identifier = identifier
        super().__init__(f"{entity} {identifier} already exists")


class ConcurrentUpdate(RepositoryError):
    """A conditional update found the row changed since the caller read it (e.g. its phase).

    The caller re-reads the row and decides again; nothing was written.
    """

    def __init__(
        self, entity: str, identifier: str, expected: Mapping[str, object] | None = None, reason: str = ""
    ) -> None:
        self.entity = entity
        self.identifier = identifier
        self.expected = dict(expected or {})
        if not reason:
            reason = "expected " + ", ".join(f"{k}={v!r}" for k, v in self.expected.items())
        super().__init__(f"{entity} {identifier} changed concurrently ({reason}); re-read it and retry")


class InvalidListRequest(RepositoryError, ValueError):
    """A list request's filters, sort key or page token cannot be used; no query was run."""


class InvalidFilter(InvalidListRequest):
    """A filter expression is malformed or names an unknown function, field or value."""

    def __init__(self, message: str, part: str) -> None:
        self.part = part
        super().__init__(message)


class InvalidSort(InvalidListRequest):
    """The sort key is not a sortable field of the entity."""

    def __init__(self, key: str, allowed: list[str]) -> None:
        self.key = key
        super().__init__(f"cannot sort by {key!r}; sortable fields: {', '.join(allowed)}")


class InvalidPageToken(InvalidListRequest):
    """The page token is not one this repository handed out, or the limit is not positive."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
