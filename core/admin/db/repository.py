"""The admin's repository: typed reads and writes of its tables, one transaction per call.

The (transport-free) admin service is the only caller. It validates ids and request bodies;
the repository stores what it is given verbatim and enforces what only the database can:
uniqueness, "at most one active launch plan version", and conditional updates.

Rows are the ORM objects of :mod:`flytecore.admin.db.models`, handed out detached: read their
attributes freely, pass them back to ``create_*``/``upsert_*``; changing one changes nothing
stored until it is written through a repository call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flytecore.admin.db import models as m
from flytecore.admin.db._executions import ExecutionRecords, execution_key
from flytecore.admin.db._signals import SignalRecords
from flytecore.admin.db._store import (
    MAX_LIMIT,
    Key,
    NamedEntityId,
    Page,
    Store,
    constraint_violated,
    describe,
    key_of,
    values_of,
    where_key,
)
from flytecore.admin.db._transaction import Statements, WriteTransaction
from flytecore.admin.db.engine import make_engine, make_session_factory
from flytecore.admin.db.errors import AlreadyExists, ConcurrentUpdate, InvalidSort, NotFound
from flytecore.admin.db.filters import Sort, SortDirection, parse_filters
from flytecore.spec.identifiers import Identifier, WorkflowExecutionIdentifier
from flytecore.spec.launch_plan import LaunchPlanState

__all__ = ["MAX_LIMIT", "Repository", "Page", "NamedEntityId", "WriteTransaction"]

DEFAULT_LIMIT = 100
_NEWEST_FIRST = Sort("created_at", SortDirection.DESCENDING)
# A conflict on the one-active-version index means another admin changed the active version
# while we wrote; a few fresh attempts settle it.
_ACTIVATION_ATTEMPTS = 5
_ACTIVATION_RACE = "other versions kept being activated at the same time"

Versioned = m.Task | m.Workflow | m.LaunchPlan


class _Rollback(Exception):
    """Raised inside a write transaction to undo it when there turned out to be nothing to do."""


def _entity_key(entity_id: Identifier) -> Key:
    return {
        "project": entity_id.project,
        "domain": entity_id.domain,
        "name": entity_id.name,
        "version": entity_id.version,
    }


class Repository(ExecutionRecords, SignalRecords):
    """Reads and writes of the admin's tables over a SQLAlchemy session factory."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._store = Store(sessions)
        self._statements = Statements(self._store.engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the repository's database."""
        return self._store.engine

    @classmethod
    def from_url(cls, url: str | None = None) -> Repository:
        """A repository on a new engine for ``url`` (default: the embedded SQLite file)."""
        return cls(make_session_factory(make_engine(url)))

    @contextmanager
    def transaction(self) -> Iterator[WriteTransaction]:
        """One write transaction for many small reads and writes by key (event ingestion), far
        cheaper than the calls below, which each open an ORM session: committed when the block
        ends, rolled back if it raises."""
        with WriteTransaction.open(self._statements) as tx:
            yield tx

    def row(self, model: type[m.Base], key: Key) -> Any:
        """The row of ``model`` with primary ``key`` as a read-only named tuple of its columns
        (``row.phase``, ``row.closure``; the values an ORM read gives), read on the driver's
        connection: a fraction of an ORM session's cost, for reads the API serves often.

        :raises NotFound: there is none.
        """
        with WriteTransaction.open_read(self._statements) as tx:
            found = tx.row(model, key)
        if found is None:
            raise NotFound(model.ENTITY, describe(model, key))
        return found

    def execution_row(self, execution_id: WorkflowExecutionIdentifier) -> Any:
        """The execution ``execution_id`` as :meth:`row` reads it (GetExecution). :raises NotFound:"""
        return self.row(m.Execution, execution_key(execution_id))

    # -- projects ------------------------------------------------------------------------

    def create_project(self, project: m.Project) -> m.Project:
        """Store a new project. :raises AlreadyExists: its id is taken (the stored one is kept)."""
        return self._store.insert(project)

    def get_project(self, project_id: str) -> m.Project:
        """The project ``project_id``. :raises NotFound:"""
        return self._store.get(m.Project, {"id": project_id})

    def list_projects(
        self, *, filters: str = "", sort: Sort | None = None, limit: int = DEFAULT_LIMIT, token: str = ""
    ) -> Page[m.Project]:
        """Projects, by id unless ``sort`` says otherwise."""
        default = Sort("id", SortDirection.ASCENDING)
        return self._store.page(m.Project, [], filters, sort, default, limit, token)

    def update_project(
        self,
        project_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        labels: dict[str, Any] | None = None,
        state: int | None = None,
    ) -> m.Project:
        """Change the given fields of a project (None: leave as is). :raises NotFound:"""
        given = {"name": name, "description": description, "labels": labels, "state": state}
        changes = {k: v for k, v in given.items() if v is not None}
        return self._store.update(m.Project, {"id": project_id}, changes)

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, task: m.Task) -> m.Task:
        """Store a task version. :raises AlreadyExists: the version exists (the stored one is kept)."""
        return self._store.insert(task)

    def get_task(self, task_id: Identifier) -> m.Task:
        """The task version ``task_id``. :raises NotFound:"""
        return self._store.get(m.Task, _entity_key(task_id))

    def list_task_ids(
        self, project: str, domain: str, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[NamedEntityId]:  # fmt: skip
        """The distinct task names of a project and domain."""
        return self._list_ids(m.Task, project, domain, filters, sort, limit, token)

    def list_tasks(
        self, project: str, domain: str, name: str | None = None, *, filters: str = "",
        sort: Sort | None = None, limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.Task]:  # fmt: skip
        """Task versions of a project and domain (of one name if given), newest first by default."""
        return self._list_versions(m.Task, project, domain, name, filters, sort, limit, token)

    # -- workflows -----------------------------------------------------------------------

    def create_workflow(self, workflow: m.Workflow) -> m.Workflow:
        """Store a workflow version. :raises AlreadyExists: the version exists (kept as it was)."""
        return self._store.insert(workflow)

    def get_workflow(self, workflow_id: Identifier) -> m.Workflow:
        """The workflow version ``workflow_id``. :raises NotFound:"""
        return self._store.get(m.Workflow, _entity_key(workflow_id))

    def list_workflow_ids(
        self, project: str, domain: str, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[NamedEntityId]:  # fmt: skip
        """The distinct workflow names of a project and domain."""
        return self._list_ids(m.Workflow, project, domain, filters, sort, limit, token)

    def list_workflows(
        self, project: str, domain: str, name: str | None = None, *, filters: str = "",
        sort: Sort | None = None, limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.Workflow]:  # fmt: skip
        """Workflow versions of a project and domain (of one name if given), newest first by default."""
        return self._list_versions(m.Workflow, project, domain, name, filters, sort, limit, token)

    # -- launch plans --------------------------------------------------------------------

    def create_launch_plan(self, launch_plan: m.LaunchPlan) -> m.LaunchPlan:
        """Store a launch plan version.

        An explicit launch plan (``auto_default`` False) replaces an automatic default of the
        same id, atomically, keeping its ``created_at``; an ACTIVE one deactivates the other
        versions of its name in the same transaction.

        :raises AlreadyExists: the id exists and is not an automatic default to replace.
        """
        key, values = key_of(launch_plan), values_of(launch_plan)
        for _ in range(_ACTIVATION_ATTEMPTS):
            try:
                with self._store.write() as session:
                    self._deactivate_others_if_active(session, key, values.get("state"))
                    return self._store.insert_in(session, m.LaunchPlan, values)
            except IntegrityError as exc:
                if constraint_violated(exc) != "unique":
                    raise
            if not launch_plan.auto_default:
                try:
                    replaced = self._replace_auto_default(key, values)
                except IntegrityError as exc:
                    if constraint_violated(exc) != "unique":
                        raise
                    continue
                if replaced is not None:
                    return replaced
            if self._store.exists(m.LaunchPlan, key):
                raise AlreadyExists(m.LaunchPlan.ENTITY, describe(m.LaunchPlan, key))
            # No such row: the conflict was another version becoming active meanwhile; again.
        raise ConcurrentUpdate(m.LaunchPlan.ENTITY, describe(m.LaunchPlan, key), reason=_ACTIVATION_RACE)

    def _replace_auto_default(self, key: Key, values: dict[str, Any]) -> m.LaunchPlan | None:
        """Overwrite the stored launch plan ``key`` with ``values`` if it is an automatic default;
        None, with nothing written, if it is not."""
        try:
            with self._store.write() as session:
                self._deactivate_others_if_active(session, key, values.get("state"))
                changes = {k: v for k, v in values.items() if k not in key and k != "created_at"}
                changes.update(auto_default=False, updated_at=m.utcnow())
                stmt = update(m.table_of(m.LaunchPlan)).where(
                    *where_key(m.LaunchPlan, key), m.LaunchPlan.auto_default.is_(True)
                )
                if not session.execute(stmt.values(**changes)).rowcount:  # type: ignore[attr-defined]
                    raise _Rollback  # undo the deactivation above
                return self._store.one(session, m.LaunchPlan, key)
        except _Rollback:
            return None

    def get_launch_plan(self, launch_plan_id: Identifier) -> m.LaunchPlan:
        """The launch plan version ``launch_plan_id``. :raises NotFound:"""
        return self._store.get(m.LaunchPlan, _entity_key(launch_plan_id))

    def list_launch_plan_ids(
        self, project: str, domain: str, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[NamedEntityId]:  # fmt: skip
        """The distinct launch plan names of a project and domain."""
        return self._list_ids(m.LaunchPlan, project, domain, filters, sort, limit, token)

    def list_launch_plans(
        self, project: str, domain: str, name: str | None = None, *, filters: str = "",
        sort: Sort | None = None, limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.LaunchPlan]:  # fmt: skip
        """Launch plan versions of a project and domain (of one name if given), newest first."""
        return self._list_versions(m.LaunchPlan, project, domain, name, filters, sort, limit, token)

    def list_active_launch_plans(
        self, project: str, domain: str, *, filters: str = "", sort: Sort | None = None,
        limit: int = DEFAULT_LIMIT, token: str = "",
    ) -> Page[m.LaunchPlan]:  # fmt: skip
        """The active version of each launch plan name in a project and domain."""
        conditions = [
            m.LaunchPlan.project == project,
            m.LaunchPlan.domain == domain,
            m.LaunchPlan.state == int(LaunchPlanState.ACTIVE),
        ]
        return self._store.page(m.LaunchPlan, conditions, filters, sort, _NEWEST_FIRST, limit, token)

    def get_active_launch_plan(self, project: str, domain: str, name: str) -> m.LaunchPlan:
        """The ACTIVE version of a launch plan. :raises NotFound: no version is active."""
        with self._store.read() as session:
            row = session.execute(
                select(m.LaunchPlan).where(
                    m.LaunchPlan.project == project,
                    m.LaunchPlan.domain == domain,
                    m.LaunchPlan.name == name,
                    m.LaunchPlan.state == int(LaunchPlanState.ACTIVE),
                )
            ).scalar_one_or_none()
        if row is None:
            raise NotFound("active launch plan", f"{project}/{domain}/{name}")
        return row

    def set_launch_plan_state(self, launch_plan_id: Identifier, state: LaunchPlanState) -> m.LaunchPlan:
        """Activate or deactivate a launch plan version; activating deactivates the other
        versions of its name in the same transaction. :raises NotFound:"""
        key = _entity_key(launch_plan_id)
        for _ in range(_ACTIVATION_ATTEMPTS):
            try:
                return self._store.update(
                    m.LaunchPlan,
                    key,
                    {"state": int(state)},
                    before=lambda session, key: self._deactivate_others_if_active(session, key, int(state)),
                )
            except IntegrityError as exc:
                if constraint_violated(exc) != "unique":
                    raise
        raise ConcurrentUpdate(m.LaunchPlan.ENTITY, describe(m.LaunchPlan, key), reason=_ACTIVATION_RACE)

    # -- shared --------------------------------------------------------------------------

    def _deactivate_others_if_active(self, session: Session, key: Key, state: int | None) -> None:
        if state != int(LaunchPlanState.ACTIVE):
            return
        lp = m.LaunchPlan
        session.execute(
            update(m.table_of(lp))
            .where(
                lp.project == key["project"],
                lp.domain == key["domain"],
                lp.name == key["name"],
                lp.version != key["version"],
                lp.state == int(LaunchPlanState.ACTIVE),
            )
            .values(state=int(LaunchPlanState.INACTIVE), updated_at=m.utcnow())
        )

    def _list_versions(
        self, model: type[Versioned], project: str, domain: str, name: str | None, filters: str,
        sort: Sort | None, limit: int, token: str,
    ) -> Page[Any]:  # fmt: skip
        conditions = [model.project == project, model.domain == domain]
        if name is not None:
            conditions.append(model.name == name)
        return self._store.page(model, conditions, filters, sort, _NEWEST_FIRST, limit, token)

    def _list_ids(
        self, model: type[Versioned], project: str, domain: str, filters: str, sort: Sort | None,
        limit: int, token: str,
    ) -> Page[NamedEntityId]:  # fmt: skip
        conditions = parse_filters(filters, model)
        sort = sort or Sort("name", SortDirection.ASCENDING)
        # Names are groups of versions: they sort by name, or by when their newest version came.
        sortable: dict[str, Any] = {"name": model.name, "created_at": func.max(model.created_at)}
        if sort.key not in sortable:
            raise InvalidSort(sort.key, sorted(sortable))
        column = sortable[sort.key]
        ordered = column.asc() if sort.direction == SortDirection.ASCENDING else column.desc()
        stmt = (
            select(model.project, model.domain, model.name)
            .where(model.project == project, model.domain == domain, *conditions)
            .group_by(model.project, model.domain, model.name)
            .order_by(ordered, model.name.asc())
        )
        page = self._store.page_of_tuples(stmt, limit, token)
        return Page([NamedEntityId(*row) for row in page.rows], page.next_token)
