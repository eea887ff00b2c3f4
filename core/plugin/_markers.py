"""pluggy markers carrying the project name ``flytecore``."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "flytecore"
ENTRY_POINT_GROUP = "flytecore.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
