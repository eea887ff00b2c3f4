"""The workflow compiler: checks a workflow and builds the closure admin stores and the
propeller runs.

:func:`compile_workflow` runs the compiler passes, which are plugins: the core passes (module
per pass in :mod:`flytecore.compiler.passes`, orders 100-900) check interfaces, node ids,
references, binding types, bound-once / not-bound inputs, branches, cycles, reachability and the
workflow's outputs; a plugin adds its own through the ``flytecore_register_compiler_passes``
hook (see :func:`compiler_pass`). Every pass runs and every subworkflow is compiled before
anything is reported: :class:`CompilationFailed` carries all errors, each with Flyte's error
code, the node and a sentence. Compilation is linear in nodes + edges.

Example::

    from flytecore.compiler import CompilationFailed, compile_workflow

    try:
        closure = compile_workflow(wf, tasks=[t1, t2])
    except CompilationFailed as failed:
        for error in failed.errors:
            print(error.code, error.node_id, error.message)
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import CompilerPass, FunctionPass, compiler_pass
from flytecore.compiler.context import CompileContext, EntityIndex, NodeEntry, id_key
from flytecore.compiler.errors import CompilationFailed, CompileError, ErrorCode
from flytecore.compiler.typing import is_castable
from flytecore.compiler.workflow_compiler import compile_workflow

__all__ = [
    "CompilationFailed",
    "CompileContext",
    "CompileError",
    "CompilerPass",
    "EntityIndex",
    "ErrorCode",
    "FunctionPass",
    "NodeEntry",
    "compile_workflow",
    "compiler_pass",
    "id_key",
    "is_castable",
]
