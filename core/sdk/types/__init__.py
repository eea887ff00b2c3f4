"""Types with special meaning to the type engine: files and folders that travel between tasks."""

from __future__ import annotations

from flytecore.sdk.types.files import FlyteDirectory, FlyteFile

__all__ = ["FlyteDirectory", "FlyteFile"]
