"""Fixtures for the plugin system's tests: every test starts from a clean plugin environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flytecore.plugin import manager

PLUGIN_ENV_VARS = ("FLYTECORE_DISABLE_PLUGINS", "FLYTECORE_STRICT_PLUGINS")


@pytest.fixture(autouse=True)
def clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run every test without the plugin environment variables and with no default host, so a
    developer's shell settings or another test's host cannot change the outcome."""
    for var in PLUGIN_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(manager, "_default_host", None)
    yield
