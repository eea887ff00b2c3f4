"""Bearer-token authentication of the admin's gRPC and HTTP servers (``--auth-token-file``).

Servers run on 127.0.0.1 with real sockets; clients are flyteidl's stubs and urllib. The signed
data URLs stay usable without a token: their signature is the credential.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flytecore.admin.auth import AuthConfigError, BearerTokens, load_tokens
from flytecore.cli.main import main
from tests.admin.servers import Admin, http, put, running_admin, upload_request

TOKEN = "s3cr3t-token-for-tests"
OTHER = "second-token"
GOOD = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    with running_admin(tmp_path, tokens=BearerTokens([TOKEN, OTHER])) as running:
        yield running


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# --- the token file -----------------------------------------------------------------------------------


def test_token_file_one_token_per_line_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# the CI robot\n{TOKEN}\n\n   \n  {OTHER}  \n# retired: old-token\n")
    tokens = load_tokens(path)
    assert len(tokens) == 2
    assert tokens.refusal(f"Bearer {TOKEN}") is None
    assert tokens.refusal(f"bearer {OTHER}") is None  # the scheme is case-insensitive (RFC 7235)
    assert tokens.refusal("Bearer old-token") == "the bearer token is not valid for this admin"
    assert tokens.refusal("Bearer # retired: old-token") is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "cannot read the auth token file"), ("", "has no token"), ("# only a comment\n\n", "has no token")],
)
def test_a_missing_or_empty_token_file_is_an_error(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / "tokens"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AuthConfigError, match=reason):
        load_tokens(path)


def test_refusals_say_what_is_wrong() -> None:
    tokens = BearerTokens([TOKEN])
    assert "authentication required" in str(tokens.refusal(None))
    assert "must be 'Bearer <token>'" in str(tokens.refusal(f"Basic {TOKEN}"))
    assert "must be 'Bearer <token>'" in str(tokens.refusal("Bearer "))
    assert tokens.refusal(f"Bearer {TOKEN}x") == "the bearer token is not valid for this admin"
    assert tokens.refusal(f"Bearer {TOKEN[:-1]}") == "the bearer token is not valid for this admin"


# --- gRPC ---------------------------------------------------------------------------------------------


def test_grpc_calls_need_a_valid_bearer_token(admin: Admin) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(admin.channel)
    request = project_pb2.GetDomainRequest()
    missing = rpc_error(lambda: stub.GetDomains(request, timeout=10))
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "/flyteidl.service.AdminService/GetDomains: authentication required" in missing.details()
    wrong = rpc_error(lambda: stub.GetDomains(request, metadata=(("authorization", "Bearer nope"),), timeout=10))
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "not valid" in wrong.details()
    basic = rpc_error(lambda: stub.GetDomains(request, metadata=(("authorization", f"Basic {TOKEN}"),), timeout=10))
    assert basic.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [d.id for d in stub.GetDomains(request, metadata=GOOD, timeout=10).domains][0] == "development"
    second = (("authorization", f"Bearer {OTHER}"),)
    assert stub.GetDomains(request, metadata=second, timeout=10).domains


def test_a_refused_call_never_reaches_the_service(admin: Admin) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(admin.channel)
    register = project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="sneaky"))
    assert rpc_error(lambda: stub.RegisterProject(register, timeout=10)).code() == grpc.StatusCode.UNAUTHENTICATED
    projects = stub.ListProjects(project_pb2.ProjectListRequest(), metadata=GOOD, timeout=10)
    assert [p.id for p in projects.projects] == ["flytesnacks"]


def test_the_grpc_health_service_needs_the_token_too(admin: Admin) -> None:
    health = health_pb2_grpc.HealthStub(admin.channel)
    err = rpc_error(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert health.Check(health_pb2.HealthCheckRequest(), metadata=GOOD, timeout=10).status == (
        health_pb2.HealthCheckResponse.SERVING
    )


# --- HTTP ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/healthcheck", "/metrics", "/no/such/page"])
def test_http_routes_need_a_valid_bearer_token(admin: Admin, route: str) -> None:
    missing = http("GET", admin.base + route)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "authentication required" in missing.text
    wrong = http("GET", admin.base + route, headers={"Authorization": "Bearer nope"})
    assert (wrong.status, wrong.text.strip()) == (401, "the bearer token is not valid for this admin")
    right = http("GET", admin.base + route, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == (404 if route == "/no/such/page" else 200)


def test_signed_urls_work_without_a_token_and_refusals_are_counted(admin: Admin) -> None:
    data = b"uploaded by flytekit without an Authorization header"
    proxy_call = lambda: admin.proxy.CreateUploadLocation(upload_request(data), timeout=10)  # noqa: E731
    assert rpc_error(proxy_call).code() == grpc.StatusCode.UNAUTHENTICATED  # asking for a URL needs the token
    location = admin.proxy.CreateUploadLocation(upload_request(data), metadata=GOOD, timeout=10)
    assert put(location.signed_url, data).status == 200
    assert admin.service.store.read_bytes(location.native_url) == data
    assert put(location.signed_url.replace("signature=", "signature=0"), data).status == 403  # still checked

    metrics = http("GET", f"{admin.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    refused = 'flytecore_admin_grpc_requests_total{code="UNAUTHENTICATED",method="/flyteidl.service.DataProxyService/CreateUploadLocation"} 1.0'
    assert refused in metrics


# --- the command line ---------------------------------------------------------------------------------


def serve_args(tmp_path: Path, *extra: str) -> list[str]:
    # Storage of a protocol nobody knows: the admin fails after its checks and messages, before
    # it would serve (and block); what these tests look at comes first.
    db = f"sqlite:///{tmp_path / 'admin.db'}"
    return ["admin", "serve", "--port", "0", "--http-port", "0", "--db", db, "--storage", "nosuchproto://x", *extra]


@pytest.mark.parametrize(("content", "reason"), [(None, "cannot read the auth token file"), ("# nobody\n", "has no token")])
def test_serve_refuses_a_missing_or_empty_token_file(tmp_path: Path, content: str | None, reason: str) -> None:
    tokens = tmp_path / "tokens"
    if content is not None:
        tokens.write_text(content)
    result = CliRunner().invoke(main, serve_args(tmp_path, "--auth-token-file", str(tokens)))
    assert result.exit_code == 1
    assert reason in result.output
    assert "listening" not in result.output


def test_serve_on_every_interface_without_tokens_warns(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, serve_args(tmp_path, "--host", "0.0.0.0"))
    assert result.exit_code == 1
    assert "auth:     none" in result.output
    assert "warning: listening on every interface (0.0.0.0) without --auth-token-file" in result.output
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    result = CliRunner().invoke(main, serve_args(tmp_path, "--host", "0.0.0.0", "--auth-token-file", str(tokens)))
    assert f"auth:     bearer tokens from {tokens} (1 accepted)" in result.output
    assert "warning" not in result.output
    assert "Protocol not known: nosuchproto" in result.output  # it failed where the test meant it to
