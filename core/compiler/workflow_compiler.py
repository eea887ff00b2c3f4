"""compile_workflow: run the compiler passes over a workflow and its subworkflows, and build the
closure admin stores and the propeller runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flytecore.compiler.compiler_pass import CompilerPass
from flytecore.compiler.context import CompileContext, EntityIndex, IdKey, id_key
from flytecore.compiler.errors import CompilationFailed, CompileError, ErrorCode
from flytecore.compiler.graph import find_cycle, strongly_connected_components
from flytecore.plugin.manager import PluginHost, get_host
from flytecore.spec.compiled import (
    CompiledLaunchPlan,
    CompiledTask,
    CompiledWorkflow,
    CompiledWorkflowClosure,
)
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import LaunchPlanTemplate, WorkflowTemplate

__all__ = ["compile_workflow", "run_passes"]


def compile_workflow(
    workflow: WorkflowTemplate,
    *,
    tasks: Iterable[TaskTemplate] = (),
    sub_workflows: Iterable[WorkflowTemplate] = (),
    launch_plans: Iterable[LaunchPlanTemplate] = (),
    host: PluginHost | None = None,
) -> CompiledWorkflowClosure:
    """Compile ``workflow`` into a closure: the workflow with its edges, the subworkflows it runs
    (compiled too) and the tasks and launch plans its nodes refer to.

    References match tasks, subworkflows and launch plans by project, domain, name and version.
    The passes come from the plugin host (``host``, or the process's host), so plugins can add
    checks. Every pass runs, and every workflow is compiled, before anything is reported.

    :raises CompilationFailed: with every error of every workflow; no other exception escapes.
    """
    name = getattr(getattr(workflow, "id", None), "name", "") or "?"
    if not isinstance(workflow, WorkflowTemplate):
        message = f"expected a WorkflowTemplate to compile, got {type(workflow).__name__}"
        raise CompilationFailed([_build_error(ErrorCode.VALUE_REQUIRED, message, name)], name)
    try:
        passes: list[CompilerPass] = list((host or get_host()).compiler_passes.ordered())
        index = EntityIndex(tasks, sub_workflows, launch_plans)
        contexts = _compile_all(workflow, index, passes)
        errors = [e for ctx in contexts for e in ctx.errors] + _recursion_errors(contexts)
        closure = None if errors else _closure(contexts)
    except Exception as exc:
        # Passes are guarded one by one; this catches the rest (a broken plugin host, entities
        # that are not spec models) so that callers only ever see CompilationFailed.
        message = f"the compiler failed: {type(exc).__name__}: {exc}"
        raise CompilationFailed([_build_error(ErrorCode.WORKFLOW_BUILD_ERROR, message, name)], name) from exc
    if closure is None:
        raise CompilationFailed(errors, name)
    return closure


def _build_error(code: str, message: str, workflow_id: str) -> CompileError:
    return CompileError(code=code, node_id="", message=message, workflow_id=workflow_id)


def run_passes(
    workflow: WorkflowTemplate, index: EntityIndex, passes: Sequence[CompilerPass]
) -> CompileContext:
    """Compile one workflow: every pass in order over a fresh context. A pass that raises is
    reported as a ``WorkflowBuildError`` naming it, and the next passes still run."""
    try:
        ctx = CompileContext(workflow, index)
    except Exception as exc:
        ctx = CompileContext(WorkflowTemplate(id=workflow.id), index)
        ctx.error(
            ErrorCode.WORKFLOW_BUILD_ERROR,
            "",
            f"the workflow's nodes are malformed: {type(exc).__name__}: {exc}",
        )
        return ctx
    for compiler_pass in passes:
        try:
            compiler_pass.run(ctx)
        except Exception as exc:
            ctx.error(
                ErrorCode.WORKFLOW_BUILD_ERROR,
                "",
                f"compiler pass {getattr(compiler_pass, 'name', compiler_pass)!r} failed: {type(exc).__name__}: {exc}",
            )
    return ctx


def _compile_all(
    workflow: WorkflowTemplate, index: EntityIndex, passes: Sequence[CompilerPass]
) -> list[CompileContext]:
    """The primary workflow, then every subworkflow it runs, directly or not, each once."""
    contexts = [run_passes(workflow, index, passes)]
    compiled = {id_key(workflow.id)}
    i = 0
    while i < len(contexts):
        for key, sub in contexts[i].referenced_sub_workflows.items():
            if key not in compiled:
                compiled.add(key)
                contexts.append(run_passes(sub, index, passes))
        i += 1
    return contexts


def _recursion_errors(contexts: list[CompileContext]) -> list[CompileError]:
    """A subworkflow runs inline, so one that contains itself would never stop unfolding."""
    by_key = {id_key(ctx.workflow.id): ctx for ctx in contexts}
    refs: dict[IdKey, dict[IdKey, str]] = {}
    for key, ctx in by_key.items():
        refs[key] = {}
        for node_key, entry in ctx.nodes.items():
            wn = entry.node.workflow_node
            if wn is not None and wn.sub_workflow_ref is not None:
                refs[key].setdefault(id_key(wn.sub_workflow_ref), node_key)

    def successors(key: IdKey) -> list[IdKey]:
        return [k for k in refs.get(key, {}) if k in by_key]

    position = {key: i for i, key in enumerate(by_key)}
    errors = []
    for component in strongly_connected_components(list(by_key), successors):
        first = min(component, key=position.__getitem__)
        if len(component) == 1 and first not in refs[first]:
            continue
        cycle = find_cycle(first, set(component), successors)
        ctx = by_key[first]
        path = " -> ".join(repr(k[2]) for k in cycle)
        message = (
            f"subworkflow {first[2]!r} contains itself ({path}); a subworkflow runs inline, so it cannot "
            "include itself; launch it through a launch plan instead"
        )
        errors.append(
            CompileError(
                code=ErrorCode.CYCLE_DETECTED,
                node_id=refs[first][cycle[1]],
                message=message,
                workflow_id=ctx.workflow_id,
            )
        )
    return errors


def _closure(contexts: list[CompileContext]) -> CompiledWorkflowClosure:
    tasks: dict[IdKey, TaskTemplate] = {}
    launch_plans: dict[IdKey, LaunchPlanTemplate] = {}
    for ctx in contexts:
        for key, task in ctx.referenced_tasks.items():
            tasks.setdefault(key, task)
        for key, lp in ctx.referenced_launch_plans.items():
            launch_plans.setdefault(key, lp)
    compiled = [CompiledWorkflow(template=ctx.workflow, connections=ctx.connections()) for ctx in contexts]
    return CompiledWorkflowClosure(
        primary=compiled[0],
        sub_workflows=tuple(compiled[1:]),
        tasks=tuple(CompiledTask(template=t) for t in tasks.values()),
        launch_plans=tuple(CompiledLaunchPlan(template=lp) for lp in launch_plans.values()),
    )
