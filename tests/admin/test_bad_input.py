"""Bad input at the API, through the real gRPC server on SQLite and PostgreSQL: malformed
protobufs, unknown projects, ids with path characters, oversize bodies and inputs, invalid
names, unknown resource types, unreadable filters, page tokens and limits.

Each case is one call. It must be answered with INVALID_ARGUMENT or NOT_FOUND and a message
naming what was wrong, and it must change nothing: every table's rows (read through the
service's own engine) and every stored file (path and SHA-256) are the same after the call as
before. One admin serves the whole module (per backend): refused calls leave it as it was, so
the cases cannot disturb each other, and a case that did write something fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    project_pb2,
    task_execution_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2 as engine_event_pb2
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from flytecore.admin.service.limits import (
    MAX_EVENT_BYTES,
    MAX_EVENT_DATA_BYTES,
    MAX_GRPC_MESSAGE_BYTES,
    MAX_INPUTS_BYTES,
    MAX_LIST_LIMIT,
    MAX_REGISTRATION_BYTES,
)
from tests.admin.conftest import ServedAdmin, stored_state
from tests.admin.test_service_executions import integer, text
from tests.admin.test_service_registration import add, pipeline, requests_for

PROJECT, DOMAIN, RUN, VERSION = "flytesnacks", "development", "run-1", "v1"
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
GRPC_DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024


# --- the admin every case is sent to: pipeline registered, one execution with a node and a task attempt


@pytest.fixture(scope="module")
def admin(served_admin: ServedAdmin) -> ServedAdmin:
    stub = served_admin.stub
    tasks, wf_request = requests_for(pipeline, VERSION)
    for request in tasks:
        stub.CreateTask(request, timeout=30)
    stub.CreateWorkflow(wf_request, timeout=30)
    create = execution_pb2.ExecutionCreateRequest(
        project=PROJECT, domain=DOMAIN, name=RUN, spec=execution_pb2.ExecutionSpec(launch_plan=lp_id())
    )
    create.inputs.literals["a"].CopyFrom(integer(1))
    create.inputs.literals["b"].CopyFrom(integer(2))
    stub.CreateExecution(create, timeout=30)
    stub.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=node_event(phase=2)), timeout=30)  # RUNNING
    stub.CreateTaskEvent(event_pb2.TaskExecutionEventRequest(event=task_event(phase=3)), timeout=30)  # RUNNING
    return served_admin


# --- ids and requests the cases start from ---------------------------------------------------------------


def ident(kind: int, default_name: str, **changes: Any) -> identifier_pb2.Identifier:
    fields = {"resource_type": kind, "project": PROJECT, "domain": DOMAIN, "name": default_name, "version": VERSION}
    return identifier_pb2.Identifier(**{**fields, **changes})


def task_ident(**changes: Any) -> identifier_pb2.Identifier:
    return ident(identifier_pb2.TASK, add.name, **changes)


def workflow_ident(**changes: Any) -> identifier_pb2.Identifier:
    return ident(identifier_pb2.WORKFLOW, pipeline.name, **changes)


def lp_id(**changes: Any) -> identifier_pb2.Identifier:
    return ident(identifier_pb2.LAUNCH_PLAN, pipeline.name, **changes)


def exec_id(name: str = RUN, **kw: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(**{"project": PROJECT, "domain": DOMAIN, "name": name, **kw})


def node_exec_id(node: str = "n0", run: str = RUN) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=exec_id(run))


def task_exec_id(node: str = "n0", **task: Any) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=task_ident(**task), node_execution_id=node_exec_id(node), retry_attempt=0
    )


def node_event(node: str = "n0", run: str = RUN, phase: int = 2, **kw: Any) -> engine_event_pb2.NodeExecutionEvent:
    return engine_event_pb2.NodeExecutionEvent(id=node_exec_id(node, run), phase=phase, **kw)


def task_event(phase: int = 3, node: str = "n0", task: dict[str, Any] | None = None, **kw: Any) -> engine_event_pb2.TaskExecutionEvent:
    return engine_event_pb2.TaskExecutionEvent(
        task_id=task_ident(**(task or {})), parent_node_execution_id=node_exec_id(node), retry_attempt=0,
        phase=phase, **kw,
    )


def create_task(*, name: str | None = None, **id_fields: Any) -> task_pb2.TaskCreateRequest:
    """The registration of ``add`` at a new version (``v2``), with id fields changed in the
    request id and the template id alike (so that only the changed field is wrong)."""
    request = requests_for(pipeline, "v2")[0][0]
    changes = {**id_fields, **({"name": name} if name is not None else {})}
    for key, value in changes.items():
        setattr(request.id, key, value)
        setattr(request.spec.template.id, key, value)
    return request


def create_workflow(**id_fields: Any) -> workflow_pb2.WorkflowCreateRequest:
    request = requests_for(pipeline, VERSION)[1]
    for key, value in id_fields.items():
        setattr(request.id, key, value)
        setattr(request.spec.template.id, key, value)
    return request


def create_execution(name: str = "fresh", inputs: dict[str, literals_pb2.Literal] | None = None, **kw: Any) -> execution_pb2.ExecutionCreateRequest:
    request = execution_pb2.ExecutionCreateRequest(
        **{"project": PROJECT, "domain": DOMAIN, "name": name, "spec": execution_pb2.ExecutionSpec(launch_plan=lp_id()), **kw}
    )
    for key, value in (inputs if inputs is not None else {"a": integer(1), "b": integer(2)}).items():
        request.inputs.literals[key].CopyFrom(value)
    return request


def resource_list(project: str = PROJECT, domain: str = DOMAIN, name: str = "", **kw: Any) -> common_pb2.ResourceListRequest:
    return common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name), **kw
    )


def big_string(size: int) -> str:
    return "x" * size


def oversize_task() -> task_pb2.TaskCreateRequest:
    request = create_task()
    request.spec.description.long_description.value = big_string(MAX_REGISTRATION_BYTES)
    return request


def oversize_inputs() -> execution_pb2.ExecutionCreateRequest:
    return create_execution(inputs={"a": text(big_string(MAX_INPUTS_BYTES))})


def oversize_event_data() -> event_pb2.NodeExecutionEventRequest:
    outputs = literals_pb2.LiteralMap(literals={"o0": text(big_string(MAX_EVENT_DATA_BYTES))})
    return event_pb2.NodeExecutionEventRequest(event=node_event(phase=3, output_data=outputs))


def oversize_event() -> event_pb2.TaskExecutionEventRequest:
    info = struct_pb2.Struct()
    for i in range(5):  # several inline parts, each below the inline-data limit, together over the event limit
        info.fields[f"part{i}"].string_value = big_string(MAX_EVENT_BYTES // 4)
    return event_pb2.TaskExecutionEventRequest(event=task_event(phase=3, phase_version=1, custom_info=info))


def _length_delimited(number: int, payload: bytes) -> bytes:
    """Field ``number`` holding ``payload``, in protobuf's wire format."""
    out = bytearray()
    for value in (number << 3 | 2, len(payload)):
        while value > 0x7F:
            out.append(value & 0x7F | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out) + payload


