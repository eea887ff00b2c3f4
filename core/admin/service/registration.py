"""Registration of tasks and workflows: immutable versions, compilation, default launch plans.

A version is immutable: registering the same id again with an identical body is
ALREADY_EXISTS (clients treat it as success), with a different body INVALID_ARGUMENT naming
where the bodies differ. CreateWorkflow compiles the workflow with the tasks, subworkflows and
launch plans it references, refuses it with every compile error, writes the compiled closure
to metadata storage and gives the workflow a default launch plan of the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import compiler_pb2, interface_pb2
from google.protobuf.message import Message

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.service.base import ServiceBase, diff_summary, digest_of, sort_of, timestamp
from flytecore.admin.service.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    repository_errors,
)
from flytecore.admin.service.limits import MAX_REGISTRATION_BYTES, SMALLER_BODY, check_size
from flytecore.admin.service.validation import (
    check_domain,
    check_id_part,
    check_identifier,
    check_project_id,
    check_text,
)
from flytecore.compiler import CompilationFailed, compile_workflow
from flytecore.errors import ConversionError
from flytecore.spec import idl
from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.interface import TypedInterface
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import LaunchPlanTemplate, Node, WorkflowTemplate


def entity_id(proto_id: Any, resource_type: ResourceType) -> Identifier:
    """A flyteidl identifier as the spec's, with the resource type set."""
    return Identifier(
        resource_type=resource_type,
        project=proto_id.project,
        domain=proto_id.domain,
        name=proto_id.name,
        version=proto_id.version,
    )


def _key(ident: Identifier) -> dict[str, str]:
    return {"project": ident.project, "domain": ident.domain, "name": ident.name, "version": ident.version}


def parse(message: Message, cls: type, what: str) -> Any:
    """A flyteidl message as a spec model; a malformed one is INVALID_ARGUMENT naming ``what``."""
    try:
        return idl.from_idl(message, cls)
    except (ConversionError, ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"{what} is malformed: {exc}") from exc


