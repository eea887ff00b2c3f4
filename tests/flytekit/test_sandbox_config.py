"""The flytekit configuration ``flytecore sandbox`` prints (and writes with
``--write-flytekit-config``) is read by flytekit's ``Config.auto`` and reaches the admin."""

from __future__ import annotations

from pathlib import Path

from flytekit.clients.friendly import SynchronousFlyteClient
from flytekit.configuration import Config

from flytecore.cli.sandbox import flytekit_config


def test_flytekit_reads_the_sandbox_config_and_connects(endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(flytekit_config(endpoint))
    config = Config.auto(config_file=str(path))
    assert config.platform.endpoint == endpoint
    assert config.platform.insecure is True
    projects, _ = SynchronousFlyteClient(config.platform).list_projects_paginated(limit=100)
    assert "flytesnacks" in {p.id for p in projects}
