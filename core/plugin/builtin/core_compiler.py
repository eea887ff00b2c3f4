"""Built-in plugin: the core compiler passes (filled by flytecore.compiler.passes)."""

from __future__ import annotations

from flytecore.plugin._markers import hookimpl
from flytecore.plugin.registry import CompilerPassRegistry


@hookimpl
def flytecore_register_compiler_passes(register: CompilerPassRegistry) -> None:
    """Register the core passes of the compiler in their order."""
    from flytecore.compiler.passes import core_passes

    for compiler_pass in core_passes():
        register.register(compiler_pass)
