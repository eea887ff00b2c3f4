"""Fixtures of the compiler tests."""

from __future__ import annotations

import pytest

from flytecore.plugin import PluginHost, make_plugin_host


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """A plugin host with the built-in plugins only (installed plugins cannot change results)."""
    return make_plugin_host(entry_points=False, disable=[])
