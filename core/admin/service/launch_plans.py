"""Launch plans: registration (with the automatic default launch plan), reads and activation."""

from __future__ import annotations

from flyteidl.admin import common_pb2, launch_plan_pb2
from flyteidl.core import interface_pb2

from flytecore.admin.db import models as m
from flytecore.admin.db.errors import AlreadyExists
from flytecore.admin.service.base import digest_of, sort_of, timestamp
from flytecore.admin.service.errors import InvalidArgumentError, NotFoundError, repository_errors
from flytecore.admin.service.limits import MAX_REGISTRATION_BYTES, SMALLER_BODY, check_size
from flytecore.admin.service.registration import RegistrationService, _proto_id, _show, entity_id, parse
from flytecore.admin.service.validation import check_domain, check_identifier, check_project_id
from flytecore.compiler.values import literal_mismatch
from flytecore.spec import idl
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.launch_plan import LaunchPlanState
from flytecore.spec.literals import Literal
from flytecore.spec.types import LiteralType


class LaunchPlanService(RegistrationService):
    """The launch plan calls of AdminService."""

    def create_launch_plan(self, request: launch_plan_pb2.LaunchPlanCreateRequest) -> launch_plan_pb2.LaunchPlanCreateResponse:
        """Register a launch plan version of a registered workflow. It replaces the automatic
        default launch plan of the same id; otherwise versions are immutable."""
        check_identifier(request.id, "launch plan", domains=self.config.domains)
        check_identifier(request.spec.workflow_id, "launch plan's workflow", domains=self.config.domains)
        check_size(request.spec, MAX_REGISTRATION_BYTES, f"the spec of launch plan {request.id.name!r}", SMALLER_BODY)
        self._require_project(request.id.project)
        workflow_id = entity_id(request.spec.workflow_id, ResourceType.WORKFLOW)
        try:
            closure = self.compiled_closure(workflow_id)
        except NotFoundError:
            raise NotFoundError(
                f"launch plan {request.id.name!r} refers to workflow {_show(workflow_id)}, which is not registered"
            ) from None
        interface = closure.primary.template.interface
        expected = self._expected_inputs(request.spec, interface)
        ident = entity_id(request.id, ResourceType.LAUNCH_PLAN)
        lp_closure = launch_plan_pb2.LaunchPlanClosure(
            state=launch_plan_pb2.INACTIVE, expected_inputs=expected, expected_outputs=interface.outputs
        )
        spec_bytes = request.spec.SerializeToString(deterministic=True)

        def create(digest: str) -> None:
            self.repo.create_launch_plan(self._row(ident, workflow_id, digest, spec_bytes, lp_closure, auto=False))

        self._register("launch plan", ident, request.spec, create, lambda: self.repo.get_launch_plan(ident).spec)
        return launch_plan_pb2.LaunchPlanCreateResponse()

    def _create_default_launch_plan(self, workflow_id: Identifier, interface: interface_pb2.TypedInterface) -> None:
        """Every workflow gets a launch plan of its own id whose inputs are all required
        (an explicit CreateLaunchPlan of that id replaces it). ``interface`` is the workflow's
        as registered (flyteidl, every field kept)."""
        ident = Identifier(
            resource_type=ResourceType.LAUNCH_PLAN,
            project=workflow_id.project,
            domain=workflow_id.domain,
            name=workflow_id.name,
            version=workflow_id.version,
        )
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=idl.to_idl(workflow_id),
            default_inputs=interface_pb2.ParameterMap(
                parameters={n: interface_pb2.Parameter(var=v, required=True) for n, v in interface.inputs.variables.items()}
            ),
        )
        lp_closure = launch_plan_pb2.LaunchPlanClosure(
            state=launch_plan_pb2.INACTIVE,
            expected_inputs=spec.default_inputs,
            expected_outputs=interface.outputs,
        )
        row = self._row(ident, workflow_id, digest_of(spec), spec.SerializeToString(deterministic=True), lp_closure, auto=True)
        try:
            self.repo.create_launch_plan(row)
        except AlreadyExists:
            pass  # an explicit launch plan of this id came first; it wins

    def _row(
        self,
        ident: Identifier,
        workflow_id: Identifier,
        digest: str,
        spec_bytes: bytes,
        closure: launch_plan_pb2.LaunchPlanClosure,
        *,
        auto: bool,
    ) -> m.LaunchPlan:
        return m.LaunchPlan(
            project=ident.project,
            domain=ident.domain,
            name=ident.name,
            version=ident.version,
            digest=digest,
            spec=spec_bytes,
            workflow_project=workflow_id.project,
            workflow_domain=workflow_id.domain,
            workflow_name=workflow_id.name,
            workflow_version=workflow_id.version,
            state=int(LaunchPlanState.INACTIVE),
            closure=closure.SerializeToString(deterministic=True),
            auto_default=auto,
        )

    def _expected_inputs(
        self, spec: launch_plan_pb2.LaunchPlanSpec, interface: interface_pb2.TypedInterface
    ) -> interface_pb2.ParameterMap:
        """The inputs a caller gives: the workflow's, without fixed ones; checks names and types."""
        variables = interface.inputs.variables
        known = ", ".join(variables) or "none"
        for what, names in (("default input", spec.default_inputs.parameters), ("fixed input", spec.fixed_inputs.literals)):
            for name in names:
                if name not in variables:
                    raise InvalidArgumentError(f"{what} {name!r} is not an input of the workflow (inputs: {known})")
        for name, literal in spec.fixed_inputs.literals.items():
            if name in spec.default_inputs.parameters:
                raise InvalidArgumentError(f"input {name!r} is both a default and a fixed input")
            self._check_value(f"fixed input {name!r}", literal, variables[name].type)
        parameters = {}
        for name, var in variables.items():
            if name in spec.fixed_inputs.literals:
                continue
            param = spec.default_inputs.parameters.get(name)
            if param is not None and param.HasField("default"):
                self._check_value(f"default input {name!r}", param.default, var.type)
                parameters[name] = interface_pb2.Parameter(var=var, default=param.default)
            else:
                parameters[name] = interface_pb2.Parameter(var=var, required=True)
        return interface_pb2.ParameterMap(parameters=parameters)

    @staticmethod
    def _check_value(where: str, literal: object, literal_type: object) -> None:
        value = parse(literal, Literal, where)
        expected = parse(literal_type, LiteralType, f"type of {where}")
        reason = literal_mismatch(value, expected, where)
        if reason is not None:
            raise InvalidArgumentError(reason)

    # --- reads ---------------------------------------------------------------------------------------

    def get_launch_plan(self, request: common_pb2.ObjectGetRequest) -> launch_plan_pb2.LaunchPlan:
        """One launch plan version."""
        check_identifier(request.id, "launch plan", domains=self.config.domains)
        with repository_errors():
            return self._launch_plan_proto(self.repo.get_launch_plan(entity_id(request.id, ResourceType.LAUNCH_PLAN)))

    def get_active_launch_plan(self, request: launch_plan_pb2.ActiveLaunchPlanRequest) -> launch_plan_pb2.LaunchPlan:
        """The ACTIVE version of a launch plan name."""
        check_identifier(request.id, "launch plan", domains=self.config.domains, version=False)
        with repository_errors():
            row = self.repo.get_active_launch_plan(request.id.project, request.id.domain, request.id.name)
        return self._launch_plan_proto(row)

    def list_launch_plan_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        """The launch plan names of a project and domain."""
        return self._list_ids(self.repo.list_launch_plan_ids, request)

    def list_launch_plans(self, request: common_pb2.ResourceListRequest) -> launch_plan_pb2.LaunchPlanList:
        """Launch plan versions, newest first unless sorted otherwise."""
        rows, token = self._list_versions(self.repo.list_launch_plans, request)
        return launch_plan_pb2.LaunchPlanList(launch_plans=[self._launch_plan_proto(r) for r in rows], token=token)

    def list_active_launch_plans(
        self, request: launch_plan_pb2.ActiveLaunchPlanListRequest
    ) -> launch_plan_pb2.LaunchPlanList:
        """The ACTIVE launch plans of a project and domain."""
        check_project_id(request.project)
        check_domain(request.domain, self.config.domains)
        with repository_errors():
            page = self.repo.list_active_launch_plans(
                request.project,
                request.domain,
                sort=sort_of(request.sort_by),
                limit=request.limit or 100,
                token=request.token,
            )
        self._known_project_page(page, request.project)
        return launch_plan_pb2.LaunchPlanList(
            launch_plans=[self._launch_plan_proto(r) for r in page.rows], token=page.next_token
        )

    def update_launch_plan(self, request: launch_plan_pb2.LaunchPlanUpdateRequest) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        """Activate (deactivating the other versions of the name) or deactivate a version."""
        check_identifier(request.id, "launch plan", domains=self.config.domains)
        try:
            state = LaunchPlanState(request.state)
        except ValueError:
            raise InvalidArgumentError(f"launch plan state {request.state} is not ACTIVE or INACTIVE") from None
        with repository_errors():
            self.repo.set_launch_plan_state(entity_id(request.id, ResourceType.LAUNCH_PLAN), state)
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    def _launch_plan_proto(self, row: m.LaunchPlan) -> launch_plan_pb2.LaunchPlan:
        closure = launch_plan_pb2.LaunchPlanClosure.FromString(row.closure)
        # The row's columns are the truth for what changes after registration.
        closure.state = row.state
        closure.created_at.CopyFrom(timestamp(row.created_at))
        closure.updated_at.CopyFrom(timestamp(row.updated_at))
        return launch_plan_pb2.LaunchPlan(
            id=_proto_id(row, ResourceType.LAUNCH_PLAN),
            spec=launch_plan_pb2.LaunchPlanSpec.FromString(row.spec),
            closure=closure,
        )


