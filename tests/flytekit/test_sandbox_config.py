"""The flytekit configuration ``flytecore sandbox`` prints (and writes with
``--write-flytekit-config``) is read by flytekit's ``Config.auto`` and reaches the admin."""

from __future__ import annotations

import signal
import subprocess
import sys
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


def test_flytecore_sandbox_writes_the_config_flytekit_then_uses(tmp_path: Path) -> None:
    """``flytecore sandbox --write-flytekit-config`` as a user starts it (this env's bin), and
    flytekit's client on the written file; SIGTERM stops it cleanly."""
    config_path = tmp_path / "sandbox.yaml"
    argv = [
        str(Path(sys.executable).parent / "flytecore"), "sandbox", "--home", str(tmp_path / "home"),
        "--port", "0", "--http-port", "0", "--workers", "1", "--write-flytekit-config", str(config_path),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if "sandbox ready" in line:
                break
        assert "sandbox ready" in "".join(printed), "".join(printed)
        assert f"flytekit config written to {config_path}" in "".join(printed)
        config = Config.auto(config_file=str(config_path))
        # flytekit strips the dns:/// scheme; the printed config is the written one.
        assert config.platform.endpoint.startswith("127.0.0.1:")
        assert f"endpoint: dns:///{config.platform.endpoint}" in "".join(printed)
        projects, _ = SynchronousFlyteClient(config.platform).list_projects_paginated(limit=100)
        assert "flytesnacks" in {p.id for p in projects}
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(printed) + rest
    assert "sandbox stopped" in rest
