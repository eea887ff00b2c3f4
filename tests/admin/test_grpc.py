"""The admin's gRPC server, called through flyteidl's generated stubs over a real channel.

The server runs in-process (``start_in_thread``) on an AdminService with a SQLite file and a
storage folder; requests are built from flytecore-authored workflows. The last test runs
``flytecore admin serve`` as a user does (gRPC and HTTP) and stops it with SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, project_pb2, task_pb2, version_pb2, workflow_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc
from google.protobuf import message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flytecore import task, workflow
from flytecore.admin.config import AdminConfig
from flytecore.admin.grpc import (
    SERVED,
    ServerStartError,
    implemented_rpcs,
    method_name,
    servicer_class,
    start_in_thread,
)
from flytecore.admin.grpc.servicers import MAX_DETAILS_BYTES, status_of
from flytecore.admin.service import AdminError, AdminService, Code
from flytecore.sdk.serialize import SerializationSettings, serialize_workflow
from flytecore.spec import idl

ADMIN = SERVED[0]


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def pipeline(a: int, b: int = 3) -> int:
    return double(x=add(a=a, b=b))


def requests_for(wf: object, version: str = "v1") -> tuple[list[task_pb2.TaskCreateRequest], workflow_pb2.WorkflowCreateRequest]:
    bundle = serialize_workflow(wf, SerializationSettings(version=version))
    tasks = [
        task_pb2.TaskCreateRequest(id=idl.to_idl(t.id), spec=task_pb2.TaskSpec(template=idl.to_idl(t)))
        for t in bundle.tasks.values()
    ]
    assert bundle.workflow is not None
    wf_request = workflow_pb2.WorkflowCreateRequest(
        id=idl.to_idl(bundle.workflow.id), spec=workflow_pb2.WorkflowSpec(template=idl.to_idl(bundle.workflow))
    )
    return tasks, wf_request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve_object() -> Iterator[Callable[[object], grpc.Channel]]:
    """Serve any service object in-process; returns a channel to it. Everything stops at the end."""
    stops: list[Callable[[], None]] = []
    channels: list[grpc.Channel] = []

    def serve(service: object) -> grpc.Channel:
        running = start_in_thread(service)
        stops.append(running.stop)
        channels.append(grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}"))
        return channels[-1]

    yield serve
    for channel in channels:
        channel.close()
    for stop in stops:
        stop()


@pytest.fixture
def admin_service(tmp_path: Path) -> AdminService:
    return AdminService.create(
        AdminConfig(db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=str(tmp_path / "store"))
    )


@pytest.fixture
def channel(admin_service: AdminService, serve_object: Callable[[object], grpc.Channel]) -> grpc.Channel:
    return serve_object(admin_service)


@pytest.fixture
def stub(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    return admin_pb2_grpc.AdminServiceStub(channel)


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# --- the admin service over gRPC ----------------------------------------------------------------------


def test_domains_and_projects(stub: admin_pb2_grpc.AdminServiceStub) -> None:
    domains = stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10)
    assert [d.id for d in domains.domains] == ["development", "staging", "production"]

    stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="team-a", name="Team A")), timeout=10
    )
    projects = stub.ListProjects(project_pb2.ProjectListRequest(), timeout=10)
    assert sorted(p.id for p in projects.projects) == ["flytesnacks", "team-a"]
    again = rpc_error(
        lambda: stub.RegisterProject(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="team-a")), timeout=10)
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS


def test_register_task_workflow_and_read_them_back(stub: admin_pb2_grpc.AdminServiceStub) -> None:
    tasks, wf_request = requests_for(pipeline)
    for request in tasks:
        assert stub.CreateTask(request, timeout=10) == task_pb2.TaskCreateResponse()
    again = rpc_error(lambda: stub.CreateTask(tasks[0], timeout=10))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "identical body" in again.details()

    stub.CreateWorkflow(wf_request, timeout=10)
    stored = stub.GetWorkflow(common_pb2.ObjectGetRequest(id=wf_request.id), timeout=10)
    assert stored.id == wf_request.id
    assert [n.id for n in stored.closure.compiled_workflow.primary.template.nodes] == ["n0", "n1"]

    plans = stub.ListLaunchPlans(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development", name=pipeline.name),
            limit=10,
        ),
        timeout=10,
    )
    assert [lp.id.name for lp in plans.launch_plans] == [pipeline.name]
    assert plans.launch_plans[0].closure.state == launch_plan_pb2.INACTIVE


def test_workflow_with_unregistered_tasks_is_invalid_argument(stub: admin_pb2_grpc.AdminServiceStub) -> None:
    _, wf_request = requests_for(pipeline, version="v2")
    err = rpc_error(lambda: stub.CreateWorkflow(wf_request, timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "TaskReferenceNotFound" in err.details()
    missing = rpc_error(lambda: stub.GetWorkflow(common_pb2.ObjectGetRequest(id=wf_request.id), timeout=10))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


UNIMPLEMENTED_RPCS = [
    (entry, method)
    for entry in SERVED
    for method in entry.descriptor.methods
    if method.name not in implemented_rpcs(AdminService, entry)
]


@pytest.mark.parametrize(
    ("entry", "method"), UNIMPLEMENTED_RPCS, ids=[f"{e.descriptor.name}.{m.name}" for e, m in UNIMPLEMENTED_RPCS]
)
def test_rpcs_the_service_lacks_answer_unimplemented(channel: grpc.Channel, entry: object, method: object) -> None:
    call = channel.unary_unary(
        f"/{entry.descriptor.full_name}/{method.name}",  # type: ignore[attr-defined]
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=message_factory.GetMessageClass(method.output_type).FromString,  # type: ignore[attr-defined]
    )
    err = rpc_error(lambda: call(message_factory.GetMessageClass(method.input_type)(), timeout=10))  # type: ignore[attr-defined]
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert f"{entry.descriptor.name}.{method.name} is not implemented" in err.details()  # type: ignore[attr-defined]


def test_every_rpc_of_the_real_service_answers_empty_requests_without_unknown(channel: grpc.Channel) -> None:
    """Empty messages are the laziest malformed requests: each RPC answers them with a deliberate status."""
    seen = {}
    for entry in SERVED:
        for method in entry.descriptor.methods:
            call = channel.unary_unary(
                f"/{entry.descriptor.full_name}/{method.name}",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=message_factory.GetMessageClass(method.output_type).FromString,
            )
            try:
                call(message_factory.GetMessageClass(method.input_type)(), timeout=10)
                seen[method.name] = grpc.StatusCode.OK
            except grpc.RpcError as err:
                seen[method.name] = err.code()
    # UNKNOWN would be the transport's fault, INTERNAL the service's: bad input is the caller's.
    careless = {rpc: code.name for rpc, code in seen.items() if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)}
    assert careless == {}
    assert seen["GetDomains"] == grpc.StatusCode.OK
    assert seen["GetTask"] == grpc.StatusCode.INVALID_ARGUMENT


def test_malformed_request_bytes_are_invalid_argument_and_change_nothing(
    channel: grpc.Channel, stub: admin_pb2_grpc.AdminServiceStub
) -> None:
    raw = channel.unary_unary("/flyteidl.service.AdminService/CreateTask")  # bytes in, bytes out
    err = rpc_error(lambda: raw(b"\x0a\xff\xff\xff\xff\x0f", timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid flyteidl.admin.TaskCreateRequest" in err.details()
    listed = stub.ListTaskIds(common_pb2.NamedEntityIdentifierListRequest(project="flytesnacks", domain="development"))
    assert list(listed.entities) == []


# --- error mapping, with service objects that misbehave on purpose ------------------------------------


class Misbehaving:
    """A service whose few methods fail in every way the transport has to handle."""

    def get_domains(self, request: object) -> object:
        raise RuntimeError("the disk is on fire")

    def get_project(self, request: project_pb2.ProjectGetRequest) -> object:
        return task_pb2.TaskList()  # not the Project the RPC promises

    def list_projects(self, request: object) -> object:
        raise AdminError("x" * (3 * MAX_DETAILS_BYTES))

    def register_project(self, request: project_pb2.ProjectRegisterRequest) -> project_pb2.ProjectRegisterResponse:
        raise _ERRORS[request.project.id](f"refused {request.project.id}")


_ERRORS: dict[str, type[AdminError]] = {code.value: type(code.value, (AdminError,), {"code": code}) for code in Code}


def test_unexpected_exception_is_internal_with_type_and_message_and_logged(
    serve_object: Callable[[object], grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(serve_object(Misbehaving()))
    with caplog.at_level(logging.ERROR, logger="flytecore.admin.grpc"):
        err = rpc_error(lambda: stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == "AdminService.GetDomains failed: RuntimeError: the disk is on fire"
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged and isinstance(logged[0].exc_info[1], RuntimeError)  # type: ignore[index]


def test_wrong_response_type_is_internal(serve_object: Callable[[object], grpc.Channel]) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(serve_object(Misbehaving()))
    err = rpc_error(lambda: stub.GetProject(project_pb2.ProjectGetRequest(id="p"), timeout=10))
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "get_project returned TaskList, expected flyteidl.admin.Project" in err.details()


@pytest.mark.parametrize("code", list(Code))
def test_every_admin_error_code_becomes_the_grpc_status_of_that_name(
    code: Code, serve_object: Callable[[object], grpc.Channel]
) -> None:
    assert status_of(_ERRORS[code.value]("m")) == grpc.StatusCode[code.value]
    stub = admin_pb2_grpc.AdminServiceStub(serve_object(Misbehaving()))
    request = project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=code.value))
    err = rpc_error(lambda: stub.RegisterProject(request, timeout=10))
    assert err.code() == grpc.StatusCode[code.value]
    assert err.details() == f"refused {code.value}"


def test_status_of_an_unknown_or_ok_code_is_internal() -> None:
    weird = AdminError("m")
    weird.code = "NOT_A_STATUS"  # type: ignore[assignment]
    ok = AdminError("m")
    ok.code = "OK"  # type: ignore[assignment]
    assert status_of(weird) == status_of(ok) == grpc.StatusCode.INTERNAL


def test_long_details_are_cut_to_fit_a_header(serve_object: Callable[[object], grpc.Channel]) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(serve_object(Misbehaving()))
    err = rpc_error(lambda: stub.ListProjects(project_pb2.ProjectListRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.INTERNAL  # AdminError's default code
    assert len(err.details().encode()) <= MAX_DETAILS_BYTES
    assert err.details().endswith("more bytes in the admin's log)")


def test_methods_missing_on_the_service_are_unimplemented_in_every_service(
    serve_object: Callable[[object], grpc.Channel],
) -> None:
    channel = serve_object(Misbehaving())
    err = rpc_error(lambda: admin_pb2_grpc.AdminServiceStub(channel).GetVersion(version_pb2.GetVersionRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert err.details() == "AdminService.GetVersion is not implemented by flytecore's admin yet"
    proxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
    err = rpc_error(lambda: proxy.CreateUploadLocation(dataproxy_pb2.CreateUploadLocationRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_data_proxy_method_on_the_service_is_served() -> None:
    class Proxy:
        def create_upload_location(
            self, request: dataproxy_pb2.CreateUploadLocationRequest
        ) -> dataproxy_pb2.CreateUploadLocationResponse:
            return dataproxy_pb2.CreateUploadLocationResponse(signed_url=f"http://up/{request.filename}")

    running = start_in_thread(Proxy())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel:
            proxy = dataproxy_pb2_grpc.DataProxyServiceStub(channel)
            got = proxy.CreateUploadLocation(dataproxy_pb2.CreateUploadLocationRequest(filename="a.txt"), timeout=10)
    finally:
        running.stop()
    assert got.signed_url == "http://up/a.txt"


# --- the servers' life cycle ------------------------------------------------------------------------------


def test_servicers_are_generated_subclasses_overriding_every_rpc() -> None:
    for entry in SERVED:
        cls = servicer_class(entry)
        assert issubclass(cls, entry.servicer_base)
        rpcs = {name for name in vars(entry.servicer_base) if not name.startswith("_")}
        assert rpcs == {m.name for m in entry.descriptor.methods}
        assert rpcs <= set(vars(cls)), "an RPC would fall through to the generated NotImplementedError"
    assert servicer_class(ADMIN) is servicer_class(ADMIN)  # built once


def test_method_names_are_snake_case_of_rpc_names() -> None:
    assert method_name("CreateTask") == "create_task"
    assert method_name("ListNodeExecutionsForTask") == "list_node_executions_for_task"
    assert method_name("GetOrCreateSignal") == "get_or_create_signal"


def test_two_servers_run_at_once_each_on_its_own_loop(serve_object: Callable[[object], grpc.Channel]) -> None:
    first, second = serve_object(Misbehaving()), serve_object(Misbehaving())
    for channel in (first, second):
        err = rpc_error(lambda c=channel: admin_pb2_grpc.AdminServiceStub(c).GetDomains(project_pb2.GetDomainRequest(), timeout=10))
        assert err.code() == grpc.StatusCode.INTERNAL


def test_a_taken_port_is_refused_and_stop_is_idempotent() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_in_thread(Misbehaving(), port)
    running = start_in_thread(Misbehaving())
    running.stop()
    running.stop()
    for port in (running.grpc_port, running.http_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_the_grpc_health_service_is_served(serve_object: Callable[[object], grpc.Channel]) -> None:
    health = health_pb2_grpc.HealthStub(serve_object(Misbehaving()))
    answer = health.Check(health_pb2.HealthCheckRequest(service="flyteidl.service.AdminService"), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"admin serve exited with {process.returncode}:\n{out}\n{err}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"admin serve did not listen on {port} within {timeout} s")


@pytest.mark.slow
def test_admin_serve_command_serves_grpc_and_http_with_auth_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'admin.db'}"
    tokens = tmp_path / "tokens"
    tokens.write_text("# the one token of this test\nsesame\n")
    command = [sys.executable, "-m", "flytecore.cli.main", "admin", "serve", "--port", str(port)]
    command += ["--http-port", str(http_port), "--db", db, "--storage", str(tmp_path / "store")]
    command += ["--auth-token-file", str(tokens)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLYTECORE_HOME": str(tmp_path / "home")},
    )
    try:
        wait_for_port(port, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            refused = rpc_error(lambda: stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10))
            domains = stub.GetDomains(
                project_pb2.GetDomainRequest(), metadata=(("authorization", "Bearer sesame"),), timeout=10
            )
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
        assert [d.id for d in domains.domains] == ["development", "staging", "production"]
        wait_for_port(http_port, process)
        health = f"http://127.0.0.1:{http_port}/healthcheck"
        with pytest.raises(urllib.error.HTTPError) as unauthorized:
            urllib.request.urlopen(health, timeout=10)
        assert unauthorized.value.code == 401
        unauthorized.value.close()
        request = urllib.request.Request(health, headers={"Authorization": "Bearer sesame"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert (answer.status, json.loads(answer.read())) == (200, {"status": "ok", "database": "ok"})
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"database: {db}" in out
    assert f"storage:  {tmp_path / 'store'}" in out
    assert f"auth:     bearer tokens from {tokens} (1 accepted)" in out
    assert f"gRPC: listening on 127.0.0.1:{port}" in out
    assert f"HTTP: listening on http://127.0.0.1:{http_port}" in out
    assert "admin stopped" in out
    assert not (tmp_path / "home").exists()  # nothing went to the defaults


def test_get_version_names_flytecore_and_when_the_admin_started(
    stub: admin_pb2_grpc.AdminServiceStub, admin_service: AdminService
) -> None:
    from importlib.metadata import version

    answer = stub.GetVersion(version_pb2.GetVersionRequest()).control_plane_version
    assert answer.Version == version("flytecore")
    assert answer.Build == "flytecore"
    assert answer.BuildTime == admin_service.started_at and answer.BuildTime.startswith("20")
