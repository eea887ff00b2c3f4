"""Admin configuration: where it keeps its data, which projects and domains exist, and how."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from flytecore.errors import FlyteCoreError

DEFAULT_DOMAINS = ("development", "staging", "production")
"""Flyte's sandbox domains."""
DEFAULT_PROJECTS = ("flytesnacks",)
"""Projects a fresh admin has, so flytekit's defaults work against it."""
DEFAULT_INLINE_DATA_BYTES = 64 * 1024
"""Largest literal map (execution inputs, event data) the admin keeps in its database by default (64 KiB)."""


class AdminConfigError(FlyteCoreError, ValueError):
    """A setting of :class:`AdminConfig` has a value it cannot have."""


def flytecore_home() -> Path:
    """``$FLYTECORE_HOME`` or ``~/.flytecore``: where the embedded default keeps its files."""
    return Path(os.environ.get("FLYTECORE_HOME") or Path.home() / ".flytecore")


@attrs.define(frozen=True, kw_only=True)
class AdminConfig:
    """Settings of one admin.

    :ivar db_url: SQLAlchemy URL; default a SQLite file in :func:`flytecore_home`.
    :ivar storage_prefix: metadata storage (a folder or fsspec URL); default a folder there.
    :ivar raw_data_prefix: raw output data; default ``{storage_prefix}/raw``.
    :ivar domains: the domains every project has.
    :ivar projects: projects created when the admin starts, if missing.
    :ivar http_base_url: the URL clients reach the admin's HTTP server at (``https://flyte.example.com``),
        which signed upload and download URLs start with; None: the address the HTTP server bound
        (it tells the service when it listens), right for a laptop, wrong behind a proxy.
    :ivar url_signing_key: the secret that signs data proxy URLs; None: a random one per admin
        start (URLs then die with the process). Admins sharing a database behind one address
        need the same key.
    :ivar signed_url_max_expires_in: longest life of a signed URL, in seconds; also the life a
        request gets when it names none (FlyteAdmin's ``maxExpiresIn``, one hour by default).
    :ivar max_parallelism: how many tasks of an execution run at once when neither the request
        nor its launch plan says (FlyteAdmin's ``maxParallelism``, 25 by default; 0: no limit).
        More would only queue in the backend: a map of 100,000 elements keeps 25 in flight.
    :ivar inline_data_bytes: the admin's one size limit for literal maps it keeps in its
        database rather than as files in metadata storage: an execution's inputs (CreateExecution:
        the inputs as run and as the user gave them, each at most this many bytes serialized, or
        both written to files) and a node or task event's inline ``input_data`` / ``output_data``
        (FlyteAdmin's inline event data policy, by size; a larger map is written to metadata
        storage and its location recorded, "offload"). 0: always storage (FlyteAdmin's default
        policy; its ``inlineEventDataPolicy`` is all or nothing, here the size decides). Inline
        event data over the 2 MiB limit is refused either way.
    """

    db_url: str = attrs.field(factory=lambda: f"sqlite:///{flytecore_home() / 'admin.db'}")
    storage_prefix: str = attrs.field(factory=lambda: str(flytecore_home() / "storage"))
    raw_data_prefix: str | None = None
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    projects: tuple[str, ...] = DEFAULT_PROJECTS
    http_base_url: str | None = None
    url_signing_key: str | None = attrs.field(default=None, repr=False)  # a secret: kept out of logs
    signed_url_max_expires_in: float = 3600.0
    max_parallelism: int = 25
    inline_data_bytes: int = attrs.field(default=DEFAULT_INLINE_DATA_BYTES)

    @inline_data_bytes.validator
    def _check_inline_data_bytes(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise AdminConfigError(
                f"AdminConfig.inline_data_bytes must be a whole number of bytes, 0 or more (0: always write execution "
                f"inputs and event data to storage), not {value!r}"
            )
