"""Intra-task checkpoints, as flytekit's ``current_context().checkpoint``.

A task attempt gets two locations from the propeller: ``--checkpoint-path`` (where this attempt
saves) and ``--prev-checkpoint`` (what the previous attempt saved, if there was one). A long task
saves progress with :meth:`Checkpoint.save` or :meth:`Checkpoint.write`; its retry picks it up
with :meth:`Checkpoint.restore` or :meth:`Checkpoint.read`::

    cp = current_context().checkpoint
    state = cp.read()          # None on the first attempt
    ...
    cp.write(b"step 41 done")
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from flytecore.errors import FlyteCoreError
from flytecore.sdk.data import FileAccess

__all__ = ["Checkpoint", "CheckpointError"]


class CheckpointError(FlyteCoreError):
    """A checkpoint could not be read or written (say which location and why)."""


class Checkpoint:
    """Checkpoints of one task attempt, saved synchronously through ``file_access``.

    :param checkpoint_dest: where this attempt's checkpoint goes (any fsspec URL or local path).
    :param checkpoint_src: the previous attempt's checkpoint, or None on the first attempt.
    :param file_access: moves the data; its local sandbox holds restored checkpoints.
    """

    _FILE_NAME = "_checkpoint"  # the one file read()/write() use

    def __init__(self, checkpoint_dest: str, checkpoint_src: str | None, file_access: FileAccess) -> None:
        self.checkpoint_dest = checkpoint_dest
        self.checkpoint_src = checkpoint_src or None
        self._file_access = file_access
        self._restored: Path | None = None

    def __repr__(self) -> str:
        return f"Checkpoint(dest={self.checkpoint_dest!r}, src={self.checkpoint_src!r})"

    def prev_exists(self) -> bool:
        """Whether a previous attempt left a checkpoint."""
        return self.checkpoint_src is not None and self._file_access.exists(self.checkpoint_src)

    def restore(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Download the previous checkpoint (a folder) into ``path`` (a fresh local folder if None)
        and return it; None when there is no previous checkpoint. Downloads once per attempt."""
        if self._restored is not None:
            return self._restored
        if not self.prev_exists():
            return None
        assert self.checkpoint_src is not None
        target = Path(path) if path is not None else Path(self._file_access.random_local_path("prev_checkpoint"))
        target.mkdir(parents=True, exist_ok=True)
        try:
            if self._file_access.isdir(self.checkpoint_src):
                self._file_access.get(self.checkpoint_src, target, recursive=True)
            else:
                name = self.checkpoint_src.rstrip("/").rsplit("/", 1)[-1]
                self._file_access.get(self.checkpoint_src, target / name)
        except OSError as exc:
            raise CheckpointError(f"cannot restore the previous checkpoint {self.checkpoint_src}: {exc}") from exc
        self._restored = target
        return target

    def save(self, checkpoint: str | os.PathLike[str] | io.BufferedReader) -> None:
        """Upload a local folder, a local file or an open binary file as this attempt's
        checkpoint (a file lands as ``<checkpoint path>/<its name>``)."""
        if isinstance(checkpoint, io.BufferedReader):
            self.write(checkpoint.read())
            return
        try:
            source = Path(checkpoint)
            if source.is_dir():
                self._file_access.put(source, self.checkpoint_dest, recursive=True)
            elif source.is_file():
                self._put_file(source)
            else:
                raise CheckpointError(f"cannot save checkpoint {source}: no such file or folder")
        except OSError as exc:
            raise CheckpointError(f"cannot save a checkpoint to {self.checkpoint_dest}: {exc}") from exc

    def read(self) -> bytes | None:
        """The bytes the previous attempt saved with :meth:`write`, or None."""
        folder = self.restore()
        if folder is None:
            return None
        files = [p for p in folder.rglob("*") if p.is_file()]
        if len(files) != 1:
            raise CheckpointError(
                f"checkpoint {self.checkpoint_src} holds {len(files)} files; read() needs exactly one "
                "(use restore() for folders)"
            )
        return files[0].read_bytes()

    def write(self, data: bytes) -> None:
        """Save ``data`` as this attempt's checkpoint (one file, read back with :meth:`read`)."""
        if not isinstance(data, bytes | bytearray):
            raise CheckpointError(f"Checkpoint.write needs bytes, got {type(data).__name__}")
        with tempfile.TemporaryDirectory(prefix="flytecore-cp-") as tmp:
            staged = Path(tmp) / self._FILE_NAME
            staged.write_bytes(bytes(data))
            try:
                self._put_file(staged)
            except OSError as exc:
                raise CheckpointError(f"cannot save a checkpoint to {self.checkpoint_dest}: {exc}") from exc

    def _put_file(self, source: Path) -> None:
        self._file_access.put(source, FileAccess.join(self.checkpoint_dest, source.name))
