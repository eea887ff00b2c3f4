"""Task nodes: run the task through the executor the backend chooses for its type.

The handler prepares the attempt (output prefix, Flyte's environment variables; the engine stored
``inputs.pb`` unless the executor hands the task its inputs itself),
asks the task executor how the attempt is doing, turns its answer into task events, and reads
the outputs the task wrote. A task whose type no installed plugin runs fails with a message
naming the type and what is installed. A ``@dynamic`` task that wrote a sub-workflow
(``futures.pb``) is handed to :mod:`flytecore.propeller.handlers.dynamic`. A cached task goes
through :mod:`flytecore.propeller.handlers.cache` before an attempt starts (a hit ends the node
without one) and after it ends (the outputs are stored).
"""

from __future__ import annotations

from flytecore.plugin import missing_plugin_hint
from flytecore.propeller.context import (
    INLINE_INPUTS,
    TASK_CONTEXTS,
    NodeContext,
    TaskContext,
    TaskTransition,
    Transition,
    system_error,
    user_error,
)
from flytecore.propeller.events import task_event
from flytecore.propeller.handlers import cache as task_cache
from flytecore.propeller.handlers import dynamic
from flytecore.spec.events import CatalogCacheStatus
from flytecore.spec.identifiers import NodeExecutionIdentifier, TaskExecutionIdentifier
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import NodePhase, TaskExecutionPhase
from flytecore.spec.tasks import TaskTemplate

__all__ = ["WAKES", "TaskHandler", "task_context"]

WAKES = "_wakes"
"""In a running attempt's plugin state: its executor wakes the node when it changes (see
:attr:`TaskTransition.wakes`)."""

_RUNNING_PHASES = (
    TaskExecutionPhase.QUEUED,
    TaskExecutionPhase.INITIALIZING,
    TaskExecutionPhase.WAITING_FOR_RESOURCES,
    TaskExecutionPhase.RUNNING,
)


def _template(ctx: NodeContext) -> TaskTemplate:
    assert ctx.node.task_node is not None
    return ctx.run.closure.task(ctx.node.task_node.reference_id)


