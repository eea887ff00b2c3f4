"""``flytecore register``: ship the code and register every task, workflow and launch plan.

What ``pyflyte register`` does, against flytecore's admin:

1. find the entities in the files and folders given (:mod:`flytecore.cli.packaging`);
2. archive each source root (fast registration) and upload it through the data proxy
   (``CreateUploadLocation``, then an HTTP ``PUT`` with ``Content-MD5`` to the signed URL);
3. serialize with ``SerializationSettings(project, domain, version, code_uri=<native URL>)``, so
   a task container downloads the archive and imports the module from it;
4. register, in dependency order: tasks, workflows (a workflow after the launch plans its nodes
   launch), each workflow's default launch plan *with the workflow's default inputs* (the admin's
   automatic default launch plan has every input required), then the named launch plans.

The version defaults to a digest of the archives, so registering unchanged code again is
``ALREADY_EXISTS`` for every entity, which counts as success.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from flytecore.cli.options import admin_options, scope_options
from flytecore.sdk.serialize import EntityBundle, SerializationSettings

if TYPE_CHECKING:
    from flytecore.cli.packaging import Entities
    from flytecore.cli.remote import AdminClient
    from flytecore.spec.identifiers import Identifier

__all__ = ["RegisteredEntity", "Registrar", "register"]


@attrs.frozen
class RegisteredEntity:
    """One registration: what, which version, and whether it was new."""

    kind: str
    name: str
    version: str
    status: str

    def as_json(self) -> dict[str, str]:
        """The row as a JSON object."""
        return {"kind": self.kind, "name": self.name, "version": self.version, "status": self.status}


@attrs.frozen
class UploadedCode:
    """A source root's archive, uploaded."""

    root: Path
    native_url: str
    size: int


class Registrar:
    """Registers the entities of some source files with one admin, under one version.

    :param client: the admin.
    :param entities: what was found in the source files.
    :param project: the project to register into.
    :param domain: the domain to register into.
    :param version: the version; None: a digest of the code archives.
    """

    def __init__(
        self, client: AdminClient, entities: Entities, *, project: str, domain: str, version: str | None = None
    ) -> None:
        self.client = client
        self.entities = entities
        self.project = project
        self.domain = domain
        self.version = version
        self.uploads: dict[Path, UploadedCode] = {}
        self.rows: list[RegisteredEntity] = []
        self._settings: dict[Path | None, SerializationSettings] = {}
        self._done: set[tuple[str, str]] = set()

    # --- code ----------------------------------------------------------------------------------

    def upload_code(self) -> None:
        """Archive and upload every source root; fixes the version (a digest, unless given)."""
        from flytecore import __version__
        from flytecore.cli.packaging import build_archive, digest_of

        roots = sorted({source.root for source in self.entities.modules.values()})
        archives = {root: build_archive(root) for root in roots}
        image = SerializationSettings().image
        self.version = self.version or digest_of(archives.values(), __version__, image)
        for root, data in archives.items():
            self.uploads[root] = UploadedCode(root, self._upload(data), len(data))
        for root, uploaded in self.uploads.items():
            self._settings[root] = SerializationSettings(
                project=self.project, domain=self.domain, version=self.version, code_uri=uploaded.native_url
            )
        first = self._settings[roots[0]] if roots else None
        self._settings[None] = first or SerializationSettings(project=self.project, domain=self.domain, version=self.version)

    def _upload(self, data: bytes) -> str:
        from flyteidl.service import dataproxy_pb2

        md5 = hashlib.md5(data).digest()
        response = self.client.dataproxy(
            "CreateUploadLocation",
            dataproxy_pb2.CreateUploadLocationRequest(
                project=self.project, domain=self.domain, filename=f"fast{md5.hex()}.tar.gz", content_md5=md5
            ),
        )
        headers = {"Content-MD5": base64.b64encode(md5).decode(), "Content-Type": "application/gzip"}
        headers.update(dict(response.headers))
        self.client.http_put(response.signed_url, data, headers)
        return str(response.native_url)

    def settings_for(self, entity: Any) -> SerializationSettings:
        """The settings of ``entity``: with the code URI of the root it was loaded from."""
        if not self._settings:
            raise RuntimeError("upload_code() first")
        return self._settings.get(self.entities.root_of(entity)) or self._settings[None]

    # --- registration ----------------------------------------------------------------------------

    def register_all(self) -> list[RegisteredEntity]:
        """Register every entity found; returns a row per registration."""
        for name in sorted(self.entities.workflows):
            self.workflow(self.entities.workflows[name])
        for name in sorted(self.entities.launch_plans):
            self.launch_plan(self.entities.launch_plans[name])
        for name in sorted(self.entities.tasks):
            self.task(self.entities.tasks[name])
        return self.rows

    def target(self, entity: Any) -> Identifier:
        """Register ``entity`` (a workflow, launch plan or task) and what it needs; returns the
        identifier to launch it by (a workflow's default launch plan)."""
        from flytecore.sdk.launch_plan import LaunchPlan
        from flytecore.sdk.workflow import PythonFunctionWorkflow

        if isinstance(entity, LaunchPlan):
            self.launch_plan(entity)
            return self.settings_for(entity.workflow).identify(entity.id)
        if isinstance(entity, PythonFunctionWorkflow):
            self.workflow(entity)
            return self.settings_for(entity).identify(_default_launch_plan(entity).id)
        self.task(entity)
        return self.settings_for(entity).identify(entity.id)

    def workflow(self, wf: Any) -> None:
        """Register a workflow after what it references, then its default launch plan."""
        from flyteidl.admin import workflow_pb2

        from flytecore.spec import idl

        if not self._first("workflow", wf.name):
            return
        settings = self.settings_for(wf)
        bundle = _Bundle(settings=settings, settings_for=self.settings_for)
        bundle.add_workflow(wf, primary=True)
        for lp in bundle.launch_plan_entities.values():
            self.launch_plan(lp)
        for template in bundle.tasks.values():
            self._task_template(template)
        assert bundle.workflow is not None
        spec = workflow_pb2.WorkflowSpec(
            template=idl.to_idl(bundle.workflow), sub_workflows=[idl.to_idl(s) for s in bundle.sub_workflows.values()]
        )
        request = workflow_pb2.WorkflowCreateRequest(id=idl.to_idl(bundle.workflow.id), spec=spec)
        self._create("workflow", wf.name, "CreateWorkflow", request)
        # Explicitly, as flytekit does: the admin's own default launch plan has no defaults.
        self._launch_plan_spec(_default_launch_plan(wf), settings)

    def launch_plan(self, lp: Any) -> None:
        """Register a named launch plan after its workflow."""
        self.workflow(lp.workflow)
        if lp.name != lp.workflow.name:
            self._launch_plan_spec(lp, self.settings_for(lp.workflow))

    def task(self, task: Any) -> None:
        """Register a task (once)."""
        self._task_template(task.to_template(self.settings_for(task)))

    def _task_template(self, template: Any) -> None:
        from flyteidl.admin import task_pb2

        from flytecore.spec import idl

        if not self._first("task", template.id.name):
            return
        request = task_pb2.TaskCreateRequest(id=idl.to_idl(template.id), spec=task_pb2.TaskSpec(template=idl.to_idl(template)))
        self._create("task", template.id.name, "CreateTask", request)

    def _launch_plan_spec(self, lp: Any, settings: SerializationSettings) -> None:
        from flyteidl.admin import launch_plan_pb2

        from flytecore.spec import idl

        if not self._first("launch plan", lp.name):
            return
        spec = lp.to_spec(settings)
        request = launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(spec.id), spec=idl.to_idl(spec.spec))
        self._create("launch plan", lp.name, "CreateLaunchPlan", request)

    def _first(self, kind: str, name: str) -> bool:
        if (kind, name) in self._done:
            return False
        self._done.add((kind, name))
        return True

    def _create(self, kind: str, name: str, rpc: str, request: Any) -> None:
        from flytecore.cli.remote import RemoteError

        try:
            self.client.admin(rpc, request)
            status = "registered"
        except RemoteError as exc:
            if exc.code != "ALREADY_EXISTS":
                raise RemoteError(f"registering {kind} {name!r} (version {self.version}): {exc}", exc.code) from None
            status = "already registered"
        self.rows.append(RegisteredEntity(kind, name, str(self.version), status))


