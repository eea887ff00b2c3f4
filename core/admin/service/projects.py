"""Projects and domains: RegisterProject, ListProjects, GetProject, UpdateProject, GetDomains."""

from __future__ import annotations

from flyteidl.admin import common_pb2, project_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db.errors import AlreadyExists
from flytecore.admin.service.base import ServiceBase, sort_of
from flytecore.admin.service.errors import InvalidArgumentError, repository_errors
from flytecore.admin.service.validation import check_labels, check_name, check_project_id, check_text

MAX_PROJECT_NAME_LENGTH = 64
"""FlyteAdmin's ``maxNameLength`` of a project's display name."""
MAX_DESCRIPTION_LENGTH = 300
"""FlyteAdmin's ``maxDescriptionLength`` of a project's description."""


class ProjectsService(ServiceBase):
    """The project and domain calls of AdminService."""

    def bootstrap(self) -> None:
        """Create the configured projects that do not exist yet (idempotent, race-safe)."""
        for project_id in self.config.projects:
            try:
                self.repo.create_project(m.Project(id=project_id, name=project_id, description=""))
            except AlreadyExists:
                pass

    def get_domains(self, request: project_pb2.GetDomainRequest | None = None) -> project_pb2.GetDomainsResponse:
        """The configured domains."""
        return project_pb2.GetDomainsResponse(
            domains=[project_pb2.Domain(id=d, name=d) for d in self.config.domains]
        )

    def register_project(self, request: project_pb2.ProjectRegisterRequest) -> project_pb2.ProjectRegisterResponse:
        """Create a project; an existing id is ALREADY_EXISTS."""
        project = request.project
        check_project_id(project.id, "project id")
        _check_project_fields(project)
        with repository_errors():
            self.repo.create_project(
                m.Project(
                    id=project.id,
                    name=project.name or project.id,
                    description=project.description,
                    labels=dict(project.labels.values),
                    state=int(project.state),
                )
            )
        return project_pb2.ProjectRegisterResponse()

    def get_project(self, request: project_pb2.ProjectGetRequest) -> project_pb2.Project:
        """One project, with the configured domains."""
        check_project_id(request.id, "project id")
        with repository_errors():
            return self._project_proto(self.repo.get_project(request.id))

    def list_projects(self, request: project_pb2.ProjectListRequest) -> project_pb2.Projects:
        """Projects, paginated with ``limit`` / ``token``, filtered and sorted as requested."""
        with repository_errors():
            page = self.repo.list_projects(
                filters=request.filters,
                sort=sort_of(request.sort_by),
                limit=request.limit or 100,
                token=request.token,
            )
        return project_pb2.Projects(projects=[self._project_proto(p) for p in page.rows], token=page.next_token)

    def update_project(self, request: project_pb2.Project) -> project_pb2.ProjectUpdateResponse:
        """Change a project's name, description, labels or state."""
        check_project_id(request.id, "project id")
        _check_project_fields(request)
        with repository_errors():
            self.repo.update_project(
                request.id,
                name=request.name or None,
                description=request.description,
                labels=dict(request.labels.values),
                state=int(request.state),
            )
        return project_pb2.ProjectUpdateResponse()

    def _project_proto(self, row: m.Project) -> project_pb2.Project:
        return project_pb2.Project(
            id=row.id,
            name=row.name,
            description=row.description,
            labels=common_pb2.Labels(values=row.labels),
            state=row.state,
            domains=self.get_domains().domains,
        )


def _check_project_fields(project: project_pb2.Project) -> None:
    """What a project stores, checked as FlyteAdmin's ``ValidateProject`` does."""
    if project.name:
        check_name(project.name, "project name")
        check_text(project.name, "project name", max_length=MAX_PROJECT_NAME_LENGTH)
    check_text(project.description, "project description", max_length=MAX_DESCRIPTION_LENGTH)
    check_labels(dict(project.labels.values), "project labels")
    if project.domains:
        raise InvalidArgumentError(
            "project domains are set for the whole admin (its configuration), not per project; "
            "send the project without domains"
        )
    try:
        m.ProjectState(project.state)
    except ValueError:
        states = ", ".join(f"{s.name} ({s.value})" for s in m.ProjectState)
        raise InvalidArgumentError(f"project state {project.state} is not one of {states}") from None
