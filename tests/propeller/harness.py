"""Drive the engine in a test: a workflow object from SDK entities, rounds until it ends.

Tasks run in this process through :class:`InProcessExecutor` (it calls the SDK task's
``local_execute`` on the inputs the engine resolved), so the engine's own logic is tested
without worker processes; storage is a real folder.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from flytecore.errors import TaskExecutionError
from flytecore.propeller.context import EngineConfig, Services, TaskContext, TaskTransition, user_error
from flytecore.propeller.data import FsspecDataStore
from flytecore.propeller.engine import Engine, Run
from flytecore.propeller.events import as_spec
from flytecore.sdk.serialize import SerializationSettings, compile_entity
from flytecore.spec import idl
from flytecore.spec.identifiers import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytecore.spec.literals import LiteralMap
from flytecore.spec.phases import TaskExecutionPhase
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow_object import WorkflowObject

_names = itertools.count()


class InProcessExecutor:
    """Runs SDK tasks by name in this process; ``fail`` maps a task name to how many attempts
    fail (with a system or a user error) before one succeeds."""

    def __init__(self, tasks: dict[str, Any]) -> None:
        self.tasks = tasks
        self.calls: list[tuple[str, int]] = []
        self.aborted: list[str] = []
        self.system_failures: dict[str, int] = {}
        self.hold: set[str] = set()
        self.contexts: list[TaskContext] = []  # what each started attempt was given

    def handle(self, ctx: TaskContext) -> TaskTransition:
        name = ctx.template.id.name
        if name in self.hold:
            ctx.plugin_state["started"] = True
            return TaskTransition(TaskExecutionPhase.RUNNING)
        self.calls.append((name, ctx.task_execution_id.retry_attempt))
        self.contexts.append(ctx)
        if self.system_failures.get(name, 0) > 0:
            self.system_failures[name] -= 1
            from flytecore.propeller.context import system_error

            return TaskTransition(
                TaskExecutionPhase.RETRYABLE_FAILED, error=system_error("WorkerCrashed", "worker died")
            )
        entity = self.tasks[name]
        try:
            outputs = entity.local_execute(dict(ctx.inputs.literals))
        except TaskExecutionError as exc:
            recoverable = "Recoverable" in type(exc.__cause__).__name__
            phase = TaskExecutionPhase.RETRYABLE_FAILED if recoverable else TaskExecutionPhase.FAILED
            return TaskTransition(phase, error=user_error(f"USER:{type(exc.__cause__).__name__}", str(exc)))
        return TaskTransition(TaskExecutionPhase.SUCCEEDED, outputs=LiteralMap(literals=outputs))

    def abort(self, ctx: TaskContext) -> None:
        self.aborted.append(ctx.template.id.name)


@attrs.define
class Backend:
    executor: InProcessExecutor

    def executor_for(self, template: TaskTemplate) -> InProcessExecutor | None:
        return self.executor if template.type == "python-task" else None

    def known_types(self) -> list[str]:
        return ["echo", "python-task"]


def tasks_of(module: Any) -> dict[str, Any]:
    from flytecore.sdk.task import PythonFunctionTask

    return {v.name: v for v in vars(module).values() if isinstance(v, PythonFunctionTask)}


def workflow_object(
    wf: Any, tmp_path: Path, inputs: dict[str, Any] | None = None, **kw: Any
) -> WorkflowObject:
    """The object the admin would hand over for ``wf`` with Python ``inputs``."""
    from flytecore.sdk.base import _engine

    closure = compile_entity(wf, SerializationSettings(project="p", domain="development", version="v1"))
    engine = _engine()
    py_inputs = wf.python_interface.inputs
    literals = {}
    for name, (tp, default) in py_inputs.items():
        value = (inputs or {}).get(name, default)
        literals[name] = engine.to_literal(value, tp)
    name = f"e{next(_names)}"
    # As the admin does before it hands an execution over: the inputs are stored at inputs_uri
    # (the workflow store keeps the object without them).
    inputs_uri = tmp_path / name / "inputs.pb"
    inputs_uri.parent.mkdir(parents=True, exist_ok=True)
    inputs_uri.write_bytes(idl.literal_map_to_bytes(LiteralMap(literals=literals)))
    # And so is the compiled closure, written when the workflow version was registered (the
    # store keeps the object without it too).
    closure_uri = tmp_path / name / "closure.pb"
    closure_uri.write_bytes(idl.to_idl(closure).SerializeToString())
    return WorkflowObject(
        execution_id=WorkflowExecutionIdentifier(project="p", domain="development", name=name),
        closure=closure,
        closure_uri=str(closure_uri),
        inputs=LiteralMap(literals=literals),
        inputs_uri=str(inputs_uri),
        metadata_prefix=str(tmp_path / name),
        raw_output_prefix=str(tmp_path / "raw" / name),
        launch_plan_id=Identifier(
            resource_type=ResourceType.LAUNCH_PLAN,
            project="p",
            domain="development",
            name=wf.name,
            version="v1",
        ),
        **kw,
    )


def run_to_end(
    engine: Engine, run: Run, max_rounds: int = 1000, on_round: Callable[[int], None] | None = None
) -> int:
    """Rounds until the execution ends; returns how many it took."""
    for i in range(max_rounds):
        if on_round is not None:
            on_round(i)
        if engine.round(run, time.time()):
            return i + 1
    raise AssertionError(
        f"{run.execution_id.name} did not finish in {max_rounds} rounds: {run.state.workflow}"
    )


def make_engine(module: Any, **config: Any) -> tuple[Engine, InProcessExecutor]:
    executor = InProcessExecutor(tasks_of(module))
    engine = Engine(Services(data=FsspecDataStore(), tasks=Backend(executor)), EngineConfig(**config))
    return engine, executor


def spec_events(run: Run) -> list[Any]:
    """The round's events (taken from ``run``), as the spec's models."""
    return [as_spec(event) for event in run.take_events()]


def event_inputs(event: Any) -> LiteralMap | None:
    """An event's inputs: inline, or read from the storage location it names."""
    if event.input_data is not None or not event.input_uri:
        return event.input_data  # type: ignore[no-any-return]
    return FsspecDataStore().read_literal_map(event.input_uri)


def event_outputs(event: Any) -> LiteralMap | None:
    """An event's outputs: inline, or read from the storage location it names."""
    if event.output_data is not None or not event.output_uri:
        return event.output_data  # type: ignore[no-any-return]
    return FsspecDataStore().read_literal_map(event.output_uri)
