"""The plugin's tests run against the installed distribution: flytecore finds it through its
entry point, as it would in a user's environment."""

from __future__ import annotations

import pytest

from flytecore.plugin import make_plugin_host, use_host


@pytest.fixture(autouse=True)
def strict_host():  # type: ignore[no-untyped-def]
    """A fresh strict host from the installed entry points: a broken plugin fails the test."""
    host = make_plugin_host(strict=True)
    with use_host(host):
        yield host
