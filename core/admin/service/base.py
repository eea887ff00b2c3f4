"""What every part of the admin service shares: repository, storage, configuration, compiler."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import Repository, Sort, SortDirection
from flytecore.admin.storage import MetadataStore


class ServiceBase:
    """Holds the admin's parts; the service mixins add the calls."""

    def __init__(self, repo: Repository, store: MetadataStore, config: AdminConfig, host: Any = None) -> None:
        self.repo = repo
        self.store = store
        self.config = config
        self.host = host
        # When this admin started: GetVersion's BuildTime, the uptime /metrics reports.
        self.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
    ts.FromDatetime(value)
    return ts


def sort_of(sort_by: Any) -> Sort | None:
    """A flyteidl ``admin.Sort`` as the repository's sort (None when unset)."""
    if sort_by is None or not sort_by.key:
        return None
    # flyteidl's Sort.Direction and SortDirection share their numbers (DESCENDING = 0).
    return Sort(sort_by.key, SortDirection(sort_by.direction))
