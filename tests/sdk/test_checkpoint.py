"""Intra-task checkpoints (flytecore.sdk.checkpoint): folders and files saved by one attempt and
restored by the next, through the file access layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from flytecore.sdk.checkpoint import Checkpoint, CheckpointError
from flytecore.sdk.data import FileAccess


def test_a_folder_saved_by_one_attempt_is_restored_by_the_next(tmp_path: Path) -> None:
    access = FileAccess(tmp_path / "raw", tmp_path / "sandbox")
    work = tmp_path / "work"
    (work / "nested").mkdir(parents=True)
    (work / "model.bin").write_bytes(b"\x00\x01")
    (work / "nested" / "step.txt").write_text("41")
    first = Checkpoint(str(tmp_path / "cp-0"), None, access)
    assert not first.prev_exists() and first.restore() is None and first.read() is None
    first.save(work)

    second = Checkpoint(str(tmp_path / "cp-1"), str(tmp_path / "cp-0"), access)
    assert second.prev_exists()
    restored = second.restore(tmp_path / "restored")
    assert restored == tmp_path / "restored"
    assert (restored / "model.bin").read_bytes() == b"\x00\x01"
    assert (restored / "nested" / "step.txt").read_text() == "41"
    with pytest.raises(CheckpointError, match="holds 2 files; read\\(\\) needs exactly one"):
        second.read()


def test_bytes_written_are_read_back_and_a_missing_source_is_named(tmp_path: Path) -> None:
    access = FileAccess(tmp_path / "raw", tmp_path / "sandbox")
    Checkpoint(str(tmp_path / "cp-0"), None, access).write(b"state")
    assert Checkpoint(str(tmp_path / "cp-1"), str(tmp_path / "cp-0"), access).read() == b"state"
    with pytest.raises(CheckpointError, match=r"cannot save checkpoint .*nothing-here: no such file"):
        Checkpoint(str(tmp_path / "cp-2"), None, access).save(tmp_path / "nothing-here")
