"""The file access layer: moving task data between this machine and the raw output prefix.

Everything that reads or writes data a task produces (``FlyteFile``, ``FlyteDirectory``, pickled
values) goes through the current :class:`FileAccess`. In a local run its ``raw_output_prefix`` is
a local temporary folder, so values travel through a copy exactly as they do in a remote run,
where the prefix is an object store URL. Filesystems are opened with fsspec and the
``storage_options`` of the plugin host's storage backend for the URL's protocol.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
from fsspec.utils import get_protocol

__all__ = [
    "FileAccess",
    "current_file_access",
    "filesystem_for",
    "read_bytes",
    "storage_options_for",
    "using_file_access",
    "write_bytes",
]

_LOCAL_PROTOCOLS = frozenset({"file", "local"})


def is_local(uri: str) -> bool:
    """Whether ``uri`` is on the local file system: a path, or a ``file://`` or ``local://`` URL
    (fsspec's protocol of it; a path without ``://`` or ``::`` is told without fsspec's regex)."""
    if "://" not in uri and "::" not in uri:
        return True
    return get_protocol(uri) in _LOCAL_PROTOCOLS


class FileAccess:
    """Where a task's raw data goes (``raw_output_prefix``) and where downloads land
    (``local_sandbox``), with the operations to move data between the two.

    :param raw_output_prefix: a URL (``s3://bucket/raw``, ``memory://raw``) or a local folder.
    :param local_sandbox: a local folder for downloads; a new temporary folder if None.
    """

    def __init__(self, raw_output_prefix: str | os.PathLike[str], local_sandbox: str | os.PathLike[str] | None = None):
        prefix = os.fspath(raw_output_prefix)
        self.raw_output_prefix: str = prefix if self.is_remote(prefix) else _local_path(prefix)
        self.local_sandbox: str = (
            _local_path(os.fspath(local_sandbox))
            if local_sandbox is not None
            else tempfile.mkdtemp(prefix="flytecore-sandbox-")
        )

    def __repr__(self) -> str:
        return f"FileAccess(raw_output_prefix={self.raw_output_prefix!r}, local_sandbox={self.local_sandbox!r})"

    # -- paths -------------------------------------------------------------------------------------

    @staticmethod
    def is_remote(path: str | os.PathLike[str]) -> bool:
        """True for a URL of any protocol but ``file://``; False for local paths."""
        return not is_local(os.fspath(path))

    @staticmethod
    def join(base: str, *parts: str) -> str:
        """Join path parts with ``/`` (URLs) or the OS separator (local paths)."""
        if FileAccess.is_remote(base):
            return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])
        return os.path.join(base, *(p for p in parts if p))

    def random_remote_path(self, name: str = "") -> str:
        """A fresh location under the raw output prefix; ends with ``name`` when given, so an
        uploaded file keeps its file name (and extension)."""
        return self.join(self.raw_output_prefix, uuid.uuid4().hex, os.path.basename(name.rstrip("/")))

    def random_local_path(self, name: str = "") -> str:
        """A fresh path (not created) in the local sandbox; ends with ``name`` when given."""
        folder = os.path.join(self.local_sandbox, uuid.uuid4().hex)
        base = os.path.basename(name.rstrip("/"))
        return os.path.join(folder, base) if base else folder

    # -- file systems ------------------------------------------------------------------------------

    def filesystem(self, url: str | os.PathLike[str]) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem for ``url``, opened with the storage options of the plugin
        host's backend for its protocol (fsspec's defaults for protocols no plugin registered)."""
        # Looked up on every call (not at construction) so that ``use_host`` applies.
        return filesystem_for(url)

    def exists(self, url: str | os.PathLike[str]) -> bool:
        """Whether a file or folder exists at ``url``."""
        return bool(self.filesystem(url).exists(_strip_file_scheme(os.fspath(url))))

    def isdir(self, url: str | os.PathLike[str]) -> bool:
        """Whether ``url`` is a folder (for object stores: a prefix with objects under it)."""
        return bool(self.filesystem(url).isdir(_strip_file_scheme(os.fspath(url))))

    # -- moving data -------------------------------------------------------------------------------

    def put(self, local_path: str | os.PathLike[str], remote_url: str, recursive: bool = False) -> str:
        """Upload a local file (or, with ``recursive``, a folder's contents) to ``remote_url``.

        A folder lands *as* ``remote_url`` (its files at ``remote_url/<relative path>``), never
        inside it, whatever exists there. Returns ``remote_url``.
        """
        source = os.fspath(local_path)
        target = _strip_file_scheme(remote_url)
        fs = self.filesystem(remote_url)
        if not recursive:
            _makedirs_parent(fs, target)
            fs.put_file(source, target)
            return remote_url
        fs.makedirs(target, exist_ok=True)
        sources, targets = [], []
        for root, _dirs, files in os.walk(source):
            rel_root = os.path.relpath(root, source)
            for fname in files:
                rel = fname if rel_root == "." else os.path.join(rel_root, fname)
                sources.append(os.path.join(root, fname))
                targets.append(_url_join(target, rel.replace(os.sep, "/")))
        for src, dst in zip(sources, targets, strict=True):
            _makedirs_parent(fs, dst)
            fs.put_file(src, dst)
        return remote_url

    def get(self, remote_url: str, local_path: str | os.PathLike[str], recursive: bool = False) -> str:
        """Download ``remote_url`` (a file, or with ``recursive`` a folder's contents) to
        ``local_path``, creating parent folders. Returns ``local_path``."""
        target = os.fspath(local_path)
        source = _strip_file_scheme(remote_url)
        fs = self.filesystem(remote_url)
        if not recursive:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            fs.get_file(source, target)
            return target
        os.makedirs(target, exist_ok=True)
        base = fs._strip_protocol(source).rstrip("/")
        for found in fs.find(source, withdirs=True, detail=True).values():
            rel = found["name"][len(base) :].lstrip("/")
            if not rel:
                continue
            dest = os.path.join(target, *rel.split("/"))
            if found["type"] == "directory":
                os.makedirs(dest, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                fs.get_file(found["name"], dest)
        return target


def storage_options_for(url: str | os.PathLike[str]) -> dict[str, Any]:
    """The fsspec storage options that the plugin host's storage backend gives for ``url``'s
    protocol; empty (fsspec's defaults) for a protocol no plugin registered. ``local://`` URLs
    use the ``file`` backend."""
    url = os.fspath(url)
    protocol = get_protocol(url)
    # Imported on use (as FileAccess always did) so importing this module loads no plugin machinery.
    from flytecore.plugin import get_host

    storage = get_host().storage
    backend = storage.get(protocol)
    if backend is None and protocol == "local":
        backend = storage.get("file")
    return dict(backend.storage_options(url)) if backend is not None else {}


def filesystem_for(url: str | os.PathLike[str], **options: Any) -> fsspec.AbstractFileSystem:
    """The fsspec filesystem for ``url``'s protocol, opened with :func:`storage_options_for`
    overridden by ``options`` (e.g. ``skip_instance_cache=True`` for a private instance).
    Used by :class:`FileAccess` and by the admin's metadata store, so a storage plugin
    configures both."""
    url = os.fspath(url)
    return fsspec.filesystem(get_protocol(url), **{**storage_options_for(url), **options})


def read_bytes(url: str | os.PathLike[str]) -> bytes:
    """The bytes of the file at ``url`` (any fsspec URL or a local path).

    :raises FileNotFoundError: nothing is there.
    :raises OSError: the storage could not be read.
    """
    url = os.fspath(url)
    return bytes(filesystem_for(url).cat_file(_strip_file_scheme(url)))


def write_bytes(url: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to the file at ``url``, replacing it. Local files are written beside the
    target and renamed over it, so a reader never sees half a file; object stores get one PUT."""
    url = os.fspath(url)
    if not FileAccess.is_remote(url):
        path = _local_path(url)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            f = open(tmp, "wb")
        except FileNotFoundError:  # the folder's first file (one call less for the others)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            f = open(tmp, "wb")
        try:
            with f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return
    filesystem_for(url).pipe_file(url, bytes(data))


def _local_path(path: str) -> str:
    return os.path.abspath(_strip_file_scheme(path))


def _strip_file_scheme(url: str) -> str:
    # fsspec accepts "file://" URLs, but os.* functions and shutil need plain paths.
    return url[len("file://") :] if url.startswith("file://") else url


def _url_join(base: str, rel: str) -> str:
    return f"{base.rstrip('/')}/{rel}" if FileAccess.is_remote(base) else os.path.join(base, rel)


def _makedirs_parent(fs: fsspec.AbstractFileSystem, path: str) -> None:
    # Object stores have no folders; local file systems need them before a write.
    parent = path.rsplit("/", 1)[0] if FileAccess.is_remote(path) else os.path.dirname(path)
    if parent and parent != path:
        fs.makedirs(parent, exist_ok=True)


# --- the current file access -------------------------------------------------------------------

_current: contextvars.ContextVar[FileAccess | None] = contextvars.ContextVar("flytecore_file_access", default=None)
_defaults: dict[int, FileAccess] = {}


def current_file_access() -> FileAccess:
    """The file access in effect: the innermost :func:`using_file_access`, else this process's
    default, a temporary folder created on first use (and removed when the process exits)."""
    active = _current.get()
    if active is not None:
        return active
    # Keyed by process id so a forked worker never writes into its parent's folder.
    pid = os.getpid()
    default = _defaults.get(pid)
    if default is None:
        root = tempfile.mkdtemp(prefix=f"flytecore-{pid}-")
        default = FileAccess(os.path.join(root, "raw"), os.path.join(root, "sandbox"))
        os.makedirs(default.raw_output_prefix, exist_ok=True)
        os.makedirs(default.local_sandbox, exist_ok=True)
        _defaults[pid] = default
        atexit.register(_remove_default, pid, root)
    return default


def _remove_default(pid: int, root: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def using_file_access(file_access: FileAccess) -> Iterator[FileAccess]:
    """Make ``file_access`` the current one inside a ``with`` block (the local executor and the
    task entrypoint set the raw output prefix of the execution this way)."""
    token = _current.set(file_access)
    try:
        yield file_access
    finally:
        _current.reset(token)
