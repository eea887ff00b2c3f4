"""What ``flytecore register`` and ``flytecore run --remote`` ship: the user's entities, found in
their files, and the source folders they live in, as deterministic ``.tar.gz`` archives.

Module names follow flytekit's ``pyflyte`` rule: a file's *root* is the first folder above it
without an ``__init__.py``, and its module name is its path below that root
(``root/pkg/mod.py`` -> ``pkg.mod``). A task container unpacks the root's archive and imports
the same name. A plain folder of scripts is therefore its own root (``examples/quickstart.py`` is
module ``quickstart`` whether ``examples/`` or the file was named), so ``flytecore register`` and
``flytecore run --remote`` give an entity the same name; files below a sub-folder without an
``__init__.py`` have that sub-folder as their root and their own archive.

Archives are deterministic (sorted members, zero times and owners, gzip without a time stamp),
so an unchanged folder gives the same bytes, the same MD5 and the same default version.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from flytecore.cli.loader import LoadError, load_module_from_root, module_name_in_root

__all__ = ["Entities", "SourceFile", "build_archive", "collect_entities", "find_sources", "project_root"]

IGNORE_FILE = ".flyteignore"
"""A file in a root with glob patterns (one a line, ``#`` comments) of paths to leave out."""
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages"}
_SKIP_FILES = ("*.pyc", "*.pyo", "*.so.tmp", ".DS_Store")


@attrs.frozen
class SourceFile:
    """A Python file to load: its path, its root and the module name it has below that root."""

    path: Path
    root: Path
    module: str


def project_root(path: Path) -> Path:
    """The first folder above ``path`` (a file, or a package folder) without an ``__init__.py``;
    a folder that is not a package is its own root."""
    path = path.resolve()
    folder = path if path.is_dir() and not (path / "__init__.py").exists() else path.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _ignored_patterns(root: Path) -> list[str]:
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = (line.strip() for line in ignore.read_text(encoding="utf-8").splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def _skipped_dir(path: Path) -> bool:
    return path.name.startswith(".") or path.name in _SKIP_DIRS or path.name.endswith(".egg-info") or (
        path / "pyvenv.cfg"
    ).exists()


def _walk(root: Path) -> Iterator[Path]:
    """Files below ``root`` in sorted order, without hidden folders, caches, virtual
    environments and what ``.flyteignore`` names."""
    patterns = _ignored_patterns(root)

    def ignored(rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], p) for p in patterns)

    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not _skipped_dir(here / d) and not ignored((here / d).relative_to(root).as_posix())
        )
        for name in sorted(files):
            rel = (here / name).relative_to(root).as_posix()
            if any(fnmatch.fnmatch(name, p) for p in _SKIP_FILES) or ignored(rel):
                continue
            if (here / name).is_file():
                yield here / name


def find_sources(paths: Sequence[str | os.PathLike[str]]) -> list[SourceFile]:
    """The Python files named, or found below the folders named, each with its root and module.

    :raises LoadError: a path does not exist, is not Python, or two files would be the same module.
    """
    found: dict[Path, SourceFile] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise LoadError(f"{given}: no such file or folder")
        if path.is_file():
            if path.suffix != ".py":
                raise LoadError(f"{given}: not a Python file")
            files: Iterable[Path] = [path]
        else:
            files = (p for p in _walk(path.resolve()) if p.suffix == ".py")
        for file in files:
            file = file.resolve()
            if file.name in ("setup.py", "conftest.py") or file in found:
                continue
            root = project_root(file)
            found[file] = SourceFile(file, root, module_name_in_root(file, root))
    by_module: dict[str, SourceFile] = {}
    for source in found.values():
        other = by_module.setdefault(source.module, source)
        if other is not source:
            raise LoadError(
                f"{other.path} and {source.path} would both be module {source.module!r} (roots {other.root} and "
                f"{source.root}); rename one, or make their folders packages (add __init__.py)"
            )
    return sorted(found.values(), key=lambda s: (str(s.root), s.module))


@attrs.define
class Entities:
    """The tasks, workflows and launch plans found, by name; ``modules`` maps each module name
    to its source file."""

    tasks: dict[str, Any] = attrs.field(factory=dict)
    workflows: dict[str, Any] = attrs.field(factory=dict)
    launch_plans: dict[str, Any] = attrs.field(factory=dict)
    modules: dict[str, SourceFile] = attrs.field(factory=dict)

    def add(self, obj: Any) -> None:
        """Add a task, workflow or launch plan (anything else is ignored)."""
        from flytecore.sdk.launch_plan import LaunchPlan
        from flytecore.sdk.task import PythonFunctionTask
        from flytecore.sdk.workflow import PythonFunctionWorkflow

        if isinstance(obj, LaunchPlan):
            self.launch_plans.setdefault(obj.name, obj)
        elif isinstance(obj, PythonFunctionWorkflow):
            self.workflows.setdefault(obj.name, obj)
        elif isinstance(obj, PythonFunctionTask):
            self.tasks.setdefault(obj.name, obj)

    def root_of(self, entity: Any) -> Path | None:
        """The root of the module ``entity`` was defined in, if it was loaded from one."""
        module = getattr(getattr(entity, "fn", None), "__module__", None)
        name = getattr(entity, "name", "")
        for candidate in (module, name.rpartition(".")[0]):
            source = self.modules.get(candidate or "")
            if source is not None:
                return source.root
        return None

    def __len__(self) -> int:
        return len(self.tasks) + len(self.workflows) + len(self.launch_plans)


def collect_entities(sources: Sequence[SourceFile]) -> Entities:
    """Import every source file and collect the tasks, workflows and launch plans at its top level.

    :raises LoadError: a file cannot be imported (the message names the file and the line).
    """
    entities = Entities()
    for source in sources:
        module = load_module_from_root(source.path, source.root)
        entities.modules[source.module] = source
        for value in vars(module).values():
            entities.add(value)
    return entities


def build_archive(root: Path) -> bytes:
    """A deterministic ``.tar.gz`` of the files below ``root`` (see the module docstring).

    :raises LoadError: ``root`` holds no file to ship.
    """
    buffer = io.BytesIO()
    count = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for file in _walk(root):
                info = tarfile.TarInfo(file.relative_to(root).as_posix())
                data = file.read_bytes()
                info.size = len(data)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o755 if os.access(file, os.X_OK) else 0o644
                tar.addfile(info, io.BytesIO(data))
                count += 1
    if count == 0:
        raise LoadError(f"{root}: no file to archive")
    return buffer.getvalue()


def digest_of(archives: Iterable[bytes], *extra: str) -> str:
    """A short, stable version string for a set of archives (and settings that change what is
    registered, such as the image)."""
    digest = hashlib.sha256()
    for data in archives:
        digest.update(hashlib.sha256(data).digest())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:20]
