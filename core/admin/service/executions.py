"""Executions: CreateExecution (the seed's request path), reads, terminate and relaunch.

CreateExecution follows the seed's steps, numbered in :meth:`ExecutionService._create`:
validate the ids, fetch the launch plan, fetch the compiled closure, merge and check the
inputs, record the execution as QUEUED, write the inputs, hand a workflow object to the
launcher. Everything that can refuse the request runs before anything is written, so a refused
request leaves the database and the storage as they were.

Execution names are idempotency keys, as in FlyteAdmin: a name already taken in the project
and domain is ALREADY_EXISTS, whatever the request (FlyteAdmin's unique key on executions gives
the same answer, and flytekit's ``FlyteRemote.execute`` treats it as "already launched" and
fetches the execution). The row is the claim on the name: it is inserted before the inputs are
written, so a second request with a taken name writes nothing at all. (FlyteAdmin offloads the
inputs first, which lets a duplicate overwrite the first execution's ``inputs.pb``.)
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import secrets
from typing import Any, TypeVar

from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2
from google.protobuf.message import DecodeError, Message

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.db.errors import ConcurrentUpdate
from flytecore.admin.service.base import sort_of, timestamp
from flytecore.admin.service.errors import (
    AbortedError,
    AdminError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.launch_plans import LaunchPlanService
from flytecore.admin.service.launcher import Launcher, WorkflowObject
from flytecore.admin.service.registration import _show, entity_id, parse
from flytecore.admin.service.validation import (
    check_domain,
    check_execution_name,
    check_identifier,
    check_name,
    check_project_id,
)
from flytecore.admin.storage import InvalidStoragePath, MetadataStore, StorageNotFound
from flytecore.compiler.values import literal_mismatch
from flytecore.spec import idl
from flytecore.spec.compiled import CompiledWorkflowClosure
from flytecore.spec.execution import ExecutionMode
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.literals import Binding, BindingData, Literal, LiteralMap
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.types import LiteralType, OutputReference
from flytecore.spec.workflow import START_NODE_ID, Node, NodeMetadata, TaskNode, WorkflowTemplate

M = TypeVar("M", bound=Message)

__all__ = ["ExecutionService", "data_response", "generate_execution_name", "merge_inputs", "single_task_node_id"]

# FlyteAdmin's generated names: "a" and 19 characters of Kubernetes' random alphabet (no vowels,
# so no words); 20 characters fit every name rule and leave room for suffixes.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_LENGTH = 20
# FlyteAdmin names the workflow and launch plan it makes for a task launched directly
# ".flytegen.<task name>" (util.CreateOrGetWorkflowModel / CreateOrGetLaunchPlan).
SINGLE_TASK_PREFIX = ".flytegen."
_MAX_NODE_ID = 20  # flytestdlib's MaxUniqueIDLength, what FlyteAdmin's node ids are cut to
_B32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"abcdefghijklmnopqrstuvwxyz123456")
# Conditional updates that lose to a concurrent writer re-read and decide again this many times.
UPDATE_ATTEMPTS = 5


def generate_execution_name() -> str:
    """A fresh execution name like FlyteAdmin's: ``a`` + 19 random lowercase letters/digits."""
    return "a" + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_NAME_LENGTH - 1))


def single_task_node_id(task_name: str) -> str:
    """The node id of a single-task workflow, as FlyteAdmin derives it: the task name's letters,
    digits and '-'; if longer than 20, ``f`` + base32 of its FNV-1a 32-bit hash."""
    kept = "".join(ch for ch in task_name if ch == "-" or ch.isalnum())
    if len(kept) <= _MAX_NODE_ID:
        return kept
    digest = 0x811C9DC5
    for byte in kept.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "f" + base64.b32encode(digest.to_bytes(4, "big")).translate(_B32).decode().rstrip("=")


def literal_map_data(store: MetadataStore, uri: str) -> tuple[literals_pb2.LiteralMap, common_pb2.UrlBlob]:
    """A stored literal map and its location, as the Get*Data calls return them; nothing stored
    (yet) reads as an empty map, so data calls work while an execution is still running."""
    if not uri:
        return literals_pb2.LiteralMap(), common_pb2.UrlBlob()
    try:
        data = store.read_bytes(uri)
        return literals_pb2.LiteralMap.FromString(data), common_pb2.UrlBlob(url=uri, bytes=len(data))
    except StorageNotFound:
        return literals_pb2.LiteralMap(), common_pb2.UrlBlob(url=uri)
    except (InvalidStoragePath, DecodeError) as exc:  # a URI an engine reported; say what is wrong with it
        raise FailedPreconditionError(f"the recorded data at {uri} cannot be read: {exc}") from exc


