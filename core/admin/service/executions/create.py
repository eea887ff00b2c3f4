"""CreateExecution (the seed's request path) and RelaunchExecution.

CreateExecution follows the seed's steps, numbered in :meth:`ExecutionCreation._create`:
validate the ids, fetch the launch plan, fetch the compiled closure, merge and check the
inputs, record the execution as QUEUED, write the inputs, hand a workflow object to the
launcher. Everything that can refuse the request runs before anything is written, so a refused
request leaves the database and the storage as they were.

Where the inputs go (:meth:`ExecutionCreation._recorded_inputs`, the one place that decides):
small ones, as run and as the user gave them, each at most ``AdminConfig.inline_data_bytes``
serialized (the rule the events' inline data follows, :meth:`ServiceBase._kept_inline`), are
kept in the execution's row (``inputs_data``, ``user_inputs_data``) and no file is written or
flushed: the row's insert is their durable write, at the database's own durability. Larger ones
are written to ``inputs.pb`` and ``user_inputs.pb`` in metadata storage, as FlyteAdmin does. The
engine then gets the inputs in the workflow object either way, with an empty ``inputs_uri`` when
there is no file.

Execution names are idempotency keys, as in FlyteAdmin: a name already taken in the project
and domain is ALREADY_EXISTS, whatever the request (FlyteAdmin's unique key on executions gives
the same answer, and flytekit's ``FlyteRemote.execute`` treats it as "already launched" and
fetches the execution). The row is the claim on the name: it is inserted before the inputs are
written (or with them, when they are kept in it), so a second request with a taken name writes
nothing at all. (FlyteAdmin offloads the inputs first, which lets a duplicate overwrite the
first execution's ``inputs.pb``.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flytecore.admin.db import NotFound
from flytecore.admin.db import models as m
from flytecore.admin.db.errors import ConcurrentUpdate
from flytecore.admin.service.base import timestamp
from flytecore.admin.service.errors import (
    AdminError,
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.executions.data import inline_literal_map, literal_map_data
from flytecore.admin.service.executions.ids import (
    execution_id_of,
    generate_execution_name,
    id_fields,
    show_execution,
)
from flytecore.admin.service.executions.inputs import merge_inputs
from flytecore.admin.service.executions.single_task import SingleTaskLaunchPlans
from flytecore.admin.service.launcher import Launcher, WorkflowObject
from flytecore.admin.service.limits import (
    MAX_EXECUTION_SPEC_BYTES,
    MAX_INPUTS_BYTES,
    OFFLOAD_INPUTS,
    check_size,
)
from flytecore.admin.service.registration import _show, entity_id
from flytecore.admin.service.validation import (
    check_domain,
    check_execution_name,
    check_id_part,
    check_identifier,
    check_project_id,
    check_resource_type,
    check_text,
)
from flytecore.spec import idl
from flytecore.spec.execution import ExecutionMode
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.phases import WorkflowExecutionPhase as WfPhase

__all__ = ["ExecutionCreation"]


class ExecutionCreation(SingleTaskLaunchPlans):
    """CreateExecution and RelaunchExecution."""

    launcher: Launcher | None = None
    """What runs executions (the propeller in the sandbox); None: they stay QUEUED and wait."""

    def create_execution(self, request: execution_pb2.ExecutionCreateRequest) -> execution_pb2.ExecutionCreateResponse:
        """Launch a launch plan (or a task) with inputs; returns the new execution's id."""
        if request.org:
            raise InvalidArgumentError(f"org {request.org!r}: organizations are not supported")
        # flytekit sends the inputs in the request, older clients in the spec (as FlyteAdmin reads).
        inputs = request.inputs if request.inputs.literals else request.spec.inputs
        check_size(inputs, MAX_INPUTS_BYTES, "the execution's inputs", OFFLOAD_INPUTS)
        check_size(
            request.spec.ByteSize() - request.spec.inputs.ByteSize(), MAX_EXECUTION_SPEC_BYTES,
            "the execution's spec (without inputs)", "keep labels, annotations and other options small",
        )
        # FlyteAdmin launches launch plans and tasks only, and refuses an unset type as well.
        launchable = (identifier_pb2.LAUNCH_PLAN, identifier_pb2.TASK)
        check_resource_type(request.spec.launch_plan.resource_type, launchable, "spec.launch_plan", allow_unset=False)
        for tag in request.spec.tags:
            check_text(tag, "spec tag")
        check_text(request.spec.metadata.principal, "spec metadata principal")
        eid = self._create(request.project, request.domain, request.name, request.spec, inputs)
        return execution_pb2.ExecutionCreateResponse(id=idl.to_idl(eid))

    def relaunch_execution(self, request: execution_pb2.ExecutionRelaunchRequest) -> execution_pb2.ExecutionCreateResponse:
        """Run an execution again: same launch plan (or task), same user inputs, a new name
        (``request.name`` or a generated one), mode RELAUNCH referring to the original."""
        eid = execution_id_of(request.id, self.config.domains)
        with repository_errors():
            row = self.repo.get_execution(eid)
        spec = execution_pb2.ExecutionSpec.FromString(row.spec)
        user_inputs = self._user_inputs(eid, row)
        spec.metadata.mode = int(ExecutionMode.RELAUNCH)
        spec.metadata.reference_execution.CopyFrom(request.id)
        # A relaunch is started by a user, not by the node that launched the original.
        spec.metadata.ClearField("parent_node_execution")
        spec.metadata.nesting = 0
        spec.overwrite_cache = request.overwrite_cache
        new_id = self._create(eid.project, eid.domain, request.name, spec, user_inputs)
        return execution_pb2.ExecutionCreateResponse(id=idl.to_idl(new_id))

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
        self.compiled_closure(workflow_id)  # it must be there: refused before anything is written
        # 4. Merge the launch plan's fixed inputs and defaults with the caller's, and check them.
        merged, merged_literals = merge_inputs(user_inputs, lp_spec.fixed_inputs, lp_closure.expected_inputs, lp_name)
        resolved = self._resolve_spec(spec, lp_spec)
        parent = self._parent_of(resolved)
        # 5. Record the execution as QUEUED (with its inputs, if they are kept in the row). The
        # insert claims the name (the idempotency key).
        inputs_columns, inputs_files = self._recorded_inputs(
            eid, merged.SerializeToString(deterministic=True), user_inputs.SerializeToString(deterministic=True)
        )
        row = self._execution_row(eid, resolved, lp_row, workflow_id, accepted_at, parent, inputs_columns)
        try:
            with repository_errors():
                self.repo.create_execution(row)
        except AlreadyExistsError:
            raise AlreadyExistsError(
                f"execution {show_execution(eid)} already exists; execution names are idempotency keys, so "
                "this request is taken as a repeat of the one that created it (GetExecution returns it)"
            ) from None
        # 6. Write the inputs not kept in the row: as run (inputs.pb) and as the user gave them.
        if inputs_files:
            try:
                self.store.write_all(inputs_files)
            except Exception as exc:  # storage of any fsspec backend: record why, never leave it QUEUED
                self._record_failure(eid, "InputsNotWritten", f"the inputs could not be written: {exc}")
                raise AdminError(
                    f"execution {show_execution(eid)} failed: its inputs could not be written: {exc}"
                ) from exc
        # 7. Hand the workflow object to the engine; without one it waits, QUEUED.
        if self.launcher is not None:
            obj = WorkflowObject(
                execution_id=eid,
                closure=self.compiled_closure_spec(workflow_id),
                closure_uri=self.compiled_closure_uri(workflow_id),
                inputs=merged_literals,
                inputs_uri=row.inputs_uri,  # "": no file, the engine keeps the inputs with the object
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

    def _recorded_inputs(
        self, eid: WorkflowExecutionIdentifier, merged: bytes, given: bytes
    ) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Where an execution's inputs are recorded: as run (``merged``) and as the user gave
        them (``given``), both serialized. Returns the execution row's input columns and the
        files to write (URI -> bytes).

        Both are kept in the row (``inputs_data``, ``user_inputs_data``; no file) when each is
        :meth:`_kept_inline`; otherwise both are files, ``inputs.pb`` and ``user_inputs.pb``, as
        before: never one of each. Inputs the user gave whole (nothing merged in) are recorded
        once: ``user_inputs_data`` NULL, or one file that both URIs name.
        """
        same = given == merged
        if self._kept_inline(merged) and self._kept_inline(given):
            kept = {"inputs_data": merged, "user_inputs_data": None if same else given}
            return {"inputs_uri": "", "user_inputs_uri": "", **kept}, {}
        inputs_uri = self.store.execution_inputs_uri(eid)
        user_inputs_uri = inputs_uri if same else self.store.execution_user_inputs_uri(eid)
        files = {"inputs_uri": inputs_uri, "user_inputs_uri": user_inputs_uri}
        return {**files, "inputs_data": None, "user_inputs_data": None}, {inputs_uri: merged, user_inputs_uri: given}

    def _user_inputs(self, eid: WorkflowExecutionIdentifier, row: m.Execution) -> literals_pb2.LiteralMap:
        """The inputs the user gave ``row``'s execution: its ``user_inputs.pb``, or kept in the
        row (``user_inputs_data``; NULL: the inputs as run, ``inputs_data``).

        :raises FailedPreconditionError: they cannot be read, naming the execution or the file.
        """
        data = row.inputs_data if row.user_inputs_data is None else row.user_inputs_data
        kept = inline_literal_map(data, f"user inputs of execution {show_execution(eid)}")
        user_inputs, _ = literal_map_data(self.store, row.user_inputs_uri, kept)
        return user_inputs

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

    def _resolve_spec(
        self, spec: execution_pb2.ExecutionSpec, lp_spec: launch_plan_pb2.LaunchPlanSpec
    ) -> execution_pb2.ExecutionSpec:
        """The spec as recorded: run options the request leaves unset come from the launch plan
        (FlyteAdmin's precedence); the inputs are recorded apart (:meth:`_recorded_inputs`), not
        in the spec."""
        resolved = execution_pb2.ExecutionSpec()
        resolved.CopyFrom(spec)
        resolved.ClearField("inputs")
        if not resolved.labels.values:
            resolved.labels.CopyFrom(lp_spec.labels)
        if not resolved.annotations.values:
            resolved.annotations.CopyFrom(lp_spec.annotations)
        if not resolved.raw_output_data_config.output_location_prefix:
            resolved.raw_output_data_config.CopyFrom(lp_spec.raw_output_data_config)
        resolved.max_parallelism = resolved.max_parallelism or lp_spec.max_parallelism or self.config.max_parallelism
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
        check_id_part(given.node_id, "parent node execution node id")
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
        inputs_columns: dict[str, Any],
    ) -> m.Execution:
        closure = execution_pb2.ExecutionClosure(
            phase=int(WfPhase.QUEUED),
            created_at=timestamp(created_at),
            updated_at=timestamp(created_at),
            workflow_id=idl.to_idl(workflow_id),
        )
        parent_columns: dict[str, str] = {}
        if parent is not None and parent.execution_id is not None:
            launching = {**id_fields(parent.execution_id, ("project", "domain", "name")), "node_id": parent.node_id}
            parent_columns = {f"parent_node_execution_{k}": v for k, v in launching.items()}
        return m.Execution(
            **id_fields(eid, ("project", "domain", "name")),
            **{f"launch_plan_{k}": v for k, v in id_fields(lp_row).items()},
            **{f"workflow_{k}": v for k, v in id_fields(workflow_id).items()},
            **parent_columns,
            phase=int(WfPhase.QUEUED),
            spec=spec.SerializeToString(deterministic=True),
            closure=closure.SerializeToString(deterministic=True),
            **inputs_columns,
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


def _system_error(code: str, message: str) -> core_execution_pb2.ExecutionError:
    return core_execution_pb2.ExecutionError(code=code, message=message, kind=core_execution_pb2.ExecutionError.SYSTEM)
