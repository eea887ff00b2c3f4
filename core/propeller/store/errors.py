"""Errors of the propeller's workflow store."""

from __future__ import annotations

from flytecore.errors import FlyteCoreError

__all__ = ["StoreError", "LeaseLost", "SchemaMismatch"]


class StoreError(FlyteCoreError):
    """Base class of every error the workflow store raises on purpose."""


class LeaseLost(StoreError):
    """A save or renewal found the workflow no longer leased to the caller; nothing was written.

    Another propeller took the workflow over after the lease expired (or it was deleted). The
    caller drops its in-memory copy of the workflow; the new holder carries on from the last
    committed save.
    """

    def __init__(self, execution_id: str, owner: str, version: int) -> None:
        self.execution_id = execution_id
        self.owner = owner
        self.version = version
        super().__init__(
            f"workflow {execution_id}: lease of {owner!r} at version {version} was lost "
            "(another propeller took it over or it was deleted); drop it and acquire again"
        )


class SchemaMismatch(StoreError):
    """The database's store schema is at a revision this flytecore does not know (a newer one)."""

    def __init__(self, url: str, revision: str, head: str) -> None:
        self.revision = revision
        self.head = head
        super().__init__(
            f"the workflow store at {url} has schema revision {revision!r}, newer than this "
            f"flytecore's {head!r}: upgrade flytecore, or point the propeller at another database"
        )
