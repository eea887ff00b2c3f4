"""The core compiler passes, one module each, in the order they run.

The built-in plugin ``core_compiler`` registers them through the
``flytecore_register_compiler_passes`` hook, like any plugin's passes; orders 100-900 leave room
for plugin passes in between (e.g. 450 runs after the type checks, before bound-once checks).
"""

from __future__ import annotations

from flytecore.compiler.compiler_pass import CompilerPass
from flytecore.compiler.passes.binding_types import check_binding_types
from flytecore.compiler.passes.bound_inputs import check_bound_inputs
from flytecore.compiler.passes.branches import check_branches
from flytecore.compiler.passes.cycles import check_cycles
from flytecore.compiler.passes.interfaces import check_interfaces
from flytecore.compiler.passes.node_ids import check_node_ids
from flytecore.compiler.passes.reachability import check_reachability
from flytecore.compiler.passes.references import resolve_references
from flytecore.compiler.passes.workflow_outputs import check_workflow_outputs

__all__ = ["core_passes"]


def core_passes() -> list[CompilerPass]:
    """The core passes, in run order (orders 100 to 900)."""
    return [
        check_interfaces,  # 100
        check_node_ids,  # 200
        resolve_references,  # 300
        check_binding_types,  # 400
        check_bound_inputs,  # 500
        check_branches,  # 600
        check_cycles,  # 700
        check_reachability,  # 800
        check_workflow_outputs,  # 900
    ]
