"""``@dynamic``: a task whose body builds a workflow at run time from its input values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flytecore.errors import AuthoringError
from flytecore.sdk.context import CompileState, ExecutionParameters, compiling, executing_locally
from flytecore.sdk.task import PythonFunctionTask
from flytecore.spec.dynamic import DynamicJobSpec
from flytecore.spec.literals import Literal

__all__ = ["DYNAMIC_NODE_PREFIX", "DynamicWorkflowTask", "dynamic"]

DYNAMIC_NODE_PREFIX = "d"
"""Node ids of a dynamic job start with it (``dn0``, ``dn1``, ...), as flytekit's do."""


class DynamicWorkflowTask(PythonFunctionTask):
    """A ``@dynamic`` task. Its body gets real Python values (so it can loop over a list) and
    calls tasks and workflows like a workflow body does; what it returns may be their promises.

    Registered as a ``python-task`` like flytekit's. Run locally, its calls run in this process.
    Run by the task entrypoint, the body runs once with real values while calls are traced
    (:meth:`compile_into_job`), and the resulting :class:`DynamicJobSpec` (``futures.pb``) is what
    the propeller compiles and runs.
    """

    kind = "dynamic task"

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        kwargs = self.inputs_to_python(inputs)
        with executing_locally():
            result = self.run_body(kwargs)
            return self.outputs_to_literals(result)

    def compile_into_job(
        self, kwargs: dict[str, Any], settings: Any, parameters: ExecutionParameters | None = None
    ) -> DynamicJobSpec | dict[str, Literal]:
        """Run the body with real values, tracing its calls into nodes.

        :param kwargs: the body's Python arguments.
        :param settings: a :class:`flytecore.sdk.serialize.SerializationSettings`: how the
            templates of referenced tasks and subworkflows are identified (and with which
            ``--code-uri`` their containers start).
        :param parameters: what ``current_context()`` returns inside the body.
        :returns: the job for the propeller; or, when the body called nothing and returned plain
            values, its outputs as literals (flytekit writes ``outputs.pb`` then, too).
        :raises TaskExecutionError: the body raised.
        :raises AuthoringError: the body's calls or its result do not fit the interfaces.
        """
        from flytecore.sdk.serialize import EntityBundle
        from flytecore.sdk.workflow import TracedWorkflow, output_bindings

        state = CompileState(self.name, prefix=DYNAMIC_NODE_PREFIX)
        with compiling(state):
            result = self.run_body(kwargs, parameters)
            if state.branch_capture is not None:
                raise AuthoringError(f"dynamic task {self.name!r}: a conditional is not finished with else_()")
            if not state.nodes:
                return self.outputs_to_literals(result)
            traced = TracedWorkflow(nodes=state.nodes, outputs=output_bindings(self, result))
        bundle = EntityBundle(settings=settings)
        for node in traced.all_nodes():
            if node.entity is not None:
                node.entity.register_into(bundle)
        nodes = tuple(settings.identify_node(node.to_spec()) for node in traced.nodes)
        return DynamicJobSpec(
            nodes=nodes,
            min_successes=len(nodes),
            outputs=tuple(traced.outputs),
            tasks=tuple(bundle.tasks.values()),
            subworkflows=tuple(bundle.sub_workflows.values()),
        )


def dynamic(_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare a dynamic workflow task, as flytekit's ``@dynamic``; takes ``@task``'s options."""

    def wrapper(fn: Callable[..., Any]) -> DynamicWorkflowTask:
        return DynamicWorkflowTask(fn, **kwargs)

    return wrapper(_fn) if _fn is not None else wrapper
