"""Built-in plugin: the core type transformers (filled by flytecore.sdk.type_engine)."""

from __future__ import annotations

from flytecore.plugin._markers import hookimpl
from flytecore.plugin.registry import TypeTransformerRegistry


@hookimpl
def flytecore_register_type_transformers(register: TypeTransformerRegistry) -> None:
    """Register the transformers for Python's built-in types, dataclasses, enums, files."""
    from flytecore.sdk.type_engine import builtin_transformers

    for transformer in builtin_transformers():
        register.register(transformer)
