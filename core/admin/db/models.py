"""The admin's tables, modelled on FlyteAdmin's (projects, tasks, workflows, launch plans,
executions, node executions, task executions, signals).

Specs and closures are stored as serialized flyteidl protobufs (``bytes``): the database never
needs to look inside them, and the gRPC layer hands them out as they are. Columns that list
requests filter or sort on are promoted out of the protobufs, as FlyteAdmin does.

The schema is created by the Alembic migrations in ``migrations/``; a test checks that they
produce exactly these models.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ProjectState",
    "Project",
    "Task",
    "Workflow",
    "LaunchPlan",
    "Execution",
    "NodeExecution",
    "TaskExecution",
    "Signal",
    "utcnow",
    "table_of",
]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC (what every timestamp column holds)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite has no timezone type: it would hand back naive datetimes and compare strings, so
    values are normalised to UTC before they are written (naive input is taken as UTC).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        # SQLite stores the text of the datetime; one zone for all rows keeps comparisons right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class ProjectState(enum.IntEnum):
    """flyteidl.admin.Project.ProjectState."""

    ACTIVE = 0
    ARCHIVED = 1
    SYSTEM_GENERATED = 2


# Deterministic constraint names, the same on every database, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the admin's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    ENTITY: ClassVar[str] = "row"
    """What the table holds, as error messages name it ("task", "node execution")."""
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        str: String(),
        int: Integer(),
        float: Double(),
        bool: Boolean(),
        bytes: LargeBinary(),
        dt.datetime: UTCDateTime(),
        # none_as_null: a Python None is SQL NULL, not the JSON text 'null'.
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
        list[str]: JSON(none_as_null=True),
    }


def table_of(model: type[Base]) -> Table:
    """The table of a model (declarative models always map one ``Table``)."""
    return cast(Table, model.__table__)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(default=utcnow)


def _updated() -> Mapped[dt.datetime]:
    return mapped_column(default=utcnow, onupdate=utcnow)


class Project(Base):
    """A project (flyteidl.admin.Project). ``id`` is the identifier clients use; ``name`` is
    the display name."""

    __tablename__ = "projects"
    ENTITY: ClassVar[str] = "project"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(default="")
    description: Mapped[str] = mapped_column(default="")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[int] = mapped_column(default=int(ProjectState.ACTIVE))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class _VersionedEntity:
    """Columns shared by tasks, workflows and launch plans: immutable, one row per version."""

    # sort_order: these columns come first in each table, before the table's own.
    project: Mapped[str] = mapped_column(primary_key=True, sort_order=-1)
    domain: Mapped[str] = mapped_column(primary_key=True, sort_order=-1)
    name: Mapped[str] = mapped_column(primary_key=True, sort_order=-1)
    version: Mapped[str] = mapped_column(primary_key=True, sort_order=-1)
    # Hash of the serialized spec: the service compares it to tell an identical re-register
    # (ALREADY_EXISTS) from a different body under the same version (INVALID_ARGUMENT).
    digest: Mapped[str] = mapped_column(default="", sort_order=-1)
    spec: Mapped[bytes] = mapped_column(default=b"", sort_order=-1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, sort_order=-1)


class Task(_VersionedEntity, Base):
    """One version of a task; ``spec`` is a serialized flyteidl ``TaskSpec``."""

    __tablename__ = "tasks"
    ENTITY: ClassVar[str] = "task"

    task_type: Mapped[str] = mapped_column(default="")

    __table_args__ = (Index("ix_tasks_name_created", "project", "domain", "name", "created_at"),)


class Workflow(_VersionedEntity, Base):
    """One version of a workflow; ``spec`` is a serialized flyteidl ``WorkflowSpec``."""

    __tablename__ = "workflows"
    ENTITY: ClassVar[str] = "workflow"

    # The compiled closure is large; it lives in metadata storage, the row says where.
    closure_uri: Mapped[str] = mapped_column(default="")

    __table_args__ = (Index("ix_workflows_name_created", "project", "domain", "name", "created_at"),)


class LaunchPlan(_VersionedEntity, Base):
    """One version of a launch plan; ``spec`` is a serialized flyteidl ``LaunchPlanSpec``."""

    __tablename__ = "launch_plans"
    ENTITY: ClassVar[str] = "launch plan"

    workflow_project: Mapped[str] = mapped_column(default="")
    workflow_domain: Mapped[str] = mapped_column(default="")
    workflow_name: Mapped[str] = mapped_column(default="")
    workflow_version: Mapped[str] = mapped_column(default="")
    # flytecore.spec.LaunchPlanState: at most one version per (project, domain, name) is ACTIVE.
    state: Mapped[int] = mapped_column(default=0)
    closure: Mapped[bytes] = mapped_column(default=b"")
    # The launch plan the admin made for a workflow on its own; an explicit create of the same
    # id (as flytekit sends) replaces it instead of conflicting with it.
    auto_default: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = _updated()

    __table_args__ = (
        Index("ix_launch_plans_name_created", "project", "domain", "name", "created_at"),
        Index(
            "ix_launch_plans_workflow",
            "workflow_project",
            "workflow_domain",
            "workflow_name",
            "workflow_version",
        ),
        # Enforced by the database, not by read-then-write, so two admins activating different
        # versions at once cannot leave two of them active.
        Index(
            "uq_launch_plans_one_active",
            "project",
            "domain",
            "name",
            unique=True,
            sqlite_where=text("state = 1"),
            postgresql_where=text("state = 1"),
        ),
    )


class Execution(Base):
    """A workflow execution; ``spec`` and ``closure`` are flyteidl ``ExecutionSpec`` and
    ``ExecutionClosure`` protobufs."""

    __tablename__ = "executions"
    ENTITY: ClassVar[str] = "execution"

    project: Mapped[str] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(primary_key=True)
    launch_plan_project: Mapped[str] = mapped_column(default="")
    launch_plan_domain: Mapped[str] = mapped_column(default="")
    launch_plan_name: Mapped[str] = mapped_column(default="")
    launch_plan_version: Mapped[str] = mapped_column(default="")
    workflow_project: Mapped[str] = mapped_column(default="")
    workflow_domain: Mapped[str] = mapped_column(default="")
    workflow_name: Mapped[str] = mapped_column(default="")
    workflow_version: Mapped[str] = mapped_column(default="")
    # flytecore.spec.WorkflowExecutionPhase
    phase: Mapped[int] = mapped_column(default=0)
    spec: Mapped[bytes] = mapped_column(default=b"")
    closure: Mapped[bytes] = mapped_column(default=b"")
    inputs_uri: Mapped[str] = mapped_column(default="")
    user_inputs_uri: Mapped[str] = mapped_column(default="")
    # Inputs kept here when small (serialized flyteidl LiteralMaps; inputs_uri and
    # user_inputs_uri are then empty): as run, and as the user gave them (NULL: the same).
    inputs_data: Mapped[bytes | None] = mapped_column(default=None)
    user_inputs_data: Mapped[bytes | None] = mapped_column(default=None)
    outputs_uri: Mapped[str] = mapped_column(default="")
    error: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # flytecore.spec.ExecutionMode
    mode: Mapped[int] = mapped_column(default=0)
    # Who launched it; in the spec too, promoted for "my executions" filters as in FlyteAdmin.
    user: Mapped[str] = mapped_column(default="")
    # The node that launched this execution, for child executions (launch plan nodes).
    parent_node_execution_project: Mapped[str | None] = mapped_column(default=None)
    parent_node_execution_domain: Mapped[str | None] = mapped_column(default=None)
    parent_node_execution_name: Mapped[str | None] = mapped_column(default=None)
    parent_node_execution_node_id: Mapped[str | None] = mapped_column(default=None)
    tags: Mapped[list[str]] = mapped_column(default=list)
    abort_cause: Mapped[str] = mapped_column(default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    duration: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()
    # True once the execution engine accepted it (the launch hook returned).
    launched: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_executions_created", "project", "domain", "created_at"),
        Index("ix_executions_phase", "project", "domain", "phase"),
        Index(
            "ix_executions_launch_plan",
            "launch_plan_project",
            "launch_plan_domain",
            "launch_plan_name",
            "launch_plan_version",
        ),
        Index(
            "ix_executions_workflow",
            "workflow_project",
            "workflow_domain",
            "workflow_name",
            "workflow_version",
        ),
        Index(
            "ix_executions_parent_node",
            "parent_node_execution_project",
            "parent_node_execution_domain",
            "parent_node_execution_name",
            "parent_node_execution_node_id",
        ),
    )


class NodeExecution(Base):
    """One node of one execution. Nested nodes (inside subworkflows, branches, dynamic nodes)
    have their own unique ``node_id`` and name their parent in ``parent_node_id``."""

    __tablename__ = "node_executions"
    ENTITY: ClassVar[str] = "node execution"

    execution_project: Mapped[str] = mapped_column(primary_key=True)
    execution_domain: Mapped[str] = mapped_column(primary_key=True)
    execution_name: Mapped[str] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(primary_key=True)
    # flytecore.spec.NodeExecutionPhase
    phase: Mapped[int] = mapped_column(default=0)
    closure: Mapped[bytes] = mapped_column(default=b"")
    input_uri: Mapped[str] = mapped_column(default="")
    output_uri: Mapped[str] = mapped_column(default="")
    # Inputs an event sent inline, kept here when small (a serialized flyteidl LiteralMap;
    # input_uri is then empty). Small inline outputs live in the closure's output_data.
    input_data: Mapped[bytes | None] = mapped_column(default=None)
    # Not a foreign key: a child's first event may arrive before its parent's.
    parent_node_id: Mapped[str | None] = mapped_column(default=None)
    retry_group: Mapped[str | None] = mapped_column(default=None)
    spec_node_id: Mapped[str] = mapped_column(default="")
    is_parent: Mapped[bool] = mapped_column(default=False)
    is_dynamic: Mapped[bool] = mapped_column(default=False)
    is_array: Mapped[bool] = mapped_column(default=False)
    # Where a dynamic node's compiled workflow lives in metadata storage.
    dynamic_workflow_uri: Mapped[str] = mapped_column(default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    duration: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()
    error: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    __table_args__ = (
        ForeignKeyConstraint(
            ["execution_project", "execution_domain", "execution_name"],
            ["executions.project", "executions.domain", "executions.name"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_node_executions_parent",
            "execution_project",
            "execution_domain",
            "execution_name",
            "parent_node_id",
        ),
    )


class TaskExecution(Base):
    """One attempt of a task at one node; ``phase_version`` orders events within a phase."""

    __tablename__ = "task_executions"
    ENTITY: ClassVar[str] = "task execution"

    execution_project: Mapped[str] = mapped_column(primary_key=True)
    execution_domain: Mapped[str] = mapped_column(primary_key=True)
    execution_name: Mapped[str] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(primary_key=True)
    task_project: Mapped[str] = mapped_column(primary_key=True)
    task_domain: Mapped[str] = mapped_column(primary_key=True)
    task_name: Mapped[str] = mapped_column(primary_key=True)
    task_version: Mapped[str] = mapped_column(primary_key=True)
    retry_attempt: Mapped[int] = mapped_column(primary_key=True)
    # flytecore.spec.TaskExecutionPhase
    phase: Mapped[int] = mapped_column(default=0)
    phase_version: Mapped[int] = mapped_column(default=0)
    closure: Mapped[bytes] = mapped_column(default=b"")
    input_uri: Mapped[str] = mapped_column(default="")
    output_uri: Mapped[str] = mapped_column(default="")
    # As NodeExecution.input_data.
    input_data: Mapped[bytes | None] = mapped_column(default=None)
    logs: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    duration: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()
    error: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    __table_args__ = (
        ForeignKeyConstraint(
            ["execution_project", "execution_domain", "execution_name", "node_id"],
            [
                "node_executions.execution_project",
                "node_executions.execution_domain",
                "node_executions.execution_name",
                "node_executions.node_id",
            ],
            ondelete="CASCADE",
        ),
        Index("ix_task_executions_task", "task_project", "task_domain", "task_name", "task_version"),
    )


class Signal(Base):
    """A signal a gate node of an execution waits for (flyteidl ``admin.Signal``): created by the
    execution engine when the gate is reached (GetOrCreateSignal), given its value by a person or
    a program (SetSignal). ``type`` is a serialized flyteidl ``LiteralType``, ``value`` a
    serialized ``Literal`` once set (None while the gate waits)."""

    __tablename__ = "signals"
    ENTITY: ClassVar[str] = "signal"

    execution_project: Mapped[str] = mapped_column(primary_key=True)
    execution_domain: Mapped[str] = mapped_column(primary_key=True)
    execution_name: Mapped[str] = mapped_column(primary_key=True)
    signal_id: Mapped[str] = mapped_column(primary_key=True)
    type: Mapped[bytes] = mapped_column(default=b"")
    value: Mapped[bytes | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()

    __table_args__ = (
        ForeignKeyConstraint(
            ["execution_project", "execution_domain", "execution_name"],
            ["executions.project", "executions.domain", "executions.name"],
            ondelete="CASCADE",
        ),
    )
