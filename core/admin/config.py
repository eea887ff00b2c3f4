"""Admin configuration: where it keeps its data and which projects and domains exist."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

DEFAULT_DOMAINS = ("development", "staging", "production")
"""Flyte's sandbox domains."""
DEFAULT_PROJECTS = ("flytesnacks",)
"""Projects a fresh admin has, so flytekit's defaults work against it."""


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
    """

    db_url: str = attrs.field(factory=lambda: f"sqlite:///{flytecore_home() / 'admin.db'}")
    storage_prefix: str = attrs.field(factory=lambda: str(flytecore_home() / "storage"))
    raw_data_prefix: str | None = None
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    projects: tuple[str, ...] = DEFAULT_PROJECTS
