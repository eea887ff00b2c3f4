"""``flytecore admin migrate``, run as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flytecore.admin.db import current_revision, head_revision


def flytecore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flytecore.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_migrate_prints_the_revision_before_and_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    first = flytecore("admin", "migrate", "--db", url)
    assert first.returncode == 0, first.stderr
    assert "revision before: (empty database)" in first.stdout
    assert f"revision after:  {head_revision()}" in first.stdout
    assert current_revision(url) == head_revision()

    again = flytecore("admin", "migrate", "--db", url)
    assert again.returncode == 0, again.stderr
    assert f"revision before: {head_revision()}" in again.stdout


def test_migrate_defaults_to_the_sqlite_file_in_flytecore_home(tmp_path: Path) -> None:
    home = tmp_path / "home"  # does not exist yet
    done = flytecore("admin", "migrate", env={"FLYTECORE_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert f"database: sqlite:///{home / 'admin.db'}" in done.stdout
    assert current_revision(f"sqlite:///{home / 'admin.db'}") == head_revision()


def test_unreachable_database_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = flytecore("admin", "migrate", "--db", "postgresql://someone:s3cret@127.0.0.1:1/admin")
    assert done.returncode == 1
    assert "cannot migrate postgresql://someone:***@127.0.0.1:1/admin" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_admin_group_is_listed_in_help() -> None:
    done = flytecore("admin", "--help")
    assert done.returncode == 0
    assert "migrate" in done.stdout