def corrupt_inline_map(field: str) -> bytes:
    """A CreateNodeEvent request whose event's inline literal map ``field`` is cut short (a
    client's bug): the bytes gRPC hands the admin."""
    event = node_event(phase=3)
    literal_map = literals_pb2.LiteralMap(literals={"o0": integer(4)}).SerializeToString()
    number = event.DESCRIPTOR.fields_by_name[field].number
    event_bytes = event.SerializeToString() + _length_delimited(number, literal_map[:-2])
    return _length_delimited(event_pb2.NodeExecutionEventRequest.DESCRIPTOR.fields_by_name["event"].number, event_bytes)


# --- the cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad call: the RPC, its request (built when the case runs), the status and what the
    message must name."""

    id: str
    rpc: str
    request: Callable[[], Message | bytes]
    code: grpc.StatusCode
    says: tuple[str, ...]


def case(id: str, rpc: str, request: Callable[[], Message | bytes], code: grpc.StatusCode, *says: str) -> Case:
    return Case(id, rpc, request, code, says)


def project(**kw: Any) -> project_pb2.ProjectRegisterRequest:
    return project_pb2.ProjectRegisterRequest(project=project_pb2.Project(**{"id": "team-b", **kw}))


CASES = [
    # malformed protobufs: bytes that are not the RPC's message, and messages that do not make sense
    case("malformed-bytes-create-task", "CreateTask", lambda: b"\x0a\xff\xff\xff\xff\x0f", INVALID,
         "not a valid flyteidl.admin.TaskCreateRequest"),
    case("malformed-bytes-create-execution", "CreateExecution", lambda: b"\x12\x05\x0a\x03ab", INVALID,
         "not a valid flyteidl.admin.ExecutionCreateRequest"),
    case("malformed-bytes-register-project", "RegisterProject", lambda: b"\x0a\x02\x0a", INVALID,
         "not a valid flyteidl.admin.ProjectRegisterRequest"),
    case("malformed-bytes-node-event", "CreateNodeEvent", lambda: b"\xff", INVALID,
         "not a valid flyteidl.admin.NodeExecutionEventRequest"),
    case("corrupt-inline-outputs-node-event", "CreateNodeEvent", lambda: corrupt_inline_map("output_data"), INVALID,
         "CreateNodeEvent: the request is not a valid flyteidl.admin.NodeExecutionEventRequest", "(in event.output_data.literals)"),
    case("corrupt-inline-inputs-node-event", "CreateNodeEvent", lambda: corrupt_inline_map("input_data"), INVALID,
         "(in event.input_data.literals)"),
    case("template-id-differs", "CreateTask", lambda: _task_with_template_name("other.task"), INVALID,
         "template id does not match"),
    case("input-literal-of-wrong-type", "CreateExecution", lambda: create_execution(inputs={"a": text("one")}), INVALID,
         "input 'a'", "expected int"),
    case("event-error-kind-unknown", "CreateNodeEvent", lambda: event_pb2.NodeExecutionEventRequest(
        event=node_event(phase=4, error=core_execution_pb2.ExecutionError(code="E", message="m", kind=7))), INVALID,
         "error kind 7"),
    case("event-phase-unknown", "CreateWorkflowEvent", lambda: event_pb2.WorkflowExecutionEventRequest(
        event=engine_event_pb2.WorkflowExecutionEvent(execution_id=exec_id(), phase=42)), INVALID, "phase 42"),
    case("launch-plan-state-unknown", "UpdateLaunchPlan", lambda: launch_plan_pb2.LaunchPlanUpdateRequest(
        id=lp_id(), state=9), INVALID, "state 9"),
    case("project-state-unknown", "RegisterProject", lambda: project(state=9), INVALID, "project state 9"),
    case("project-domains-given", "RegisterProject", lambda: project(domains=[project_pb2.Domain(id="qa")]),
         INVALID, "project domains"),
    # unknown projects, domains and entities
    case("unknown-project-create-task", "CreateTask", lambda: create_task(project="nobody"), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-create-workflow", "CreateWorkflow", lambda: create_workflow(project="nobody"), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-create-launch-plan", "CreateLaunchPlan", lambda: launch_plan_pb2.LaunchPlanCreateRequest(
        id=lp_id(project="nobody"), spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow_ident())), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-create-execution", "CreateExecution", lambda: create_execution(project="nobody"), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-list-tasks", "ListTasks", lambda: resource_list("nobody"), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-list-workflow-ids", "ListWorkflowIds", lambda: common_pb2.NamedEntityIdentifierListRequest(
        project="nobody", domain=DOMAIN), NOT_FOUND, "project 'nobody' is not registered"),
    case("unknown-project-list-active-launch-plans", "ListActiveLaunchPlans",
         lambda: launch_plan_pb2.ActiveLaunchPlanListRequest(project="nobody", domain=DOMAIN), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-list-executions", "ListExecutions", lambda: resource_list("nobody"), NOT_FOUND,
         "project 'nobody' is not registered"),
    case("unknown-project-get-project", "GetProject", lambda: project_pb2.ProjectGetRequest(id="nobody"), NOT_FOUND,
         "nobody"),
    case("unknown-project-update-project", "UpdateProject", lambda: project_pb2.Project(id="nobody", name="N"),
         NOT_FOUND, "nobody"),
    case("unknown-domain-create-task", "CreateTask", lambda: create_task(domain="qa"), INVALID,
         "domain 'qa' is not a domain of this admin"),
    case("unknown-domain-list-launch-plans", "ListLaunchPlans", lambda: resource_list(domain="qa"), INVALID,
         "domain 'qa'"),
    case("unknown-domain-list-task-ids", "ListTaskIds", lambda: common_pb2.NamedEntityIdentifierListRequest(
        project=PROJECT, domain="qa"), INVALID, "domain 'qa'"),
    case("unknown-task-get", "GetTask", lambda: common_pb2.ObjectGetRequest(id=task_ident(version="v9")), NOT_FOUND,
         f"{add.name}@v9"),
    case("unknown-workflow-in-launch-plan", "CreateLaunchPlan", lambda: launch_plan_pb2.LaunchPlanCreateRequest(
        id=lp_id(name="lp2"), spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow_ident(version="v9"))),
         NOT_FOUND, "which is not registered"),
    case("unknown-launch-plan-execute", "CreateExecution", lambda: create_execution(
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id(name="nope"))), NOT_FOUND,
         "launch plan flytesnacks/development/nope@v1 is not registered"),
    case("unknown-task-execute", "CreateExecution", lambda: create_execution(
        spec=execution_pb2.ExecutionSpec(launch_plan=task_ident(version="v9"))), NOT_FOUND, "is not registered"),
    case("unknown-launch-plan-update", "UpdateLaunchPlan", lambda: launch_plan_pb2.LaunchPlanUpdateRequest(
        id=lp_id(version="v9"), state=launch_plan_pb2.ACTIVE), NOT_FOUND, "@v9"),
    case("unknown-active-launch-plan", "GetActiveLaunchPlan", lambda: launch_plan_pb2.ActiveLaunchPlanRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="nope")), NOT_FOUND, "nope"),
    case("unknown-execution-get", "GetExecution", lambda: execution_pb2.WorkflowExecutionGetRequest(
        id=exec_id("nope")), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-execution-get-data", "GetExecutionData", lambda: execution_pb2.WorkflowExecutionGetDataRequest(
        id=exec_id("nope")), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-execution-terminate", "TerminateExecution", lambda: execution_pb2.ExecutionTerminateRequest(
        id=exec_id("nope"), cause="stop"), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-execution-relaunch", "RelaunchExecution", lambda: execution_pb2.ExecutionRelaunchRequest(
        id=exec_id("nope"), name="again"), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-execution-list-nodes", "ListNodeExecutions", lambda: node_execution_pb2.NodeExecutionListRequest(
        workflow_execution_id=exec_id("nope")), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-parent-node-list-nodes", "ListNodeExecutions", lambda: node_execution_pb2.NodeExecutionListRequest(
        workflow_execution_id=exec_id(), unique_parent_id="n7"), NOT_FOUND, "n7"),
    case("unknown-node-get", "GetNodeExecution", lambda: node_execution_pb2.NodeExecutionGetRequest(
        id=node_exec_id("n7")), NOT_FOUND, "n7"),
    case("unknown-node-get-data", "GetNodeExecutionData", lambda: node_execution_pb2.NodeExecutionGetDataRequest(
        id=node_exec_id("n7")), NOT_FOUND, "n7"),
    case("unknown-node-list-tasks", "ListTaskExecutions", lambda: task_execution_pb2.TaskExecutionListRequest(
        node_execution_id=node_exec_id("n7")), NOT_FOUND, "n7"),
    case("unknown-task-attempt-get", "GetTaskExecution", lambda: task_execution_pb2.TaskExecutionGetRequest(
        id=task_exec_id("n1")), NOT_FOUND, "n1"),
    case("unknown-task-attempt-get-data", "GetTaskExecutionData", lambda: task_execution_pb2.TaskExecutionGetDataRequest(
        id=task_exec_id("n1")), NOT_FOUND, "n1"),
    case("unknown-execution-workflow-event", "CreateWorkflowEvent", lambda: event_pb2.WorkflowExecutionEventRequest(
        event=engine_event_pb2.WorkflowExecutionEvent(execution_id=exec_id("nope"), phase=2)), NOT_FOUND,
         "flytesnacks/development/nope"),
    case("unknown-execution-node-event", "CreateNodeEvent", lambda: event_pb2.NodeExecutionEventRequest(
        event=node_event(run="nope")), NOT_FOUND, "flytesnacks/development/nope"),
    case("unknown-node-task-event", "CreateTaskEvent", lambda: event_pb2.TaskExecutionEventRequest(
        event=task_event(node="n7")), NOT_FOUND, "n7"),
    # path characters in ids
    case("path-task-name", "CreateTask", lambda: create_task(name="../escape"), INVALID, "'../escape'", "path separator"),
    case("path-task-name-backslash", "CreateTask", lambda: create_task(name="a\\b"), INVALID, "task id name", "path separator"),
    case("path-task-name-dotdot", "CreateTask", lambda: create_task(name="app..tasks"), INVALID, "'app..tasks'", "'..'"),
    case("path-task-name-hidden", "CreateTask", lambda: create_task(name=".hidden"), INVALID, "'.hidden'", "starts with '.'"),
    case("path-task-name-nul", "CreateTask", lambda: create_task(name="a\x00b"), INVALID, "task id name", "control character"),
    case("path-task-version", "CreateTask", lambda: create_task(version="../v1"), INVALID, "task id version", "'../v1'"),
    case("path-task-version-dot", "CreateTask", lambda: create_task(version="."), INVALID, "task id version", "is '.'"),
    case("path-workflow-name-dotdot", "CreateWorkflow", lambda: create_workflow(name="a..b"), INVALID,
         "workflow id name 'a..b'"),
    case("path-project", "CreateTask", lambda: create_task(project="../etc"), INVALID, "task id project '../etc'"),
    case("path-domain", "CreateExecution", lambda: create_execution(domain="..\\x"), INVALID, "domain"),
    case("path-get-workflow-version", "GetWorkflow", lambda: common_pb2.ObjectGetRequest(
        id=workflow_ident(version="v1/../../x")), INVALID, "workflow id version"),
    case("path-launch-plan-workflow", "CreateLaunchPlan", lambda: launch_plan_pb2.LaunchPlanCreateRequest(
        id=lp_id(name="lp2"), spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow_ident(name="../wf"))), INVALID,
         "launch plan's workflow id name '../wf'"),
    case("path-execution-launch-plan", "CreateExecution", lambda: create_execution(
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id(name="x/../y"))), INVALID, "launch plan id name 'x/../y'"),
    case("path-node-id-get", "GetNodeExecution", lambda: node_execution_pb2.NodeExecutionGetRequest(
        id=node_exec_id("../n0")), INVALID, "node id '../n0'"),
    case("path-node-id-event", "CreateNodeEvent", lambda: event_pb2.NodeExecutionEventRequest(
        event=node_event(node="n0/../../x")), INVALID, "node id 'n0/../../x'"),
    case("path-node-id-hidden-event", "CreateNodeEvent", lambda: event_pb2.NodeExecutionEventRequest(
        event=node_event(node=".n0")), INVALID, "node id '.n0'"),
    case("path-unique-parent-id", "ListNodeExecutions", lambda: node_execution_pb2.NodeExecutionListRequest(
        workflow_execution_id=exec_id(), unique_parent_id="../n0"), INVALID, "unique_parent_id '../n0'"),
    case("path-task-event-task-version", "CreateTaskEvent", lambda: event_pb2.TaskExecutionEventRequest(
        event=task_event(task={"version": "v1/.."})), INVALID, "task id version"),
    case("path-list-name", "ListWorkflows", lambda: resource_list(name="../x"), INVALID, "id name '../x'"),
    # empty, over-long and invalid names and versions
    case("empty-task-name", "CreateTask", lambda: create_task(name=""), INVALID, "task id name is required"),
    case("empty-task-version", "CreateTask", lambda: create_task(version=""), INVALID, "task id version is required"),
    case("empty-workflow-event-project", "CreateWorkflowEvent", lambda: event_pb2.WorkflowExecutionEventRequest(
        event=engine_event_pb2.WorkflowExecutionEvent(execution_id=exec_id(project=""), phase=2)), INVALID,
         "execution id project is required"),
    case("long-task-name", "CreateTask", lambda: create_task(name="t" * 256), INVALID, "task id name", "256 bytes"),
    case("long-task-name-utf8", "CreateTask", lambda: create_task(name="é" * 128), INVALID, "task id name", "256 bytes"),
    case("long-version", "CreateTask", lambda: create_task(version="v" * 300), INVALID, "task id version", "300 bytes"),
    case("version-not-url-safe", "CreateTask", lambda: create_task(version="1.0+build"), INVALID,
         "task id version '1.0+build'", "URL-safe"),
    case("project-id-uppercase", "RegisterProject", lambda: project(id="Team-B"), INVALID, "project id 'Team-B'"),
    case("project-name-long", "RegisterProject", lambda: project(name="n" * 65), INVALID, "project name", "64"),
    case("project-description-long", "UpdateProject", lambda: project_pb2.Project(id=PROJECT, description="d" * 301),
         INVALID, "project description", "300"),
    case("project-description-nul", "RegisterProject", lambda: project(description="a\x00b"), INVALID,
         "project description", "NUL"),
    case("project-labels-many", "RegisterProject", lambda: project(labels=common_pb2.Labels(
        values={f"k{i}": "v" for i in range(17)})), INVALID, "project labels", "17 entries"),
    case("project-label-key", "RegisterProject", lambda: project(labels=common_pb2.Labels(values={"a b": "v"})),
         INVALID, "project labels key 'a b'"),
    case("execution-name-uppercase", "CreateExecution", lambda: create_execution("Run-2"), INVALID, "'Run-2'"),
    case("execution-name-digit-first", "CreateExecution", lambda: create_execution("2run"), INVALID, "'2run'"),
    case("execution-name-underscore", "CreateExecution", lambda: create_execution("run_2"), INVALID, "'run_2'"),
    case("execution-name-trailing-dash", "CreateExecution", lambda: create_execution("run-"), INVALID, "'run-'"),
    case("execution-name-64", "CreateExecution", lambda: create_execution("r" * 64), INVALID, "r" * 64, "63"),
    case("execution-name-path", "CreateExecution", lambda: create_execution("../run"), INVALID, "'../run'"),
    case("relaunch-name-invalid", "RelaunchExecution", lambda: execution_pb2.ExecutionRelaunchRequest(
        id=exec_id(), name="Again!"), INVALID, "'Again!'"),
    case("get-execution-name-invalid", "GetExecution", lambda: execution_pb2.WorkflowExecutionGetRequest(
        id=exec_id("run 1")), INVALID, "'run 1'"),
    case("execution-org", "CreateExecution", lambda: create_execution(org="acme"), INVALID, "org 'acme'"),
    case("task-id-org", "CreateTask", lambda: create_task(org="acme"), INVALID, "org 'acme'"),
    case("terminate-cause-nul", "TerminateExecution", lambda: execution_pb2.ExecutionTerminateRequest(
        id=exec_id(), cause="a\x00b"), INVALID, "cause", "NUL"),
    case("execution-principal-nul", "CreateExecution", lambda: create_execution(spec=execution_pb2.ExecutionSpec(
        launch_plan=lp_id(), metadata=execution_pb2.ExecutionMetadata(principal="me\x00"))), INVALID, "principal", "NUL"),
    case("node-event-retry-group-nul", "CreateNodeEvent", lambda: event_pb2.NodeExecutionEventRequest(
        event=node_event(node="n1", retry_group="0\x00")), INVALID, "retry_group", "NUL"),
    # unknown resource types
    case("resource-type-task-as-workflow", "CreateTask", lambda: create_task(resource_type=identifier_pb2.WORKFLOW),
         INVALID, "task id resource_type is WORKFLOW", "expected TASK"),
    case("resource-type-number", "GetWorkflow", lambda: common_pb2.ObjectGetRequest(
        id=workflow_ident(resource_type=42)), INVALID, "resource_type is 42"),
    case("resource-type-execute-workflow", "CreateExecution", lambda: create_execution(
        spec=execution_pb2.ExecutionSpec(launch_plan=workflow_ident())), INVALID,
         "spec.launch_plan id resource_type is WORKFLOW", "LAUNCH_PLAN or TASK"),
    case("resource-type-execute-unset", "CreateExecution", lambda: create_execution(
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id(resource_type=identifier_pb2.UNSPECIFIED))), INVALID,
         "resource_type is UNSPECIFIED"),
    case("resource-type-task-event", "CreateTaskEvent", lambda: event_pb2.TaskExecutionEventRequest(
        event=task_event(task={"resource_type": identifier_pb2.LAUNCH_PLAN})), INVALID,
         "task id resource_type is LAUNCH_PLAN"),
    # filters, sort keys, page tokens and limits
    case("filter-malformed", "ListTasks", lambda: resource_list(filters="eq(name"), INVALID, "malformed filter"),
    case("filter-unknown-function", "ListExecutions", lambda: resource_list(filters="like(name,x)"), INVALID,
         "unknown filter function 'like'"),
    case("filter-unknown-field", "ListWorkflows", lambda: resource_list(filters="eq(color,red)"), INVALID,
         "cannot filter", "'color'"),
    case("filter-bad-phase", "ListExecutions", lambda: resource_list(filters="eq(phase,DANCING)"), INVALID,
         "'DANCING'"),
    case("filter-int-overflow", "ListTaskExecutions", lambda: task_execution_pb2.TaskExecutionListRequest(
        node_execution_id=node_exec_id(), filters="eq(retry_attempt,99999999999999999999)"), INVALID,
         "'99999999999999999999'"),
    case("filter-nul", "ListProjects", lambda: project_pb2.ProjectListRequest(filters="eq(name,a\x00)"), INVALID,
         "'name'"),
    case("sort-unknown-key", "ListNodeExecutions", lambda: node_execution_pb2.NodeExecutionListRequest(
        workflow_execution_id=exec_id(), sort_by=common_pb2.Sort(key="color")), INVALID, "cannot sort by 'color'"),
    case("sort-unknown-direction", "ListLaunchPlans", lambda: resource_list(
        sort_by=common_pb2.Sort(key="name", direction=5)), INVALID, "sort_by direction 5"),
    case("token-letters", "ListProjects", lambda: project_pb2.ProjectListRequest(token="next"), INVALID,
         "invalid page token 'next'"),
    case("token-negative", "ListExecutions", lambda: resource_list(token="-1"), INVALID, "invalid page token '-1'"),
    case("token-unicode-digit", "ListTasks", lambda: resource_list(token="²"), INVALID, "invalid page token '²'"),
    case("token-huge", "ListTaskIds", lambda: common_pb2.NamedEntityIdentifierListRequest(
        project=PROJECT, domain=DOMAIN, token="9" * 30), INVALID, "invalid page token"),
    case("limit-too-large", "ListExecutions", lambda: resource_list(limit=MAX_LIST_LIMIT + 1), INVALID,
         f"limit must be a number from 1 to {MAX_LIST_LIMIT}", str(MAX_LIST_LIMIT + 1)),
    case("limit-too-large-active", "ListActiveLaunchPlans", lambda: launch_plan_pb2.ActiveLaunchPlanListRequest(
        project=PROJECT, domain=DOMAIN, limit=2**32 - 1), INVALID, "limit"),
    # oversize
    case("oversize-inputs", "CreateExecution", oversize_inputs, INVALID,
         "the execution's inputs", "over the limit of 2 MiB", "FlyteFile"),
    case("oversize-event-output-data", "CreateNodeEvent", oversize_event_data, INVALID,
         "output_data", "over the limit of 2 MiB", "output_uri"),
    case("oversize-registration", "CreateTask", oversize_task, INVALID,
         "the spec of task", "over the limit of 4 MiB", "subworkflows"),
    case("oversize-event", "CreateTaskEvent", oversize_event, INVALID,
         "the task execution event", "over the limit of 8 MiB"),
]


def _task_with_template_name(name: str) -> task_pb2.TaskCreateRequest:
    request = create_task()
    request.spec.template.id.name = name
    return request


def call(admin: ServedAdmin, rpc: str, request: Message | bytes) -> grpc.RpcError | None:
    if isinstance(request, bytes):
        method = admin.channel.unary_unary(f"/flyteidl.service.AdminService/{rpc}")  # bytes in, bytes out
    else:
        method = getattr(admin.stub, rpc)
    try:
        method(request, timeout=60)
    except grpc.RpcError as err:
        return err
    return None


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_naming_it_and_changes_nothing(admin: ServedAdmin, bad: Case) -> None:
    request = bad.request()
    before = stored_state(admin)
    err = call(admin, bad.rpc, request)
    after = stored_state(admin)
    assert err is not None, f"{bad.rpc} accepted the bad request"
    if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        size = len(request) if isinstance(request, bytes) else request.ByteSize()
        pytest.fail(
            f"gRPC refused a {size}-byte message before the service saw it: the server must accept "
            f"MAX_GRPC_MESSAGE_BYTES ({MAX_GRPC_MESSAGE_BYTES}) with grpc.max_receive_message_length ({err.details()})"
        )
    assert err.code() == bad.code, err.details()
    for expected in bad.says:
        assert expected in err.details()
    assert after == before


def test_every_case_sends_a_request_its_rpc_takes() -> None:
    from flyteidl.service import admin_pb2

    rpcs = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].methods_by_name
    for bad in CASES:
        request = bad.request() if not bad.id.startswith("oversize") else None
        assert bad.rpc in rpcs, bad.id
        if isinstance(request, Message):
            assert request.DESCRIPTOR is rpcs[bad.rpc].input_type, bad.id


def test_the_oversize_cases_are_just_over_their_limits_and_under_the_transport_limit() -> None:
    sizes = {
        "oversize-inputs": (oversize_inputs().inputs.ByteSize(), MAX_INPUTS_BYTES),
        "oversize-event-output-data": (oversize_event_data().event.output_data.ByteSize(), MAX_EVENT_DATA_BYTES),
        "oversize-registration": (oversize_task().spec.ByteSize(), MAX_REGISTRATION_BYTES),
        "oversize-event": (oversize_event().event.ByteSize(), MAX_EVENT_BYTES),
    }
    for name, (size, limit) in sizes.items():
        assert limit < size < limit + 64 * 1024 or name == "oversize-event", name
        assert size < MAX_GRPC_MESSAGE_BYTES, name
    assert sizes["oversize-event"][0] > MAX_EVENT_BYTES


def test_good_requests_next_to_the_bad_ones_are_accepted(admin: ServedAdmin) -> None:
    """The records the cases aim at exist, and list requests within the limits are answered:
    the NOT_FOUND and INVALID_ARGUMENT answers above come from what each case changed."""
    stub = admin.stub
    assert stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id()), timeout=30).id.name == RUN
    listed = stub.ListTaskExecutions(task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_exec_id()), timeout=30)
    assert [t.id.node_execution_id.node_id for t in listed.task_executions] == ["n0"]
    tasks = stub.ListTasks(resource_list(limit=MAX_LIST_LIMIT), timeout=30)
    assert {t.id.name for t in tasks.tasks} >= {add.name}
    names = stub.ListNodeExecutions(node_execution_pb2.NodeExecutionListRequest(
        workflow_execution_id=exec_id(), filters="eq(phase,RUNNING)"), timeout=30)
    assert [n.id.node_id for n in names.node_executions] == ["n0"]
