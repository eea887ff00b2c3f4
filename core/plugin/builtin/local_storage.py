"""Built-in plugin: the local file system as a storage backend (``file://`` and plain paths)."""

from __future__ import annotations

from typing import Any

from flytecore.plugin._markers import hookimpl
from flytecore.plugin.registry import StorageBackend, StorageRegistry


def _local_options(url: str) -> dict[str, Any]:
    # Parent folders are created on write so a fresh metadata prefix needs no set-up.
    return {"auto_mkdir": True}


@hookimpl
def flytecore_register_storage(register: StorageRegistry) -> None:
    """Register the ``file`` protocol (local folders; the embedded default)."""
    register.register(
        StorageBackend(protocol="file", storage_options=_local_options, description="local folder")
    )
