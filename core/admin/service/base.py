"""What every part of the admin service shares: repository, storage, configuration, compiler."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, TypeVar

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from flytecore._lru import Recent
from flytecore.admin.config import AdminConfig
from flytecore.admin.db import NotFound, Page, Repository, Sort, SortDirection
from flytecore.admin.service.errors import InvalidArgumentError, NotFoundError
from flytecore.admin.storage import MetadataStore
from flytecore.spec._wellknown import enc_timestamp

P = TypeVar("P", bound=Page[Any])

UPDATE_ATTEMPTS = 5
"""Conditional updates that lose to a concurrent writer re-read and decide again this many times."""


CLOSURES_KEPT = 64
"""Compiled closures an admin keeps (the workflow versions registered or launched most recently)."""


class ServiceBase:
    """Holds the admin's parts; the service mixins add the calls."""

    def __init__(self, repo: Repository, store: MetadataStore, config: AdminConfig, host: Any = None) -> None:
        self.repo = repo
        self.store = store
        self.config = config
        self.host = host
        # When this admin started: GetVersion's BuildTime, the uptime /metrics reports.
        self.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        # Projects seen registered (projects are never deleted): every CreateExecution checks.
        self._known_projects: set[str] = set()
        # Compiled closures of workflow versions (immutable once registered), by id.
        self._closures: Recent[Any, Any] = Recent(CLOSURES_KEPT)

    def _require_project(self, project: str) -> None:
        """NOT_FOUND naming ``project`` unless it is registered."""
        if project in self._known_projects:
            return
        try:
            self.repo.get_project(project)
            self._known_projects.add(project)
        except NotFound:
            raise NotFoundError(
                f"project {project!r} is not registered; register it first (known: "
                f"{', '.join(p.id for p in self.repo.list_projects(limit=20).rows) or 'none'})"
            ) from None

    def _kept_inline(self, data: bytes) -> bool:
        """Whether a literal map (serialized ``data``) is kept in the database rather than written
        to metadata storage: at most ``AdminConfig.inline_data_bytes``. The one rule for every
        map the admin records, an execution's inputs (CreateExecution) and an event's inline
        ``input_data`` / ``output_data`` (FlyteAdmin's inline event data policy, by size). A
        limit of 0 keeps none, not even an empty map."""
        limit = self.config.inline_data_bytes
        return 0 < limit and len(data) <= limit

    def _known_project_page(self, page: P, project: str) -> P:
        """``page`` of a list in ``project``; an empty one is NOT_FOUND if the project is not
        registered (a mistyped project would otherwise look like one with nothing in it). The
        check costs a read only when the page is empty."""
        if not page.rows:
            self._require_project(project)
        return page


def digest_of(message: Message) -> str:
    """A registration body's fingerprint: equal bodies, equal digests (deterministic bytes)."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def diff_summary(stored: Message, given: Message, limit: int = 5) -> str:
    """Where two bodies differ, as dotted field paths (``template.interface.inputs.x``)."""
    paths: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
        elif a != b:
            paths.append(path or "(whole body)")

    walk(
        json_format.MessageToDict(stored, preserving_proto_field_name=True),
        json_format.MessageToDict(given, preserving_proto_field_name=True),
        "",
    )
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    """A datetime as a protobuf Timestamp."""
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    # What FromDatetime writes (a naive datetime is UTC), at a tenth of its cost: every event
    # sets two or three.
    enc_timestamp(value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC), ts)
    return ts


def sort_of(sort_by: Any) -> Sort | None:
    """A flyteidl ``admin.Sort`` as the repository's sort (None when unset)."""
    if sort_by is None or not sort_by.key:
        return None
    # flyteidl's Sort.Direction and SortDirection share their numbers (DESCENDING = 0).
    try:
        direction = SortDirection(sort_by.direction)
    except ValueError:
        raise InvalidArgumentError(
            f"sort_by direction {sort_by.direction} is not ASCENDING ({SortDirection.ASCENDING.value}) or "
            f"DESCENDING ({SortDirection.DESCENDING.value})"
        ) from None
    return Sort(sort_by.key, direction)
