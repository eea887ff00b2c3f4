"""Execution and compilation state of the SDK.

Three states decide what calling a task or workflow does:

- *compiling*: a workflow function is being traced; calls add nodes to a :class:`CompileState`
  and return promises that reference node outputs;
- *local execution*: a workflow runs in this process; calls receive and return promises that
  hold literals, so every value crosses the type engine exactly as it would remotely;
- neither: a plain call from user code, which converts Python values in and out.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from flytecore.spec.identifiers import Identifier, WorkflowExecutionIdentifier

if TYPE_CHECKING:
    from flytecore.sdk.checkpoint import Checkpoint
    from flytecore.sdk.node import SdkNode

_compile_state: contextvars.ContextVar[CompileState | None] = contextvars.ContextVar(
    "flytecore_compile_state", default=None
)
_local_execution: contextvars.ContextVar[LocalExecution | None] = contextvars.ContextVar(
    "flytecore_local_execution", default=None
)
_user_params: contextvars.ContextVar[ExecutionParameters | None] = contextvars.ContextVar(
    "flytecore_execution_parameters", default=None
)


_USER_LOG = logging.getLogger("flytecore.user")
"""The logger a task's ``current_context().logging`` gives (the same one every time)."""


@attrs.define
class CompileState:
    """Nodes created while tracing one workflow function, in creation order."""

    workflow_name: str
    nodes: list[SdkNode] = attrs.field(factory=list)
    _counter: int = 0
    # Set while a conditional's case is being traced: nodes go to the case, not the workflow.
    branch_capture: list[SdkNode] | None = None
    # "d" while a @dynamic body runs in a task container: its nodes join a running workflow, so
    # their ids (dn0, dn1, ...) must not collide with the ids of the workflow's own nodes.
    prefix: str = ""

    def next_id(self) -> str:
        """A new node id: n0, n1, ... (flytekit's scheme), after ``prefix``."""
        node_id = f"{self.prefix}n{self._counter}"
        self._counter += 1
        return node_id

    def add(self, node: SdkNode) -> None:
        """Record a node in the current scope (the workflow or an open branch case)."""
        if self.branch_capture is not None:
            self.branch_capture.append(node)
        else:
            self.nodes.append(node)


@attrs.define
class LocalExecution:
    """A workflow running in this process."""

    execution_id: WorkflowExecutionIdentifier
    # Set while a conditional case that was not selected is traced: calls are skipped.
    skipping: bool = False


@attrs.define
class ExecutionParameters:
    """What ``current_context()`` gives a running task (flytekit's ``ExecutionParameters``)."""

    execution_id: WorkflowExecutionIdentifier
    execution_date: _dt.datetime
    _working_directory: str | None = attrs.field(alias="working_directory")
    """None: a new temporary folder, made when the task first asks for it (most never do)."""
    raw_output_prefix: str
    task_id: Identifier | None = None
    logging: logging.Logger = attrs.field(factory=lambda: _USER_LOG)
    attrs_: dict[str, Any] = attrs.field(factory=dict)
    """Extra attributes by upper-case name (``SPARK_SESSION`` is read as
    ``current_context().spark_session``, as in flytekit); plugins set theirs with
    :func:`flytecore.plugin.context_attribute`."""
    checkpoint: Checkpoint | None = None
    """Where the task saves progress and finds the previous attempt's (task containers only)."""
    output_prefix: str | None = None
    """The task attempt's output prefix, set by the task entrypoint."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: plugin attributes, case-insensitively.
        if name.startswith("__") or name == "attrs_":
            raise AttributeError(name)
        from flytecore.plugin.context import task_attributes

        key = name.upper()
        # A plugin's attribute wins over one of the same name in attrs_.
        plugin_attributes = task_attributes()
        if key in plugin_attributes:
            return plugin_attributes[key]
        if key in self.attrs_:
            return self.attrs_[key]
        known = ", ".join(sorted(k.lower() for k in self.attrs_.keys() | plugin_attributes.keys())) or "none"
        raise AttributeError(
            f"current_context() has no attribute {name!r} (plugin attributes set for this task: {known};"
            " a plugin sets them for tasks of its type, e.g. spark_session for @task(task_config=Spark(...)))"
        )

    @property
    def working_directory(self) -> str:
        """The task's own folder for files (a new temporary one per local task run)."""
        if self._working_directory is None:
            self._working_directory = tempfile.mkdtemp(prefix="flytecore-task-")
        return self._working_directory

    @property
    def output_metadata_prefix(self) -> str:
        """Where the task's outputs are written: the attempt's output prefix in a task container,
        a local folder in local runs."""
        return self.output_prefix or os.path.join(self.working_directory, "outputs")