def data_response(store: MetadataStore, response: type[M], input_uri: str, output_uri: str) -> M:
    """A Get*DataResponse: the inputs and outputs in full and as locations."""
    full_inputs, inputs = literal_map_data(store, input_uri)
    full_outputs, outputs = literal_map_data(store, output_uri)
    return response(inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs)


def execution_id_of(proto_id: Any, domains: tuple[str, ...], what: str = "execution") -> WorkflowExecutionIdentifier:
    """A checked flyteidl ``WorkflowExecutionIdentifier`` as the spec's."""
    check_project_id(proto_id.project, f"{what} id project")
    check_domain(proto_id.domain, domains, f"{what} id domain")
    check_execution_name(proto_id.name, f"{what} id name")
    if proto_id.org:
        raise InvalidArgumentError(f"{what} id org {proto_id.org!r}: organizations are not supported")
    return WorkflowExecutionIdentifier(project=proto_id.project, domain=proto_id.domain, name=proto_id.name)


def show_execution(eid: WorkflowExecutionIdentifier) -> str:
    """An execution id as people read it."""
    return f"{eid.project}/{eid.domain}/{eid.name}"


class ExecutionService(LaunchPlanService):
    """The execution calls of AdminService."""

    launcher: Launcher | None = None
    """What runs executions (the propeller in the sandbox); None: they stay QUEUED and wait."""

    # --- create -----------------------------------------------------------------------------------

    def create_execution(self, request: execution_pb2.ExecutionCreateRequest) -> execution_pb2.ExecutionCreateResponse:
        """Launch a launch plan (or a task) with inputs; returns the new execution's id."""
        if request.org:
            raise InvalidArgumentError(f"org {request.org!r}: organizations are not supported")
        # flytekit sends the inputs in the request, older clients in the spec (as FlyteAdmin reads).
        inputs = request.inputs if request.inputs.literals else request.spec.inputs
        eid = self._create(request.project, request.domain, request.name, request.spec, inputs)
        return execution_pb2.ExecutionCreateResponse(id=idl.to_idl(eid))

    def _create(
        self, project: str, domain: str, name: str, spec: execution_pb2.ExecutionSpec, user_inputs: literals_pb2.LiteralMap
    ) -> WorkflowExecutionIdentifier:
        accepted_at = m.utcnow()
        # 1. Validate the ids: nothing unsafe reaches the database or a storage path.
        check_project_id(project)
        check_domain(domain, self.config.domains)
        name = name or generate_execution_name()
        check_execution_name(name)
        is_task = spec.launch_plan.resource_type == identifier_pb2.TASK
        check_identifier(spec.launch_plan, "task" if is_task else "launch plan", domains=self.config.domains)
        self._require_project(project)
        eid = WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        # 2. Fetch the launch plan; a task launched directly gets a single-task one.
        lp_row = self._launch_plan_for(spec.launch_plan)
        lp_spec = launch_plan_pb2.LaunchPlanSpec.FromString(lp_row.spec)
        lp_closure = launch_plan_pb2.LaunchPlanClosure.FromString(lp_row.closure)
        lp_name = f"{lp_row.name}@{lp_row.version}"
        # 3. Fetch the compiled closure the workflow was registered with.
        workflow_id = Identifier(
            resource_type=ResourceType.WORKFLOW, project=lp_row.workflow_project, domain=lp_row.workflow_domain,
            name=lp_row.workflow_name, version=lp_row.workflow_version,
        )
        closure = self.compiled_closure(workflow_id)
        # 4. Merge the launch plan's fixed inputs and defaults with the caller's, and check them.
        merged = merge_inputs(user_inputs, lp_spec.fixed_inputs, lp_closure.expected_inputs, lp_name)
        resolved = self._resolve_spec(spec, lp_spec)
        parent = self._parent_of(resolved)
        # 5. Record the execution as QUEUED. The insert claims the name (the idempotency key).
        row = self._execution_row(eid, resolved, lp_row, workflow_id, accepted_at, parent)
        try:
            with repository_errors():
                self.repo.create_execution(row)
        except AlreadyExistsError:
            raise AlreadyExistsError(
                f"execution {show_execution(eid)} already exists; execution names are idempotency keys, so "
                "this request is taken as a repeat of the one that created it (GetExecution returns it)"
            ) from None
        # 6. Write the inputs: as run (inputs.pb, what the engine reads) and as the user gave them.
        try:
            self.store.write_bytes(row.inputs_uri, merged.SerializeToString(deterministic=True))
            self.store.write_bytes(row.user_inputs_uri, user_inputs.SerializeToString(deterministic=True))
        except Exception as exc:  # storage of any fsspec backend: record why, never leave it QUEUED
            self._record_failure(eid, "InputsNotWritten", f"the inputs could not be written: {exc}")
            raise AdminError(f"execution {show_execution(eid)} failed: its inputs could not be written: {exc}") from exc
        # 7. Hand the workflow object to the engine; without one it waits, QUEUED.
        if self.launcher is not None:
            obj = WorkflowObject(
                execution_id=eid,
                closure=idl.from_idl(closure, CompiledWorkflowClosure),
                inputs=idl.from_idl(merged, LiteralMap),
                inputs_uri=row.inputs_uri,
                metadata_prefix=self.store.execution_prefix(eid),
                raw_output_prefix=resolved.raw_output_data_config.output_location_prefix
                or self.store.raw_output_prefix(eid),
                launch_plan_id=entity_id(lp_row, ResourceType.LAUNCH_PLAN),
                max_parallelism=resolved.max_parallelism,
                interruptible=resolved.interruptible.value if resolved.HasField("interruptible") else None,
                overwrite_cache=resolved.overwrite_cache,
                labels=dict(resolved.labels.values),
                annotations=dict(resolved.annotations.values),
                parent_node_execution=parent,
                accepted_at=accepted_at,
            )
            try:
                self.launcher.launch(obj)
            except Exception as exc:  # the engine is pluggable; its failure is recorded, as FlyteAdmin does
                self._record_failure(eid, "LaunchFailed", f"the execution engine refused it: {exc}")
                return eid
            self.repo.update_execution(eid, launched=True)
        return eid

    def _launch_plan_for(self, lp_id: identifier_pb2.Identifier) -> m.LaunchPlan:
        if lp_id.resource_type == identifier_pb2.TASK:
            return self._single_task_launch_plan(entity_id(lp_id, ResourceType.TASK))
        ident = entity_id(lp_id, ResourceType.LAUNCH_PLAN)
        try:
            return self.repo.get_launch_plan(ident)
        except NotFound:
            raise NotFoundError(
                f"launch plan {_show(ident)} is not registered (every registered workflow has a default "
                "launch plan of its own name and version)"
            ) from None

    def _single_task_launch_plan(self, task_id: Identifier) -> m.LaunchPlan:
        """The launch plan of a task launched directly, made (once) like FlyteAdmin makes it: a
        workflow ``.flytegen.<task>`` of one node running the task, and its launch plan."""
        generated = Identifier(
            resource_type=ResourceType.LAUNCH_PLAN, project=task_id.project, domain=task_id.domain,
            name=SINGLE_TASK_PREFIX + task_id.name, version=task_id.version,
        )
        try:
            return self.repo.get_launch_plan(generated)
        except NotFound:
            pass
        try:
            task_row = self.repo.get_task(task_id)
        except NotFound:
            raise NotFoundError(f"task {_show(task_id)} is not registered") from None
        template = parse(task_pb2.TaskSpec.FromString(task_row.spec).template, TaskTemplate, "stored task")
        node_id = single_task_node_id(task_id.name)
        wf_id = Identifier(**{**_fields(generated), "resource_type": ResourceType.WORKFLOW})
        workflow = WorkflowTemplate(
            id=wf_id,
            interface=template.interface,
            nodes=(
                Node(
                    id=node_id,
                    metadata=NodeMetadata(name=node_id, retries=template.metadata.retries),
                    inputs=tuple(_bind(name, START_NODE_ID) for name in template.interface.inputs),
                    task_node=TaskNode(reference_id=task_id),
                ),
            ),
            outputs=tuple(_bind(name, node_id) for name in template.interface.outputs),
        )
        # Registered through the ordinary calls, so it compiles and is stored like any other;
        # a concurrent launch of the same task may have registered it first.
        with contextlib.suppress(AlreadyExistsError):
            self.create_workflow(
                workflow_pb2.WorkflowCreateRequest(
                    id=idl.to_idl(wf_id), spec=workflow_pb2.WorkflowSpec(template=idl.to_idl(workflow))
                )
            )
        with contextlib.suppress(AlreadyExistsError):
            self.create_launch_plan(
                launch_plan_pb2.LaunchPlanCreateRequest(
                    id=idl.to_idl(generated), spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=idl.to_idl(wf_id))
                )
            )
        return self.repo.get_launch_plan(generated)

    def _resolve_spec(
        self, spec: execution_pb2.ExecutionSpec, lp_spec: launch_plan_pb2.LaunchPlanSpec
    ) -> execution_pb2.ExecutionSpec:
        """The spec as recorded: run options the request leaves unset come from the launch plan
        (FlyteAdmin's precedence); the inputs live in storage, not in the spec."""
        resolved = execution_pb2.ExecutionSpec()
        resolved.CopyFrom(spec)
        resolved.ClearField("inputs")
        if not resolved.labels.values:
            resolved.labels.CopyFrom(lp_spec.labels)
        if not resolved.annotations.values:
            resolved.annotations.CopyFrom(lp_spec.annotations)
        if not resolved.raw_output_data_config.output_location_prefix:
            resolved.raw_output_data_config.CopyFrom(lp_spec.raw_output_data_config)
        resolved.max_parallelism = resolved.max_parallelism or lp_spec.max_parallelism
        if not resolved.HasField("interruptible") and lp_spec.HasField("interruptible"):
            resolved.interruptible.CopyFrom(lp_spec.interruptible)
        resolved.overwrite_cache = resolved.overwrite_cache or lp_spec.overwrite_cache
        return resolved

    def _parent_of(self, spec: execution_pb2.ExecutionSpec) -> NodeExecutionIdentifier | None:
        """The node that launched a child execution (None for others); it must be recorded, and
        the child inherits its execution's principal and one more level of nesting."""
        if not spec.metadata.HasField("parent_node_execution"):
            return None
        given = spec.metadata.parent_node_execution
        check_name(given.node_id, "parent node execution node id")
        parent = NodeExecutionIdentifier(
            node_id=given.node_id, execution_id=execution_id_of(given.execution_id, self.config.domains, "parent execution")
        )
        with repository_errors():
            self.repo.get_node_execution(parent)
            launching = self.repo.get_execution(parent.execution_id)
        launching_spec = execution_pb2.ExecutionSpec.FromString(launching.spec)
        spec.metadata.principal = launching_spec.metadata.principal
        spec.metadata.nesting = launching_spec.metadata.nesting + 1
        return parent

    def _execution_row(
        self,
        eid: WorkflowExecutionIdentifier,
        spec: execution_pb2.ExecutionSpec,
        lp_row: m.LaunchPlan,
        workflow_id: Identifier,
        created_at: dt.datetime,
        parent: NodeExecutionIdentifier | None,
    ) -> m.Execution:
        closure = execution_pb2.ExecutionClosure(
            phase=int(WfPhase.QUEUED),
            created_at=timestamp(created_at),
            updated_at=timestamp(created_at),
            workflow_id=idl.to_idl(workflow_id),
        )
        parent_columns: dict[str, str] = {}
        if parent is not None and parent.execution_id is not None:
            launching = {**_fields(parent.execution_id, ("project", "domain", "name")), "node_id": parent.node_id}
            parent_columns = {f"parent_node_execution_{k}": v for k, v in launching.items()}
        return m.Execution(
            **_fields(eid, ("project", "domain", "name")),
            **{f"launch_plan_{k}": v for k, v in _fields(lp_row).items()},
            **{f"workflow_{k}": v for k, v in _fields(workflow_id).items()},
            **parent_columns,
            phase=int(WfPhase.QUEUED),
            spec=spec.SerializeToString(deterministic=True),
            closure=closure.SerializeToString(deterministic=True),
            inputs_uri=self.store.execution_inputs_uri(eid),
            user_inputs_uri=self.store.execution_user_inputs_uri(eid),
            mode=int(spec.metadata.mode),
            user=spec.metadata.principal,
            tags=list(spec.tags),
            created_at=created_at,
            updated_at=created_at,
            launched=False,
        )

    def _record_failure(self, eid: WorkflowExecutionIdentifier, code: str, message: str) -> None:
        """Mark a QUEUED execution FAILED with a system error (unless something moved it on)."""
        row = self.repo.get_execution(eid)
        closure = execution_pb2.ExecutionClosure.FromString(row.closure)
        closure.phase = int(WfPhase.FAILED)
        closure.error.CopyFrom(_system_error(code, message))
        closure.updated_at.CopyFrom(timestamp(m.utcnow()))
        try:
            self.repo.update_execution(
                eid,
                expect={"phase": int(WfPhase.QUEUED)},
                phase=int(WfPhase.FAILED),
                closure=closure.SerializeToString(deterministic=True),
                error={"code": code, "message": message, "kind": "SYSTEM", "error_uri": ""},
            )
        except ConcurrentUpdate:
            pass  # an event (or a terminate) got there first; that record stands

    # --- reads -----------------------------------------------------------------------------------------

    def get_execution(self, request: execution_pb2.WorkflowExecutionGetRequest) -> execution_pb2.Execution:
        """One execution: its spec and its closure (phase, times, outputs or error)."""
        with repository_errors():
            return self._execution_proto(self.repo.get_execution(execution_id_of(request.id, self.config.domains)))

    def get_execution_data(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        """An execution's inputs (as run) and outputs, in full and as locations."""
        with repository_errors():
            row = self.repo.get_execution(execution_id_of(request.id, self.config.domains))
        return data_response(self.store, execution_pb2.WorkflowExecutionGetDataResponse, row.inputs_uri, row.outputs_uri)

    def list_executions(self, request: common_pb2.ResourceListRequest) -> execution_pb2.ExecutionList:
        """Executions of a project and domain (of one name if ``id.name`` is set), newest first
        unless sorted otherwise; filters as flytekit sends them (``eq(phase,SUCCEEDED)``)."""
        check_project_id(request.id.project, "id project")
        check_domain(request.id.domain, self.config.domains, "id domain")
        filters = request.filters
        if request.id.name:
            check_execution_name(request.id.name, "id name")
            filters = "+".join(f for f in (f"eq(name,{request.id.name})", filters) if f)
        with repository_errors():
            page = self.repo.list_executions(
                request.id.project, request.id.domain, filters=filters, sort=sort_of(request.sort_by),
                limit=request.limit or 100, token=request.token,
            )
        return execution_pb2.ExecutionList(executions=[self._execution_proto(r) for r in page.rows], token=page.next_token)

    def _execution_proto(self, row: m.Execution) -> execution_pb2.Execution:
        closure = execution_pb2.ExecutionClosure.FromString(row.closure)
        closure.phase = row.phase  # the column is what conditional updates guard
        return execution_pb2.Execution(
            id=idl.to_idl(WorkflowExecutionIdentifier(project=row.project, domain=row.domain, name=row.name)),
            spec=execution_pb2.ExecutionSpec.FromString(row.spec),
            closure=closure,
        )

    # --- terminate and relaunch -------------------------------------------------------------------------

    def terminate_execution(self, request: execution_pb2.ExecutionTerminateRequest) -> execution_pb2.ExecutionTerminateResponse:
        """Stop an execution. One the engine holds becomes ABORTING and the engine is asked to
        abort it (it confirms with an ABORTED event, as in FlyteAdmin); one no engine ever took
        becomes ABORTED at once. An execution that already ended is FAILED_PRECONDITION."""
        eid = execution_id_of(request.id, self.config.domains)
        for _ in range(UPDATE_ATTEMPTS):
            with repository_errors():
                row = self.repo.get_execution(eid)
            phase = WfPhase(row.phase)
            if phase.is_terminal:
                raise FailedPreconditionError(
                    f"execution {show_execution(eid)} already ended ({phase.name}); only a queued or running "
                    "execution can be terminated"
                )
            engine_holds_it = row.launched or self.launcher is not None
            new_phase = WfPhase.ABORTING if engine_holds_it else WfPhase.ABORTED
            now = m.utcnow()
            closure = execution_pb2.ExecutionClosure.FromString(row.closure)
            closure.phase = int(new_phase)
            closure.abort_metadata.CopyFrom(execution_pb2.AbortMetadata(cause=request.cause, principal=""))
            closure.updated_at.CopyFrom(timestamp(now))
            try:
                self.repo.update_execution(
                    eid, expect={"phase": row.phase}, phase=int(new_phase), abort_cause=request.cause,
                    closure=closure.SerializeToString(deterministic=True),
                )
                break
            except ConcurrentUpdate:
                continue  # an event moved it meanwhile; decide again on what it is now
        else:
            raise AbortedError(f"execution {show_execution(eid)} kept changing; try terminating it again")
        if engine_holds_it and self.launcher is not None:
            try:
                self.launcher.abort(eid, request.cause)
            except Exception as exc:  # a pluggable engine; its failure is reported, never UNKNOWN
                raise AdminError(f"the execution engine could not abort {show_execution(eid)}: {exc}") from exc
        return execution_pb2.ExecutionTerminateResponse()

    def relaunch_execution(self, request: execution_pb2.ExecutionRelaunchRequest) -> execution_pb2.ExecutionCreateResponse:
        """Run an execution again: same launch plan (or task), same user inputs, a new name
        (``request.name`` or a generated one), mode RELAUNCH referring to the original."""
        eid = execution_id_of(request.id, self.config.domains)
        with repository_errors():
            row = self.repo.get_execution(eid)
        spec = execution_pb2.ExecutionSpec.FromString(row.spec)
        user_inputs, _ = literal_map_data(self.store, row.user_inputs_uri)
        spec.metadata.mode = int(ExecutionMode.RELAUNCH)
        spec.metadata.reference_execution.CopyFrom(request.id)
        # A relaunch is started by a user, not by the node that launched the original.
        spec.metadata.ClearField("parent_node_execution")
        spec.metadata.nesting = 0
        spec.overwrite_cache = request.overwrite_cache
        new_id = self._create(eid.project, eid.domain, request.name, spec, user_inputs)
        return execution_pb2.ExecutionCreateResponse(id=idl.to_idl(new_id))


def merge_inputs(
    user: literals_pb2.LiteralMap,
    fixed: literals_pb2.LiteralMap,
    expected: interface_pb2.ParameterMap,
    launch_plan: str,
) -> literals_pb2.LiteralMap:
    """The inputs an execution runs with: the caller's, the defaults of what the caller left out,
    and the launch plan's fixed inputs (FlyteAdmin's ``CheckAndFetchInputsForExecution``).

    Every problem is reported at once, each naming its input: an override of a fixed input, an
    unknown input, a value of the wrong type, a missing required input.
    """
    problems: list[str] = []
    merged = literals_pb2.LiteralMap()
    known = ", ".join(sorted(expected.parameters)) or "none"
    for name, literal in sorted(user.literals.items()):
        param = expected.parameters.get(name)
        if name in fixed.literals:
            problems.append(f"input {name!r} is fixed by launch plan {launch_plan} and cannot be overridden")
        elif param is None:
            problems.append(f"input {name!r} is not an input of launch plan {launch_plan} (inputs: {known})")
        else:
            value = parse(literal, Literal, f"input {name!r}")
            reason = literal_mismatch(value, parse(param.var.type, LiteralType, f"type of input {name!r}"), f"input {name!r}")
            if reason is not None:
                problems.append(reason)
            merged.literals[name].CopyFrom(literal)
    for name, param in sorted(expected.parameters.items()):
        if name in user.literals:
            continue
        if param.HasField("default"):
            merged.literals[name].CopyFrom(param.default)
        elif param.required:
            problems.append(f"required input {name!r} of launch plan {launch_plan} is missing")
    if problems:
        raise InvalidArgumentError("the execution's inputs are invalid: " + "; ".join(problems))
    for name, literal in fixed.literals.items():
        merged.literals[name].CopyFrom(literal)
    return merged


def _bind(var: str, node_id: str) -> Binding:
    return Binding(var=var, binding=BindingData(promise=OutputReference(node_id=node_id, var=var)))


def _fields(obj: Any, names: tuple[str, ...] = ("project", "domain", "name", "version")) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _system_error(code: str, message: str) -> core_execution_pb2.ExecutionError:
    return core_execution_pb2.ExecutionError(code=code, message=message, kind=core_execution_pb2.ExecutionError.SYSTEM)
