"""Dynamic tasks: the task's run wrote a sub-workflow (``futures.pb``, a flyteidl
``DynamicJobSpec``) that the engine compiles and runs in the node's place.

FlytePropeller's dynamic node handler does the same: the task is run first; when it produced a
future instead of outputs, the future is compiled with the tasks it carries and executed as a
nested workflow whose outputs become the node's outputs. The compiled workflow is kept in memory
per execution; after a restart it is compiled again from ``futures.pb`` (compiling is
deterministic), so nothing of it needs saving but the flag on the node.
"""

from __future__ import annotations

from typing import Any

from flytecore.propeller.context import NodeContext, TaskContext, Transition, user_error
from flytecore.propeller.executable import Executable
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.phases import NodePhase
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import WorkflowMetadata, WorkflowTemplate

__all__ = ["abort", "handle", "read_futures", "start"]

FUTURES_KEY = "futures"


def _futures_uri(output_prefix: str) -> str:
    return f"{output_prefix}/futures.pb"


def read_futures(ctx: NodeContext, tctx: TaskContext) -> Any | None:
    """The DynamicJobSpec the task wrote, or None if it wrote none."""
    data = ctx.engine.services.data.read_bytes(_futures_uri(tctx.output_prefix))
    if data is None:
        return None
    return _parse(data)


def _parse(data: bytes) -> Any:
    from flyteidl.core import dynamic_job_pb2

    from flytecore.spec import idl
    from flytecore.spec.dynamic import DynamicJobSpec

    return idl.from_idl(dynamic_job_pb2.DynamicJobSpec.FromString(data), DynamicJobSpec)


def start(ctx: NodeContext, template: TaskTemplate, spec: Any) -> Transition:
    """Switch the node to running its dynamic workflow."""
    ctx.status.dynamic = True
    ctx.status.plugin_state[FUTURES_KEY] = _futures_uri(f"{ctx.node_prefix}/{ctx.status.retry_attempt}")
    ctx.touch()
    try:
        _executable(ctx, template, spec)
    except Exception as exc:  # a dynamic workflow that does not compile is the user's error
        return Transition.failed(user_error("DynamicWorkflowCompilationFailed", f"node {ctx.node.id}: {exc}"))
    return handle(ctx, template)


def _executable(ctx: NodeContext, template: TaskTemplate, spec: Any = None) -> Executable:
    cache: dict[str, Any] = ctx.run.memo["dynamic"]
    found = cache.get(ctx.key)
    if found is not None:
        return found
    if spec is None:
        data = ctx.engine.services.data.read_bytes(ctx.status.plugin_state[FUTURES_KEY])
        if data is None:
            raise FileNotFoundError(f"{ctx.status.plugin_state[FUTURES_KEY]} is missing")
        spec = _parse(data)
    from flytecore.compiler import compile_workflow

    tid = template.id
    wf = WorkflowTemplate(
        id=Identifier(
            resource_type=ResourceType.WORKFLOW, project=tid.project, domain=tid.domain,
            name=f"{tid.name}.dynamic.{ctx.key}", version=tid.version,
        ),
        metadata=WorkflowMetadata(),
        interface=template.interface,
        nodes=tuple(spec.nodes),
        outputs=tuple(spec.outputs),
    )
    closure = compile_workflow(wf, tasks=list(spec.tasks), sub_workflows=list(spec.subworkflows))
    ctx.run.closure.add(closure)
    cache[ctx.key] = Executable.of(closure.primary)
    return cache[ctx.key]


def _scope(ctx: NodeContext, executable: Executable) -> Any:
    from flytecore.propeller.engine import Scope

    return Scope(executable, f"{ctx.key}-{ctx.status.retry_attempt}-", ctx.key, ctx.inputs)


def handle(ctx: NodeContext, template: TaskTemplate) -> Transition:
    """Walk the dynamic workflow once."""
    try:
        executable = _executable(ctx, template)
    except Exception as exc:
        return Transition.failed(user_error("DynamicWorkflowCompilationFailed", f"node {ctx.node.id}: {exc}"))
    result = ctx.engine.walk(ctx.run, _scope(ctx, executable), ctx.now)
    if result.phase == NodePhase.SUCCEEDED:
        return Transition.succeeded(result.outputs)
    if result.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED):
        return Transition.failed(result.error or user_error("DynamicWorkflowFailed", f"node {ctx.node.id} failed"))
    return Transition(NodePhase.DYNAMIC_RUNNING, message="dynamic workflow running")


def abort(ctx: NodeContext, template: TaskTemplate, cause: str) -> None:
    """Abort the dynamic workflow's running nodes."""
    try:
        executable = _executable(ctx, template)
    except Exception:
        return
    ctx.engine.abort_scope(ctx.run, _scope(ctx, executable), cause, ctx.now)
