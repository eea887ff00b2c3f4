"""The admin service: FlyteAdmin's calls, transport-free.

Each method takes and returns the flyteidl messages of the AdminService call of the same name
(``create_task(TaskCreateRequest) -> TaskCreateResponse``), so the gRPC layer is a thin
adapter and the HTTP layer can speak the same messages as JSON. Refusals are
:class:`~flytecore.admin.service.errors.AdminError` with a status code.

Build one with :func:`AdminService.create`: it migrates the database and creates the
configured projects. Executions go to the execution engine through the launch hook
(:mod:`flytecore.admin.service.launcher`).
"""

from __future__ import annotations

from typing import Any

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import Repository, upgrade
from flytecore.admin.service.dataproxy import DataProxyService
from flytecore.admin.service.errors import (
    AdminError,
    AlreadyExistsError,
    Code,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.events import EventService
from flytecore.admin.service.executions import ExecutionService
from flytecore.admin.service.launch_plans import LaunchPlanService
from flytecore.admin.service.launcher import Launcher, WorkflowObject
from flytecore.admin.service.projects import ProjectsService
from flytecore.admin.service.signals import SignalService
from flytecore.admin.service.version import VersionService
from flytecore.admin.storage import MetadataStore

__all__ = [
    "AdminError",
    "AdminService",
    "AlreadyExistsError",
    "Code",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "Launcher",
    "NotFoundError",
    "WorkflowObject",
]


class AdminService(ExecutionService, EventService, LaunchPlanService, ProjectsService, VersionService, DataProxyService, SignalService):
    """FlyteAdmin's service layer: projects, domains, tasks, workflows, launch plans,
    executions and the events that update them."""

    @classmethod
    def create(
        cls, config: AdminConfig | None = None, host: Any = None, launcher: Launcher | None = None
    ) -> AdminService:
        """An admin for ``config``: database migrated, configured projects present. ``launcher``
        runs the executions it accepts (the propeller, wired in by the sandbox); without one they
        are recorded as QUEUED and wait."""
        config = config or AdminConfig()
        upgrade(config.db_url)
        service = cls(
            Repository.from_url(config.db_url),
            MetadataStore(config.storage_prefix, config.raw_data_prefix),
            config,
            host,
        )
        service.launcher = launcher
        service.bootstrap()
        return service
