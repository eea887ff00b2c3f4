"""Types with special meaning to the type engine: files and folders that travel between tasks,
and the error an on-failure handler receives."""

from __future__ import annotations

from flytecore.sdk.types.error import FlyteError
from flytecore.sdk.types.files import FlyteDirectory, FlyteFile

__all__ = ["FlyteDirectory", "FlyteError", "FlyteFile"]
