"""User code shipped as an archive (fast registration): ``flytecore-execute --code-uri URI``.

The archive (a ``.tar.gz`` of the user's source folder) is downloaded through fsspec and
extracted once per content into ``$FLYTECORE_HOME/code/<sha256 of the archive>/``
(``~/.flytecore`` by default); that folder then goes first on ``sys.path``.

A warm worker process runs many tasks, so activation is incremental (:func:`activate`): the same
code folder again changes nothing (imported modules are reused); another folder, or none, removes
the previous one from ``sys.path`` and drops the modules imported from it, so that a new version
of the same module names is imported afresh. Modules already imported from elsewhere under a
top-level name the new archive provides are dropped too: the archive's code wins, as it does in
a fresh process.

Extraction refuses members with absolute paths or ``..`` components, links that point outside
the folder and device files, naming the member, before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import sys
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import ModuleType

from flytecore.errors import FlyteCoreError
from flytecore.sdk.data import filesystem_for

__all__ = ["CodeArchiveError", "activate", "active_root", "code_home", "fetch"]

_CHUNK = 1 << 20
# Never dropped from sys.modules, whatever an archive contains.
_PROTECTED = frozenset({"flytecore", *sys.stdlib_module_names})


class CodeArchiveError(FlyteCoreError):
    """A code archive could not be downloaded, is not a tar archive, or holds unsafe members.

    :ivar recoverable: whether a retry may succeed (a failed download may; a bad archive never).
    """

    def __init__(self, message: str, *, recoverable: bool = False) -> None:
        super().__init__(message)
        self.recoverable = recoverable


def code_home() -> Path:
    """``$FLYTECORE_HOME/code`` (``~/.flytecore/code``): where archives are extracted."""
    return Path(os.environ.get("FLYTECORE_HOME") or Path.home() / ".flytecore").expanduser() / "code"


# (uri, size, version stamp) -> extracted folder: a warm worker does not download an unchanged
# archive again for every task.
_fetched: dict[tuple[str, str, str], Path] = {}
_active: Path | None = None


def fetch(uri: str, home: Path | None = None) -> Path:
    """Download the archive at ``uri`` (any fsspec URL or a local path) and extract it into
    ``home/<sha256>/`` unless that folder exists; returns the folder.

    :raises CodeArchiveError: the download failed, the file is not a tar archive, or a member is
        unsafe (an absolute path, a ``..`` component, a link leaving the folder, a device).
    """
    home = home or code_home()
    plain = uri[len("file://") :] if uri.startswith("file://") else uri
    fs = filesystem_for(uri)
    try:
        info = fs.info(plain)
    except FileNotFoundError:
        raise CodeArchiveError(f"--code-uri {uri}: no such file") from None
    except OSError as exc:
        raise CodeArchiveError(f"--code-uri {uri}: cannot be read: {exc}", recoverable=True) from exc
    stamp = str(info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created") or "")
    key = (uri, str(info.get("size", "")), stamp)
    known = _fetched.get(key)
    if stamp and known is not None and known.is_dir():
        return known
    home.mkdir(parents=True, exist_ok=True)
    download = home / f".download-{uuid.uuid4().hex}.tar"
    digest = hashlib.sha256()
    try:
        with fs.open(plain, "rb") as src, open(download, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        folder = home / digest.hexdigest()
        if not folder.is_dir():
            _extract(download, folder, uri)
    except OSError as exc:
        raise CodeArchiveError(f"--code-uri {uri}: download failed: {exc}", recoverable=True) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            download.unlink()
    _fetched[key] = folder
    return folder


def _extract(archive: Path, folder: Path, uri: str) -> None:
    """Extract into a staging folder beside ``folder`` and rename it into place, so a folder that
    exists is always complete (another process may be extracting the same archive)."""
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, uri)
            staging.mkdir()
            # The "data" filter (Python >= 3.11.4) repeats the checks above in tarfile's own
            # words and drops permissions a source archive should not carry (setuid, ...).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=members, **safe)  # type: ignore[arg-type]
    except tarfile.TarError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise CodeArchiveError(f"--code-uri {uri}: not a readable tar archive: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        os.rename(staging, folder)
    except OSError:
        # Someone else renamed the same content into place first.
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.is_dir():
            raise


def _unsafe(name: str) -> str | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    return None


def _check_member(member: tarfile.TarInfo, uri: str) -> None:
    problem = _unsafe(member.name)
    if problem is None and (member.issym() or member.islnk()):
        target = member.linkname
        if member.issym():
            # A symlink's target is relative to the link's folder.
            target = str(PurePosixPath(member.name).parent / target) if not target.startswith("/") else target
        if _unsafe(os.path.normpath(target)) is not None:
            problem = f"links outside the archive (to {member.linkname!r})"
    if problem is None and (member.isdev() or member.isfifo()):
        problem = "is a device or a FIFO"
    if problem is not None:
        raise CodeArchiveError(f"--code-uri {uri}: refused: member {member.name!r} {problem}")


def active_root() -> Path | None:
    """The code folder this process imports from now (None: no code archive)."""
    return _active


def activate(folder: Path | None) -> None:
    """Make ``folder`` the code folder imports come from (None: none).

    The same folder as before changes nothing. Otherwise the previous folder leaves
    ``sys.path`` and every module imported from it leaves ``sys.modules``; ``folder`` goes first
    on ``sys.path``, and modules imported from elsewhere under a top-level name it provides are
    dropped, so the next import finds the archive's version.
    """
    global _active
    if folder is not None:
        folder = folder.resolve()
    if folder == _active:
        if folder is not None and (not sys.path or sys.path[0] != str(folder)):
            _remove_from_path(folder)
            sys.path.insert(0, str(folder))
        return
    if _active is not None:
        _remove_from_path(_active)
        previous = _active
        _drop_modules(lambda _name, mod: _imported_from(mod, previous))
    if folder is not None:
        sys.path.insert(0, str(folder))
        provided = _top_level_names(folder) - _PROTECTED
        _drop_modules(
            lambda name, mod: name.partition(".")[0] in provided and not _imported_from(mod, folder)
        )
    _active = folder
    importlib.invalidate_caches()


def _remove_from_path(folder: Path) -> None:
    sys.path[:] = [p for p in sys.path if p != str(folder)]


def _top_level_names(folder: Path) -> set[str]:
    names = set()
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
        elif entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
    return names


def _imported_from(module: ModuleType, folder: Path) -> bool:
    """Whether ``module`` was loaded from a file (or, for a package, a folder) inside ``folder``."""
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", None) or ())]
    for location in locations:
        if location and (Path(location).resolve().is_relative_to(folder)):
            return True
    return False


def _drop_modules(condition: Callable[[str, ModuleType], bool]) -> None:
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in _PROTECTED:
            continue
        if condition(name, module):
            del sys.modules[name]
