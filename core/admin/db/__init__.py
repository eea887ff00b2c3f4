"""The admin's persistence: SQLAlchemy 2 models, Alembic migrations and the repository.

SQLite (WAL) is the embedded default, PostgreSQL (psycopg 3) the one for teams::

    from flytecore.admin.db import Repository, upgrade

    upgrade("sqlite:///admin.db")                 # or postgresql://user@host/db
    repo = Repository.from_url("sqlite:///admin.db")
    page = repo.list_executions("flytesnacks", "development", filters="eq(phase,SUCCEEDED)", limit=20)
    more = repo.list_executions("flytesnacks", "development", filters="eq(phase,SUCCEEDED)",
                                limit=20, token=page.next_token)
"""

from __future__ import annotations

from flytecore.admin.db._executions import execution_key, node_execution_key, task_execution_key
from flytecore.admin.db.engine import default_db_url, make_engine, make_session_factory
from flytecore.admin.db.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    InvalidFilter,
    InvalidListRequest,
    InvalidPageToken,
    InvalidSort,
    NotFound,
    RepositoryError,
)
from flytecore.admin.db.filters import Sort, SortDirection, parse_filters
from flytecore.admin.db.migrate import current_revision, head_revision, upgrade
from flytecore.admin.db.models import (
    Execution,
    LaunchPlan,
    NodeExecution,
    Project,
    ProjectState,
    Signal,
    Task,
    TaskExecution,
    Workflow,
)
from flytecore.admin.db.repository import NamedEntityId, Page, Repository, WriteTransaction

__all__ = [
    "AlreadyExists",
    "ConcurrentUpdate",
    "Execution",
    "InvalidFilter",
    "InvalidListRequest",
    "InvalidPageToken",
    "InvalidSort",
    "LaunchPlan",
    "NamedEntityId",
    "NodeExecution",
    "NotFound",
    "Page",
    "Project",
    "ProjectState",
    "Repository",
    "RepositoryError",
    "Signal",
    "Sort",
    "SortDirection",
    "Task",
    "TaskExecution",
    "Workflow",
    "WriteTransaction",
    "current_revision",
    "default_db_url",
    "execution_key",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "node_execution_key",
    "parse_filters",
    "task_execution_key",
    "upgrade",
]