def task_context(ctx: NodeContext, template: TaskTemplate) -> TaskContext:
    """The executor's view of the node's current attempt."""
    run, status = ctx.run, ctx.status
    eid = run.obj.execution_id
    attempt = status.retry_attempt
    raw = f"{run.obj.raw_output_prefix.rstrip('/')}/{ctx.key}/{attempt}"
    interruptible = run.obj.interruptible
    if interruptible is None and ctx.node.metadata is not None:
        interruptible = ctx.node.metadata.interruptible
    if interruptible is None:
        interruptible = bool(template.metadata.interruptible)
    tid = template.id
    env = {
        "FLYTE_INTERNAL_EXECUTION_PROJECT": eid.project,
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": eid.domain,
        "FLYTE_INTERNAL_EXECUTION_ID": eid.name,
        "FLYTE_INTERNAL_TASK_PROJECT": tid.project,
        "FLYTE_INTERNAL_TASK_DOMAIN": tid.domain,
        "FLYTE_INTERNAL_TASK_NAME": tid.name,
        "FLYTE_INTERNAL_TASK_VERSION": tid.version,
        "FLYTE_INTERNAL_NODE_ID": ctx.key,
        "FLYTE_ATTEMPT_NUMBER": str(attempt),
        "FLYTE_INTERNAL_EXECUTION_WORKFLOW": f"{run.obj.launch_plan_id.project}:{run.obj.launch_plan_id.domain}:{run.obj.launch_plan_id.name}",
    }
    if interruptible:
        env["FLYTE_INTERNAL_INTERRUPTIBLE"] = "true"
    inputs_uri = ctx.inputs_uri
    map_inputs_uri = ctx.scope.map_inputs_uri if ctx.scope is not None else None
    if map_inputs_uri is not None:  # an element of flytekit's map_task: see handlers/array.py
        inputs_uri = map_inputs_uri
        env["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] = "FLYTE_K8S_ARRAY_INDEX"
        env["FLYTE_K8S_ARRAY_INDEX"] = ctx.node.id
    return TaskContext(
        template=template,
        task_execution_id=TaskExecutionIdentifier(
            task_id=tid, node_execution_id=NodeExecutionIdentifier(node_id=ctx.key, execution_id=eid), retry_attempt=attempt
        ),
        inputs=ctx.inputs,
        inputs_uri=inputs_uri,
        output_prefix=f"{ctx.node_prefix}/{attempt}",
        raw_output_prefix=raw,
        checkpoint_prefix=f"{raw}/_flytecheckpoints",
        prev_checkpoint_prefix=(
            f"{run.obj.raw_output_prefix.rstrip('/')}/{ctx.key}/{attempt - 1}/_flytecheckpoints" if attempt else '""'
        ),
        plugin_state=status.plugin_state,
        interruptible=interruptible,
        environment=env,
        wake=lambda: ctx.engine.wake_node(eid, ctx.key),
        now=ctx.now,
        inputs_stored=not status.inputs_inline,  # never set for a map's elements
        inputs_bytes=run.memo[INLINE_INPUTS].get(ctx.key) if status.inputs_inline else None,
    )


def _attempt_context(ctx: NodeContext, template: TaskTemplate) -> TaskContext:
    """:func:`task_context` for the node's current attempt, made when the attempt starts and
    kept while it runs: only the round's clock changes between the rounds that look at it (a
    chain's task is looked at when it starts and when it ends)."""
    memo: dict[str, TaskContext] = ctx.run.memo[TASK_CONTEXTS]
    status = ctx.status
    kept = memo.get(ctx.key)
    if (
        kept is not None
        and kept.template is template
        and kept.plugin_state is status.plugin_state  # a retry starts with new state
        and kept.task_execution_id.retry_attempt == status.retry_attempt
    ):
        kept.now = ctx.now
        return kept
    memo[ctx.key] = made = task_context(ctx, template)  # a retry's replaces its attempt's; the node's end drops it
    return made


class TaskHandler:
    """Runs task nodes (and the sub-workflows of dynamic tasks)."""

    def handle(self, ctx: NodeContext) -> Transition:
        """Start or check on the current attempt."""
        try:
            template = _template(ctx)
        except KeyError as exc:
            return Transition.failed(system_error("TaskNotFound", f"node {ctx.node.id}: {exc.args[0]}"))
        if template.type == "echo":  # no container: the outputs are the inputs
            self._event(ctx, template, TaskTransition(TaskExecutionPhase.SUCCEEDED), outputs=ctx.inputs)
            return Transition.succeeded(ctx.inputs)
        cache = task_cache.settings(ctx, template)
        if ctx.status.dynamic:
            transition = dynamic.handle(ctx, template)
        else:
            transition = self._attempt(ctx, template, cache)
        if cache is not None:
            transition = self._cached(ctx, template, cache, transition)
        return transition

    def _cached(
        self, ctx: NodeContext, template: TaskTemplate, cache: task_cache.CacheSettings, transition: Transition
    ) -> Transition:
        """What the cache does with the attempt's outcome."""
        if ctx.status.cache_status == CatalogCacheStatus.CACHE_HIT:
            return transition  # no attempt ran: nothing to store or release
        if transition.phase == NodePhase.SUCCEEDED:
            task_cache.populate(ctx, template, cache, transition.outputs or LiteralMap())
        elif transition.phase in (NodePhase.FAILED, NodePhase.RETRYABLE_FAILURE):
            task_cache.release(ctx, template, cache)
        elif ctx.status.plugin_state or ctx.status.dynamic:  # an attempt runs: keep the reservation
            return task_cache.heartbeat(ctx, template, cache, transition)
        return transition

    def _attempt(self, ctx: NodeContext, template: TaskTemplate, cache: task_cache.CacheSettings | None) -> Transition:
        """Start or check on the task's attempt through its executor."""
        backend = ctx.engine.services.tasks
        executor = backend.executor_for(template)
        if executor is None:
            known = ", ".join(sorted(backend.known_types())) or "none"
            return Transition.failed(
                user_error(
                    "UnknownTaskType",
                    f"node {ctx.node.id}: no installed plugin runs task type {template.type!r} "
                    f"(task {template.id.name}); task types installed: {known}; {missing_plugin_hint(template.type)}.",
                )
            )
        tctx = _attempt_context(ctx, template)
        if not ctx.status.plugin_state:
            if cache is not None:
                held = task_cache.before_attempt(ctx, template, cache)
                if held is not None:  # a cache hit, or another execution computes the outputs
                    return held
            # A new attempt. Its inputs are in storage for the task's process to read: the engine
            # wrote them when the node started (an element of flytekit's map_task reads the
            # array node's, written by that node).
            ctx.run.running_tasks.add(ctx.key)
        result = executor.handle(tctx)
        ctx.touch()
        if result.phase in _RUNNING_PHASES:
            if result.wakes:
                ctx.status.plugin_state[WAKES] = True
            else:
                ctx.status.plugin_state.pop(WAKES, None)
            self._event(ctx, template, result)
            wake = result.wake_at if result.wake_at is not None else None
            return Transition.running(wake_at=wake, message=result.reason)
        ctx.run.running_tasks.discard(ctx.key)
        if result.phase == TaskExecutionPhase.SUCCEEDED:
            return self._succeeded(ctx, template, tctx, result)
        error = result.error or system_error("TaskFailed", result.reason or "the task failed")
        self._event(ctx, template, result, error=error)
        if result.phase == TaskExecutionPhase.RETRYABLE_FAILED:
            return Transition.retryable(error)
        return Transition.failed(error)

    def _succeeded(self, ctx: NodeContext, template: TaskTemplate, tctx: TaskContext, result: TaskTransition) -> Transition:
        data = ctx.engine.services.data
        outputs = result.outputs
        output_uri = f"{tctx.output_prefix}/outputs.pb"
        if outputs is None:
            outputs = data.read_literal_map(output_uri)
        if outputs is None:
            spec = dynamic.read_futures(ctx, tctx)
            if spec is not None:
                self._event(ctx, template, TaskTransition(TaskExecutionPhase.RUNNING, reason="dynamic workflow running"))
                return dynamic.start(ctx, template, spec)
            if template.interface.outputs:
                error = user_error(
                    "OutputsNotFound",
                    f"task {template.id.name} finished without writing its outputs ({output_uri} is missing)",
                )
                self._event(ctx, template, TaskTransition(TaskExecutionPhase.FAILED), error=error)
                return Transition.failed(error)
            outputs = LiteralMap()
        missing = sorted(set(template.interface.outputs) - set(outputs.literals))
        if missing:
            error = user_error("OutputsNotFound", f"task {template.id.name} did not produce output(s) {', '.join(missing)}")
            self._event(ctx, template, TaskTransition(TaskExecutionPhase.FAILED), error=error)
            return Transition.failed(error)
        stored = result.output_uri if result.outputs is not None else output_uri
        self._event(ctx, template, result, outputs=outputs, output_uri=stored)
        return Transition.succeeded(outputs, output_uri=stored)

    def _event(
        self,
        ctx: NodeContext,
        template: TaskTemplate,
        result: TaskTransition,
        *,
        outputs: LiteralMap | None = None,
        output_uri: str | None = None,
        error: object = None,
    ) -> None:
        status = ctx.status
        attempt = status.retry_attempt
        # One event per phase per attempt; the attempt number is part of the phase identity.
        marker = f"{attempt}:{int(result.phase)}"
        if status.plugin_state.get("_reported") == marker and not (outputs or error):
            return
        status.plugin_state["_reported"] = marker
        # The node's inputs in storage (see Engine._store_inputs); a map element's are inline,
        # and so are those the executor hands to the task.
        in_map = ctx.scope is not None and ctx.scope.map_inputs_uri is not None
        stored_inputs = None if in_map or status.inputs_inline else ctx.inputs_uri
        task_event(
            ctx.run,
            ctx.key,
            template.id,
            attempt,
            result.phase,
            0,
            ctx.now,
            task_type=template.type,
            logs=result.logs,
            output_uri=output_uri,
            outputs=outputs if output_uri is None else None,
            error=error,  # type: ignore[arg-type]
            inputs=ctx.inputs if result.phase in _RUNNING_PHASES and not stored_inputs else None,
            input_uri=stored_inputs if result.phase in _RUNNING_PHASES else None,
            reason=result.reason,
        )

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Stop the running attempt (or the dynamic workflow)."""
        try:
            template = _template(ctx)
        except KeyError:
            return
        cache = task_cache.settings(ctx, template)
        if cache is not None and ctx.status.cache_status != CatalogCacheStatus.CACHE_HIT:
            task_cache.release(ctx, template, cache)
        if ctx.status.dynamic:
            dynamic.abort(ctx, template, cause)
            return
        executor = ctx.engine.services.tasks.executor_for(template)
        if executor is not None and ctx.status.plugin_state:
            executor.abort(task_context(ctx, template))
        ctx.run.running_tasks.discard(ctx.key)
        self._event(ctx, template, TaskTransition(TaskExecutionPhase.ABORTED, reason=cause))

    def finalize(self, ctx: NodeContext) -> None:
        """Let the executor clean up after the attempt's end (a Kubernetes backend deletes its
        pod or custom resource); executors without a ``finalize`` have nothing to clean."""
        if ctx.status.dynamic or ctx.status.cache_status == CatalogCacheStatus.CACHE_HIT:
            return
        try:
            template = _template(ctx)
        except KeyError:
            return
        executor = ctx.engine.services.tasks.executor_for(template)
        finalize = getattr(executor, "finalize", None)
        if finalize is not None and ctx.status.plugin_state:
            finalize(task_context(ctx, template))
