"""``FlyteFile`` and ``FlyteDirectory``: files and folders that travel between tasks.

They behave like flytekit's for the common subset. A task returning a local path as a
``FlyteFile`` has the file uploaded to the raw output prefix of the current
:class:`~flytecore.sdk.data.FileAccess`; a task receiving one gets an object that downloads the
file the first time its path is used (``os.fspath``, ``open(ff)``, ``ff.download()``). Remote URLs
are passed along as they are. ``FlyteFile["csv"]`` (or ``FlyteFile[TypeVar("csv")]``) declares a
format, which becomes the blob format of the literal type.
"""

from __future__ import annotations

import contextlib
import os
import typing
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any, ClassVar

from flytecore.sdk.data import FileAccess, current_file_access

__all__ = ["FlyteDirectory", "FlyteFile"]


def _format_of(item: Any) -> str:
    """The format string of ``FlyteFile[item]``: a str, or a TypeVar's name (flytekit allows
    both, the TypeVar spelling keeps type checkers quiet)."""
    if isinstance(item, typing.TypeVar):
        item = item.__name__
    if not isinstance(item, str):
        raise TypeError(f"a file format must be a str or a TypeVar, got {type(item).__name__} {item!r}")
    return item.strip().lstrip("~").lstrip(".")


class _FlytePath(os.PathLike[str]):
    """What FlyteFile and FlyteDirectory share: a local path fetched on first use, where the
    bytes came from or go to, and ``Cls[fmt]`` support (one cached subclass per format, so
    ``FlyteFile["csv"] is FlyteFile["csv"]``)."""

    _format: ClassVar[str] = ""
    _formatted: ClassVar[dict[tuple[type, str], type]] = {}

    def __init__(
        self,
        path: str | os.PathLike[str],
        downloader: Callable[[], Any] | None = None,
        remote: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        self.path: str = os.fspath(path)
        self._downloader = downloader
        self._downloaded = False
        self._remote: str | bool | None = os.fspath(remote) if isinstance(remote, os.PathLike) else remote
        self._remote_source: str | None = None

    def __fspath__(self) -> str:
        if not self._downloaded:
            if self._downloader is not None:
                self._downloader()
            self._downloaded = True
        return self.path

    def download(self) -> str:
        """Fetch (once) and return the local path."""
        return self.__fspath__()

    @property
    def downloaded(self) -> bool:
        """Whether the data has been fetched (or needed no fetching) already."""
        return self._downloaded

    @property
    def remote_source(self) -> str | None:
        """For a task input: the URL the data came from (``path`` is the local copy)."""
        return self._remote_source

    def location(self) -> str:
        """Where the data is: the remote source, else the upload destination, else ``path``."""
        if self._remote_source:
            return self._remote_source
        if isinstance(self._remote, str):
            return self._remote
        return self.path

    def __eq__(self, other: object) -> bool:
        # A FlyteFile equals a FlyteFile (any format subclass), a FlyteDirectory a FlyteDirectory.
        family = FlyteFile if isinstance(self, FlyteFile) else FlyteDirectory
        if isinstance(other, family):
            return (
                self.path == other.path
                and self._remote == other._remote
                and self.extension() == other.extension()
            )
        return bool(self.path == other)

    def __hash__(self) -> int:
        return hash(self.path)

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        source = f", remote_source={self._remote_source!r}" if self._remote_source else ""
        return f"{type(self).__qualname__}({self.path!r}{source})"

    @classmethod
    def extension(cls) -> str:
        """The declared format (``"csv"`` for ``FlyteFile["csv"]``), ``""`` for any format."""
        return cls._format

    def __class_getitem__(cls, item: Any) -> Any:
        if item is None:
            return cls
        fmt = _format_of(item)
        if not fmt:
            return cls
        base: type = cls.__mro__[1] if cls._format else cls
        key = (base, fmt)
        if key not in _FlytePath._formatted:
            name = f"{base.__name__}[{fmt}]"
            _FlytePath._formatted[key] = type(name, (base,), {"_format": fmt, "__qualname__": name})
        return _FlytePath._formatted[key]


class FlyteFile(_FlytePath):
    """A file: a local path, or a remote URL downloaded on first use.

    :param path: the local path (or a URL) of the file.
    :param downloader: called once, before the path is first used, to fetch the file to ``path``.
    :param remote_path: where to upload the file when it is returned from a task (instead of a
        random location under the raw output prefix); ``False`` never uploads it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        downloader: Callable[[], Any] | None = None,
        remote_path: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        super().__init__(path, downloader, remote_path)

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def new_remote_file(cls, name: str | None = None) -> FlyteFile:
        """A file at a fresh location under the raw output prefix, to write with :meth:`open`."""
        return cls(current_file_access().random_remote_path(name or uuid.uuid4().hex))

    @classmethod
    def from_source(cls, source: str | os.PathLike[str]) -> FlyteFile:
        """A file that stands for ``source`` (a URL or path) and downloads it when first used."""
        source = os.fspath(source)
        file_access = current_file_access()
        if not file_access.is_remote(source):
            return cls(source)
        local = file_access.random_local_path(os.path.basename(source.rstrip("/")))
        ff = cls(local, downloader=lambda: file_access.get(source, local))
        ff._remote_source = source
        return ff

    # -- locations -------------------------------------------------------------------------------

    @property
    def remote_path(self) -> str | bool | None:
        """The upload destination given at construction, if any."""
        return self._remote

    @contextlib.contextmanager
    def open(self, mode: str = "rb", **kwargs: Any) -> Iterator[IO[Any]]:
        """Open the file where it is (streaming from the remote store, no download) with
        fsspec; ``kwargs`` go to ``fs.open`` (e.g. ``cache_type="readahead"``)."""
        location = self.location()
        fs = current_file_access().filesystem(location)
        if "w" in mode or "a" in mode:
            parent = os.path.dirname(location) if not FileAccess.is_remote(location) else ""
            if parent:
                os.makedirs(parent.removeprefix("file://"), exist_ok=True)
        with fs.open(location.removeprefix("file://"), mode, **kwargs) as f:
            yield f


class FlyteDirectory(_FlytePath):
    """A folder: a local path, or a remote URL downloaded (all files) on first use.

    :param path: the local path (or a URL) of the folder.
    :param downloader: called once, before the path is first used, to fetch the folder.
    :param remote_directory: where to upload the folder when it is returned from a task;
        ``False`` never uploads it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        downloader: Callable[[], Any] | None = None,
        remote_directory: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        super().__init__(path, downloader, remote_directory)

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def new_remote(cls, name: str | None = None) -> FlyteDirectory:
        """A folder at a fresh location under the raw output prefix."""
        return cls(current_file_access().random_remote_path(name or ""))

    @classmethod
    def from_source(cls, source: str | os.PathLike[str]) -> FlyteDirectory:
        """A folder that stands for ``source`` and downloads it when first used."""
        source = os.fspath(source)
        file_access = current_file_access()
        if not file_access.is_remote(source):
            return cls(source)
        local = file_access.random_local_path()
        fd = cls(local, downloader=lambda: file_access.get(source, local, recursive=True))
        fd._remote_source = source
        return fd

    def new_file(self, name: str | None = None) -> FlyteFile:
        """A file inside this folder (not created until written)."""
        return FlyteFile(FileAccess.join(self.location(), name or uuid.uuid4().hex))

    def new_dir(self, name: str | None = None) -> FlyteDirectory:
        """A sub-folder of this folder."""
        return FlyteDirectory(FileAccess.join(self.location(), name or uuid.uuid4().hex))

    # -- locations -------------------------------------------------------------------------------

    @property
    def remote_directory(self) -> str | bool | None:
        """The upload destination given at construction, if any."""
        return self._remote

    # -- listing ---------------------------------------------------------------------------------

    @classmethod
    def listdir(cls, directory: FlyteDirectory) -> list[FlyteFile | FlyteDirectory]:
        """The entries of ``directory`` (sorted by name), without downloading it: files and
        folders of a remote folder download lazily, each on its own."""
        location = directory.location()
        file_access = current_file_access()
        if not file_access.is_remote(location):
            local = location.removeprefix("file://")
            return [
                FlyteFile(p) if os.path.isfile(p) else FlyteDirectory(p)
                for p in sorted(os.path.join(local, name) for name in os.listdir(local))
            ]
        fs = file_access.filesystem(location)
        entries: list[FlyteFile | FlyteDirectory] = []
        for info in sorted(fs.listdir(location), key=lambda i: i["name"]):
            remote = FileAccess.join(location, info["name"].rstrip("/").rsplit("/", 1)[-1])
            if info["type"] == "directory":
                entries.append(FlyteDirectory.from_source(remote))
            else:
                entries.append(FlyteFile.from_source(remote))
        return entries

    def crawl(self, maxdepth: int | None = None, topdown: bool = True) -> Iterator[tuple[str, str]]:
        """``(folder, relative path)`` for every file below the folder, where it is (remote
        folders are listed remotely, not downloaded); join the two to open a file."""
        location = self.location()
        fs = current_file_access().filesystem(location)
        root = fs._strip_protocol(location.removeprefix("file://")).rstrip("/")
        for base, _dirs, files in fs.walk(root, maxdepth=maxdepth, topdown=topdown):
            rel_base = base[len(root) :].strip("/")
            for name in sorted(files):
                yield location, f"{rel_base}/{name}" if rel_base else name