def walk_nodes(nodes: tuple[Node, ...]) -> Iterator[Node]:
    """Every node, nested ones (branch cases, array sub-nodes) included."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if node.branch_node is not None:
            block = node.branch_node.if_else
            stack.extend(c.then_node for c in (block.case, *block.other))
            if block.else_node is not None:
                stack.append(block.else_node)
        if node.array_node is not None:
            stack.append(node.array_node.node)


class RegistrationService(ServiceBase):
    """The task and workflow calls of AdminService."""

    # --- shared -----------------------------------------------------------------------------------

    def _register(
        self,
        what: str,
        ident: Identifier,
        body: Message,
        create: Callable[[str], None],
        stored_body: Callable[[], bytes],
    ) -> None:
        """Create a version unless it exists; an existing one is ALREADY_EXISTS if its body is
        identical, INVALID_ARGUMENT otherwise."""
        digest = digest_of(body)
        try:
            with repository_errors():
                create(digest)
        except AlreadyExistsError:
            previous = type(body).FromString(stored_body())
            if digest_of(previous) == digest:
                raise AlreadyExistsError(f"{what} {_show(ident)} is already registered with an identical body") from None
            raise InvalidArgumentError(
                f"{what} {_show(ident)} is already registered with a different body (differs in: "
                f"{diff_summary(previous, body)}); register the change under a new version"
            ) from None

    def _check_template_id(self, request_id: Any, template_id: Any, what: str) -> None:
        if template_id.name and (
            template_id.project,
            template_id.domain,
            template_id.name,
            template_id.version,
        ) != (request_id.project, request_id.domain, request_id.name, request_id.version):
            raise InvalidArgumentError(f"{what} template id does not match the request id {request_id.name!r}")

    # --- tasks ---------------------------------------------------------------------------------------

    def create_task(self, request: task_pb2.TaskCreateRequest) -> task_pb2.TaskCreateResponse:
        """Register a task version."""
        check_identifier(request.id, "task", domains=self.config.domains)
        check_size(request.spec, MAX_REGISTRATION_BYTES, f"the spec of task {request.id.name!r}", SMALLER_BODY)
        self._require_project(request.id.project)
        self._check_template_id(request.id, request.spec.template.id, "task")
        template = parse(request.spec.template, TaskTemplate, "task template")
        check_text(template.type, "task template type")
        ident = entity_id(request.id, ResourceType.TASK)
        spec_bytes = request.spec.SerializeToString(deterministic=True)

        def create(digest: str) -> None:
            self.repo.create_task(m.Task(**_key(ident), digest=digest, spec=spec_bytes, task_type=template.type))

        self._register("task", ident, request.spec, create, lambda: self.repo.get_task(ident).spec)
        return task_pb2.TaskCreateResponse()

    def get_task(self, request: common_pb2.ObjectGetRequest) -> task_pb2.Task:
        """One task version."""
        check_identifier(request.id, "task", domains=self.config.domains)
        with repository_errors():
            return self._task_proto(self.repo.get_task(entity_id(request.id, ResourceType.TASK)))

    def list_task_ids(self, request: common_pb2.NamedEntityIdentifierListRequest) -> common_pb2.NamedEntityIdentifierList:
        """The task names of a project and domain."""
        return self._list_ids(self.repo.list_task_ids, request)

    def list_tasks(self, request: common_pb2.ResourceListRequest) -> task_pb2.TaskList:
        """Task versions, newest first unless sorted otherwise."""
        rows, token = self._list_versions(self.repo.list_tasks, request)
        return task_pb2.TaskList(tasks=[self._task_proto(r) for r in rows], token=token)

    def _task_proto(self, row: m.Task) -> task_pb2.Task:
        spec = task_pb2.TaskSpec.FromString(row.spec)
        return task_pb2.Task(
            id=_proto_id(row, ResourceType.TASK),
            closure=task_pb2.TaskClosure(
                compiled_task=compiler_pb2.CompiledTask(template=spec.template), created_at=timestamp(row.created_at)
            ),
            short_description=spec.description.short_description,
        )

    # --- workflows -----------------------------------------------------------------------------------

    def create_workflow(self, request: workflow_pb2.WorkflowCreateRequest) -> workflow_pb2.WorkflowCreateResponse:
        """Register a workflow version: compile it, store its closure, add a default launch plan."""
        check_identifier(request.id, "workflow", domains=self.config.domains)
        check_size(request.spec, MAX_REGISTRATION_BYTES, f"the spec of workflow {request.id.name!r}", SMALLER_BODY)
        self._require_project(request.id.project)
        self._check_template_id(request.id, request.spec.template.id, "workflow")
        ident = entity_id(request.id, ResourceType.WORKFLOW)
        spec_bytes = request.spec.SerializeToString(deterministic=True)
        digest = digest_of(request.spec)
        try:
            existing: m.Workflow | None = self.repo.get_workflow(ident)
        except NotFound:
            existing = None
        if existing is not None:
            # Identical or not, an existing version is never compiled or written again.
            stored = existing.spec
            self._register("workflow", ident, request.spec, _raise_exists(ident), lambda: stored)
        template = parse(request.spec.template, WorkflowTemplate, "workflow template")
        subs = [parse(s, WorkflowTemplate, f"subworkflow {s.id.name!r}") for s in request.spec.sub_workflows]
        stored_tasks: dict[tuple[str, str, str, str], Message] = {}
        try:
            closure = compile_workflow(
                template,
                tasks=self._referenced_tasks([template, *subs], stored_tasks),
                sub_workflows=subs,
                launch_plans=self._referenced_launch_plans([template, *subs]),
                host=self.host,
            )
        except CompilationFailed as exc:
            raise InvalidArgumentError(f"workflow {_show(ident)} does not compile:\n{exc}") from exc
        closure_pb = _closure_as_sent(closure, request.spec, stored_tasks)
        # Each body gets its own closure file, so a racing registration of a different body of
        # the same version can never overwrite the winner's closure.
        closure_uri = f"{self.store.workflow_prefix(ident)}/{digest[:32]}/closure.pb"
        self.store.write_bytes(closure_uri, closure_pb.SerializeToString())

        def create(d: str) -> None:
            self.repo.create_workflow(m.Workflow(**_key(ident), digest=d, spec=spec_bytes, closure_uri=closure_uri))

        self._register("workflow", ident, request.spec, create, lambda: self.repo.get_workflow(ident).spec)
        # Executions of a new version usually follow: keep what was just compiled. The model is
        # what decoding the stored closure gives (the templates as sent lose, as spec models,
        # only the fields the models leave out), so their first CreateExecution decodes nothing.
        self._closures.keep(ident, _KeptClosure(closure_pb, closure, closure_uri))
        self._create_default_launch_plan(ident, closure_pb.primary.template.interface)
        return workflow_pb2.WorkflowCreateResponse()

    def get_workflow(self, request: common_pb2.ObjectGetRequest) -> workflow_pb2.Workflow:
        """One workflow version with its compiled closure."""
        check_identifier(request.id, "workflow", domains=self.config.domains)
        with repository_errors():
            return self._workflow_proto(self.repo.get_workflow(entity_id(request.id, ResourceType.WORKFLOW)))

    def list_workflow_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        """The workflow names of a project and domain."""
        return self._list_ids(self.repo.list_workflow_ids, request)

    def list_workflows(self, request: common_pb2.ResourceListRequest) -> workflow_pb2.WorkflowList:
        """Workflow versions, newest first unless sorted otherwise."""
        rows, token = self._list_versions(self.repo.list_workflows, request)
        return workflow_pb2.WorkflowList(workflows=[self._workflow_proto(r) for r in rows], token=token)

    def compiled_closure(self, workflow_id: Identifier) -> compiler_pb2.CompiledWorkflowClosure:
        """The stored compiled closure of a workflow version (do not modify it: workflow versions
        are immutable, so the last few read are kept for the executions that follow)."""
        return self._closure_of(workflow_id).proto

    def compiled_closure_spec(self, workflow_id: Identifier) -> CompiledWorkflowClosure:
        """:meth:`compiled_closure` as the spec model (what the engine walks), kept as well."""
        found = self._closure_of(workflow_id)
        if found.spec is None:
            found.spec = idl.from_idl(found.proto, CompiledWorkflowClosure)
        return found.spec

    def compiled_closure_uri(self, workflow_id: Identifier) -> str:
        """Where the compiled closure of a workflow version is stored (``closure.pb``)."""
        return self._closure_of(workflow_id).uri

    def _closure_of(self, workflow_id: Identifier) -> _KeptClosure:
        found: _KeptClosure | None = self._closures.recall(workflow_id)
        if found is not None:
            return found
        with repository_errors():
            row = self.repo.get_workflow(workflow_id)
        proto = compiler_pb2.CompiledWorkflowClosure.FromString(self.store.read_bytes(row.closure_uri))
        return self._closures.keep(workflow_id, _KeptClosure(proto, None, row.closure_uri))  # type: ignore[no-any-return]

    def _workflow_proto(self, row: m.Workflow) -> workflow_pb2.Workflow:
        spec = workflow_pb2.WorkflowSpec.FromString(row.spec)
        compiled = compiler_pb2.CompiledWorkflowClosure.FromString(self.store.read_bytes(row.closure_uri))
        return workflow_pb2.Workflow(
            id=_proto_id(row, ResourceType.WORKFLOW),
            closure=workflow_pb2.WorkflowClosure(compiled_workflow=compiled, created_at=timestamp(row.created_at)),
            short_description=spec.description.short_description,
        )

    def _referenced_tasks(
        self, templates: list[WorkflowTemplate], stored: dict[tuple[str, str, str, str], Message]
    ) -> list[TaskTemplate]:
        """The registered tasks the workflows' nodes refer to; their templates as registered go
        into ``stored``, by (project, domain, name, version)."""
        found: dict[Identifier, TaskTemplate] = {}
        for wf in templates:
            # The failure node (on_failure) runs a task too; it is not among wf.nodes.
            roots = (*wf.nodes, wf.failure_node) if wf.failure_node is not None else wf.nodes
            for node in walk_nodes(roots):
                if node.task_node is None:
                    continue
                ref = node.task_node.reference_id
                key = entity_id(ref, ResourceType.TASK)
                if key in found:
                    continue
                try:
                    row = self.repo.get_task(key)
                except NotFound:
                    continue  # the compiler reports it, with every other error
                registered = task_pb2.TaskSpec.FromString(row.spec).template
                stored[_id_key(registered.id)] = registered
                found[key] = parse(registered, TaskTemplate, "stored task")
        return list(found.values())

    def _referenced_launch_plans(self, templates: list[WorkflowTemplate]) -> list[LaunchPlanTemplate]:
        found: dict[Identifier, LaunchPlanTemplate] = {}
        for wf in templates:
            roots = (*wf.nodes, wf.failure_node) if wf.failure_node is not None else wf.nodes
            for node in walk_nodes(roots):
                ref = node.workflow_node.launchplan_ref if node.workflow_node is not None else None
                if ref is None:
                    continue
                key = entity_id(ref, ResourceType.LAUNCH_PLAN)
                if key in found:
                    continue
                try:
                    lp_row = self.repo.get_launch_plan(key)
                except NotFound:
                    continue  # the compiler reports it, with every other error
                closure = launch_plan_pb2.LaunchPlanClosure.FromString(lp_row.closure)
                spec = launch_plan_pb2.LaunchPlanSpec.FromString(lp_row.spec)
                found[key] = LaunchPlanTemplate(
                    id=key,
                    interface=parse(
                        interface_pb2.TypedInterface(
                            inputs=interface_pb2.VariableMap(
                                variables={n: p.var for n, p in closure.expected_inputs.parameters.items()}
                            ),
                            outputs=closure.expected_outputs,
                        ),
                        TypedInterface,
                        "stored launch plan interface",
                    ),
                    fixed_inputs=idl.from_idl(spec.fixed_inputs),
                )
        return list(found.values())

    # --- lists -----------------------------------------------------------------------------------------

    def _list_ids(self, lister: Callable[..., Any], request: Any) -> common_pb2.NamedEntityIdentifierList:
        check_project_id(request.project)
        check_domain(request.domain, self.config.domains)
        with repository_errors():
            page = lister(
                request.project,
                request.domain,
                filters=request.filters,
                sort=sort_of(request.sort_by),
                limit=request.limit or 100,
                token=request.token,
            )
        self._known_project_page(page, request.project)
        return common_pb2.NamedEntityIdentifierList(
            entities=[
                common_pb2.NamedEntityIdentifier(project=e.project, domain=e.domain, name=e.name) for e in page.rows
            ],
            token=page.next_token,
        )

    def _list_versions(self, lister: Callable[..., Any], request: Any) -> tuple[list[Any], str]:
        check_project_id(request.id.project, "id project")
        check_domain(request.id.domain, self.config.domains, "id domain")
        if request.id.name:
            check_id_part(request.id.name, "id name")
        with repository_errors():
            page = lister(
                request.id.project,
                request.id.domain,
                request.id.name or None,
                filters=request.filters,
                sort=sort_of(request.sort_by),
                limit=request.limit or 100,
                token=request.token,
            )
        self._known_project_page(page, request.id.project)
        return page.rows, page.next_token

    def _create_default_launch_plan(self, workflow_id: Identifier, interface: interface_pb2.TypedInterface) -> None:
        raise NotImplementedError  # provided by LaunchPlanService


@attrs.define
class _KeptClosure:
    """A workflow version's compiled closure as the admin keeps the last few: the stored
    message, its spec model once needed, and where it is stored."""

    proto: compiler_pb2.CompiledWorkflowClosure
    spec: CompiledWorkflowClosure | None
    uri: str


def _id_key(proto_id: Any) -> tuple[str, str, str, str]:
    return (proto_id.project, proto_id.domain, proto_id.name, proto_id.version)


def _closure_as_sent(
    closure: CompiledWorkflowClosure, spec: workflow_pb2.WorkflowSpec, stored_tasks: dict[tuple[str, str, str, str], Message]
) -> compiler_pb2.CompiledWorkflowClosure:
    """The compiled closure with every workflow and task template as its client sent it.

    The compiler works on spec models, which leave out the flyteidl fields they do not model
    (flytekit's type annotations and dataclass field types, task security contexts, ...); those
    who read the closure (flytekit's ``FlyteRemote``, launch plans' expected inputs, the engine
    running flytekit's containers) need every field. The compiler adds only the connections:
    they are all that is converted of a template that was sent (a large workflow's nodes were
    converted, then overwritten)."""
    closure_pb = compiler_pb2.CompiledWorkflowClosure()
    sent = {_id_key(t.id): t for t in (spec.template, *spec.sub_workflows)}
    workflows = [(closure.primary, closure_pb.primary)]
    workflows += [(compiled, closure_pb.sub_workflows.add()) for compiled in closure.sub_workflows]
    for compiled, compiled_pb in workflows:
        original = sent.get(_id_key(compiled.template.id))
        compiled_pb.template.CopyFrom(original if original is not None else idl.to_idl(compiled.template))
        compiled_pb.connections.CopyFrom(idl.to_idl(compiled.connections))
    for compiled_task in closure.tasks:
        registered = stored_tasks.get(_id_key(compiled_task.template.id))
        template_pb = closure_pb.tasks.add().template
        template_pb.CopyFrom(registered if registered is not None else idl.to_idl(compiled_task.template))
    for launch_plan in closure.launch_plans:
        closure_pb.launch_plans.add().CopyFrom(idl.to_idl(launch_plan))
    return closure_pb


def _raise_exists(ident: Identifier) -> Callable[[str], None]:
    def create(_digest: str) -> None:
        raise AlreadyExistsError(f"{_show(ident)} exists")

    return create


def _show(ident: Identifier) -> str:
    return f"{ident.project}/{ident.domain}/{ident.name}@{ident.version}"


def _proto_id(row: Any, resource_type: ResourceType) -> Any:
    return idl.to_idl(
        Identifier(resource_type=resource_type, project=row.project, domain=row.domain, name=row.name, version=row.version)
    )
