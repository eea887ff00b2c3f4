"""A small bounded map of recently used entries, for what both planes keep of immutable things
(a workflow version's compiled closure: the admin by version, the propeller by its URI)."""

from __future__ import annotations

import collections
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

__all__ = ["Recent"]


class Recent(collections.OrderedDict[K, V], Generic[K, V]):
    """The last ``limit`` entries kept or looked up with :meth:`recall` (least recent dropped)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def recall(self, key: K) -> V | None:
        """The entry of ``key`` (now the most recent), or None."""
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def keep(self, key: K, value: V) -> V:
        """Keep ``value`` as the most recent entry; returns it."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)
        return value
