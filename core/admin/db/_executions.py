"""Repository calls for executions, node executions and task executions.

A mixin of :class:`flytecore.admin.db.repository.Repository`, kept apart because the event
path (create, conditional update, upsert) is its own concern. The phase-transition rules live
in the service; the repository gives it the primitives to apply them safely: ``expect`` makes
an update conditional on what the service read, so two racing events cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flytecore.admin.db import models as m
from flytecore.admin.db._store import Key, Page, Store
from flytecore.admin.db.filters import Sort, SortDirection
from flytecore.spec.identifiers import (
    NodeExecutionIdentifier,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)

__all__ = ["ExecutionRecords"]

DEFAULT_LIMIT = 100
_NEWEST_FIRST = Sort("created_at", SortDirection.DESCENDING)
_OLDEST_FIRST = Sort("created_at", SortDirection.ASCENDING)


def execution_key(execution_id: WorkflowExecutionIdentifier) -> Key:
    """The primary key of an execution row."""
    return {"project": execution_id.project, "domain": execution_id.domain, "name": execution_id.name}


def node_execution_key(node_execution_id: NodeExecutionIdentifier) -> Key:
    """The primary key of a node execution row."""
    execution = node_execution_id.execution_id or WorkflowExecutionIdentifier()
    return {
        "execution_project": execution.project,
        "execution_domain": execution.domain,
        "execution_name": execution.name,
        "node_id": node_execution_id.node_id,
    }


def task_execution_key(task_execution_id: TaskExecutionIdentifier) -> Key:
    """The primary key of a task execution row."""
    node = node_execution_key(task_execution_id.node_execution_id or NodeExecutionIdentifier())
    task = task_execution_id.task_id
    return {
        **node,
        "task_project": task.project if task else "",
        "task_domain": task.domain if task else "",
        "task_name": task.name if task else "",
        "task_version": task.version if task else "",
        "retry_attempt": task_execution_id.retry_attempt,
    }


class ExecutionRecords:
    """Executions, node executions and task executions."""

    _store: Store

    # -- executions ----------------------------------------------------------------------

    def create_execution(self, execution: m.Execution) -> m.Execution:
        """Store a new execution. Names are idempotency keys: :raises AlreadyExists: the name is
        taken in that project and domain (the stored execution is kept)."""
        return self._store.insert(execution)

    def get_execution(self, execution_id: WorkflowExecutionIdentifier) -> m.Execution:
        """The execution ``execution_id``. :raises NotFound:"""
        return self._store.get(m.Execution, execution_key(execution_id))

    def list_executions(
        self, project: str, domain: str, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.Execution]:  # fmt: skip
        """Executions of a project and domain, newest first unless ``sort`` says otherwise."""
        conditions = [m.Execution.project == project, m.Execution.domain == domain]
        return self._store.page(m.Execution, conditions, filters, sort, _NEWEST_FIRST, limit, token)

    def update_execution(
        self,
        execution_id: WorkflowExecutionIdentifier,
        *,
        expect: Mapping[str, Any] | None = None,
        load: bool = True,
        **changes: Any,
    ) -> m.Execution:
        """Set columns of an execution, e.g. ``phase=..., closure=..., outputs_uri=...``.

        :param expect: columns the stored row must still have (``{"phase": 2}``), else nothing
            is written and :class:`ConcurrentUpdate` is raised.
        :param load: return the row as stored; False returns None (one read fewer).
        :raises NotFound: :raises ConcurrentUpdate: :raises TypeError: unknown column.
        """
        return self._store.update(m.Execution, execution_key(execution_id), changes, expect, load=load)

    # -- node executions -----------------------------------------------------------------

    def create_node_execution(self, node_execution: m.NodeExecution, *, load: bool = True) -> m.NodeExecution:
        """Store a node execution's first record.

        :raises AlreadyExists: it exists (kept). :raises NotFound: its execution does not exist.
        """
        return self._store.insert(node_execution, load=load)

    def upsert_node_execution(self, node_execution: m.NodeExecution) -> m.NodeExecution:
        """Insert a node execution, or replace all its columns but ``created_at``; atomic.

        :raises NotFound: its execution does not exist.
        """
        return self._store.upsert(node_execution)

    def get_node_execution(self, node_execution_id: NodeExecutionIdentifier) -> m.NodeExecution:
        """The node execution ``node_execution_id``. :raises NotFound:"""
        return self._store.get(m.NodeExecution, node_execution_key(node_execution_id))

    def update_node_execution(
        self, node_execution_id: NodeExecutionIdentifier, *, expect: Mapping[str, Any] | None = None,
        load: bool = True, **changes: Any,
    ) -> m.NodeExecution:  # fmt: skip
        """Set columns of a node execution, conditionally on ``expect`` (see :meth:`update_execution`)."""
        return self._store.update(m.NodeExecution, node_execution_key(node_execution_id), changes, expect, load=load)

    def list_node_executions(
        self, execution_id: WorkflowExecutionIdentifier, *, parent_node_id: str | None = None,
        top_level: bool = False, filters: str = "", sort: Sort | None = None, limit: int = DEFAULT_LIMIT,
        token: str = "",
    ) -> Page[m.NodeExecution]:  # fmt: skip
        """Node executions of an execution, in the order they were first recorded.

        :param parent_node_id: only the children of this node (inside a subworkflow, branch or
            dynamic node).
        :param top_level: only nodes without a parent (what FlyteAdmin lists by default).
        """
        ne = m.NodeExecution
        conditions = [
            ne.execution_project == execution_id.project,
            ne.execution_domain == execution_id.domain,
            ne.execution_name == execution_id.name,
        ]
        if parent_node_id is not None:
            conditions.append(ne.parent_node_id == parent_node_id)
        elif top_level:
            conditions.append(ne.parent_node_id.is_(None))
        return self._store.page(ne, conditions, filters, sort, _OLDEST_FIRST, limit, token)

    # -- task executions -----------------------------------------------------------------

    def create_task_execution(self, task_execution: m.TaskExecution, *, load: bool = True) -> m.TaskExecution:
        """Store a task attempt's first record.

        :raises AlreadyExists: it exists (kept). :raises NotFound: its node execution does not exist.
        """
        return self._store.insert(task_execution, load=load)

    def upsert_task_execution(self, task_execution: m.TaskExecution) -> m.TaskExecution:
        """Insert a task attempt, or replace all its columns but ``created_at``; atomic.

        :raises NotFound: its node execution does not exist.
        """
        return self._store.upsert(task_execution)

    def get_task_execution(self, task_execution_id: TaskExecutionIdentifier) -> m.TaskExecution:
        """The task attempt ``task_execution_id``. :raises NotFound:"""
        return self._store.get(m.TaskExecution, task_execution_key(task_execution_id))

    def update_task_execution(
        self, task_execution_id: TaskExecutionIdentifier, *, expect: Mapping[str, Any] | None = None,
        load: bool = True, **changes: Any,
    ) -> m.TaskExecution:  # fmt: skip
        """Set columns of a task attempt, conditionally on ``expect`` (e.g. ``{"phase_version": 3}``)."""
        return self._store.update(m.TaskExecution, task_execution_key(task_execution_id), changes, expect, load=load)

    def list_task_executions(
        self, node_execution_id: NodeExecutionIdentifier, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.TaskExecution]:  # fmt: skip
        """Task attempts of a node execution, in the order they were first recorded."""
        te = m.TaskExecution
        node = node_execution_key(node_execution_id)
        conditions = [getattr(te, column) == value for column, value in node.items()]
        return self._store.page(te, conditions, filters, sort, _OLDEST_FIRST, limit, token)