def _default_launch_plan(wf: Any) -> Any:
    """The workflow's default launch plan (its name, its Python defaults). Made afresh rather than
    through ``LaunchPlan.get_or_create``, whose cache would refuse a reloaded workflow object."""
    from flytecore.sdk.launch_plan import LaunchPlan

    return LaunchPlan(wf.name, wf)


@attrs.define
class _Bundle(EntityBundle):
    """An entity bundle whose tasks carry the code URI of their own source root."""

    settings_for: Callable[[Any], SerializationSettings] | None = None

    def add_task(self, task: Any) -> None:
        """Add a task (once), serialized with the settings of its source root."""
        if task.name not in self.tasks:
            settings = self.settings_for(task) if self.settings_for is not None else self.settings
            self.tasks[task.name] = task.to_template(settings)


def print_rows(rows: Sequence[RegisteredEntity], uploads: Sequence[UploadedCode]) -> None:
    """The registrations as a table, after the uploaded archives."""
    from rich.console import Console
    from rich.table import Table

    for upload in uploads:
        click.echo(f"code: {upload.root} -> {upload.native_url} ({upload.size:,} bytes)")
    console = Console(width=max(Console().width, 120))
    table = Table(title=f"registered {len(rows)} entities", title_justify="left")
    for column in ("kind", "name", "version", "status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = "green" if row.status == "registered" else "dim"
        table.add_row(row.kind, row.name, row.version, f"[{style}]{row.status}[/{style}]")
    console.print(table)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@scope_options
@click.option("--version", "version", default=None, help="The version to register.  [default: a digest of the code archives]")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@admin_options
def register(
    paths: tuple[str, ...], project: str, domain: str, version: str | None, output: str, admin: str | None, token_file: str | None
) -> None:
    """Register every task, workflow and launch plan in PATHS (files or folders), with their code.

    Each source root is archived and uploaded through the admin's data proxy (fast registration);
    each workflow gets its default launch plan with the workflow's default inputs. Registering
    unchanged code again reports 'already registered'.
    """
    from flytecore.cli.packaging import collect_entities, find_sources
    from flytecore.cli.remote import connect

    entities = collect_entities(find_sources(paths))
    if not len(entities):
        raise click.ClickException(f"no task, workflow or launch plan found in {', '.join(paths)}")
    with connect(admin, token_file) as client:
        registrar = Registrar(client, entities, project=project, domain=domain, version=version)
        registrar.upload_code()
        rows = registrar.register_all()
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "version": registrar.version,
                    "code": [{"root": str(u.root), "native_url": u.native_url} for u in registrar.uploads.values()],
                    "entities": [r.as_json() for r in rows],
                },
                indent=2,
            )
        )
    else:
        print_rows(rows, list(registrar.uploads.values()))
    sys.stdout.flush()