def current_context() -> ExecutionParameters:
    """The running task's execution parameters: execution id, date, working directory, logging.

    Outside a task (e.g. at import time) it describes a local, ad-hoc execution.
    """
    params = _user_params.get()
    if params is None:
        params = _adhoc_parameters()
        _user_params.set(params)
    return params


def _adhoc_parameters(task_id: Identifier | None = None) -> ExecutionParameters:
    from flytecore.sdk.data import current_file_access

    execution = _local_execution.get()
    execution_id = execution.execution_id if execution else new_local_execution_id()
    return ExecutionParameters(
        execution_id=execution_id,
        execution_date=_dt.datetime.now(_dt.UTC),
        working_directory=None,  # made if asked for: a folder per local task run costs a mkdir
        raw_output_prefix=current_file_access().raw_output_prefix,
        task_id=task_id,
    )


def new_local_execution_id() -> WorkflowExecutionIdentifier:
    """An execution id for a local run (project/domain "local")."""
    return WorkflowExecutionIdentifier(project="local", domain="local", name="l" + uuid.uuid4().hex[:19])


def compile_state() -> CompileState | None:
    """The workflow being traced, if any."""
    return _compile_state.get()


def local_execution() -> LocalExecution | None:
    """The workflow running locally, if any."""
    return _local_execution.get()


@contextlib.contextmanager
def compiling(state: CompileState) -> Iterator[CompileState]:
    """Trace a workflow function: calls inside create nodes."""
    token = _compile_state.set(state)
    local = _local_execution.set(None)
    try:
        yield state
    finally:
        _compile_state.reset(token)
        _local_execution.reset(local)


@contextlib.contextmanager
def executing_locally(execution: LocalExecution | None = None) -> Iterator[LocalExecution]:
    """Run a workflow in this process: calls inside exchange literal-holding promises."""
    outer = _local_execution.get()
    execution = execution or LocalExecution(
        execution_id=outer.execution_id if outer else new_local_execution_id()
    )
    token = _local_execution.set(execution)
    cstate = _compile_state.set(None)
    try:
        yield execution
    finally:
        _local_execution.reset(token)
        _compile_state.reset(cstate)


@contextlib.contextmanager
def task_parameters(task_id: Identifier | None) -> Iterator[ExecutionParameters]:
    """Execution parameters for one task body run (a fresh working directory, made when the body
    asks for it and removed after the body when it left nothing there: a local run of a
    10,000-task chain makes no 10,000 folders)."""
    params = _adhoc_parameters(task_id)
    token = _user_params.set(params)
    try:
        yield params
    finally:
        _user_params.reset(token)
        if params._working_directory is not None:
            with contextlib.suppress(OSError):
                os.rmdir(params._working_directory)  # only if empty: files the body returned stay


@contextlib.contextmanager
def using_parameters(params: ExecutionParameters) -> Iterator[ExecutionParameters]:
    """Make ``params`` what :func:`current_context` returns inside a ``with`` block (the task
    entrypoint builds them from the environment Flyte sets)."""
    token = _user_params.set(params)
    try:
        yield params
    finally:
        _user_params.reset(token)
