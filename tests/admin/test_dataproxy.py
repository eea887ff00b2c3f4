"""DataProxyService over gRPC: CreateUploadLocation, CreateDownloadLocation and CreateDownloadLink
against a running admin (real gRPC and HTTP servers on 127.0.0.1), with FlyteAdmin's semantics.

What the signed URLs then do on the HTTP server is in test_http.py; S3 storage is at the end.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, project_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2

from flytecore.admin.config import AdminConfig
from flytecore.admin.service import AdminService
from flytecore.admin.service.errors import FailedPreconditionError
from flytecore.spec.phases import NodeExecutionPhase
from tests.admin import test_storage
from tests.admin.servers import DOMAIN, PROJECT, Admin, md5_b64, md5_of, put, running_admin, upload_request
from tests.admin.test_grpc import pipeline, requests_for
from tests.admin.test_storage import BUCKET, s3_client

# The storage tests' moto server (a real S3 API on 127.0.0.1) and its environment.
moto_server = test_storage.moto_server
s3_endpoint = test_storage.s3_endpoint

DATA = b"print('hello from an upload')\n"


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    with running_admin(tmp_path) as running:
        yield running


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def stored(admin: Admin) -> list[str]:
    return admin.service.store.list_files()


# --- CreateUploadLocation -----------------------------------------------------------------------


def test_upload_location_is_content_addressed_under_the_storage_with_a_signed_url_to_the_http_server(
    admin: Admin,
) -> None:
    before = time.time()
    answer = admin.proxy.CreateUploadLocation(upload_request(DATA), timeout=10)
    after = time.time()
    root = base64.b32encode(md5_of(DATA)).decode()  # FlyteAdmin's key: base32 of the MD5
    assert answer.native_url == f"{admin.service.store.prefix}/data/{PROJECT}/{DOMAIN}/{root}/hello.txt"
    url = urllib.parse.urlsplit(answer.signed_url)
    assert f"{url.scheme}://{url.netloc}" == admin.base
    assert urllib.parse.unquote(url.path) == f"/data/meta/data/{PROJECT}/{DOMAIN}/{root}/hello.txt"
    query = urllib.parse.parse_qs(url.query)
    assert query["content_md5"] == [md5_b64(DATA)] and len(query["signature"][0]) == 64
    # No expires_in: the maximum, one hour (FlyteAdmin's default).
    assert before + 3600 - 1 <= answer.expires_at.seconds <= after + 3600
    assert int(query["expires"][0]) == answer.expires_at.seconds
    assert dict(answer.headers) == {"Content-MD5": md5_b64(DATA)}
    assert stored(admin) == []  # a location is only a promise


def test_filename_root_replaces_the_digest_and_expires_in_is_honoured(admin: Admin) -> None:
    request = upload_request(DATA, filename_root="fast-abc123", expires_in=duration_pb2.Duration(seconds=60))
    before = time.time()
    answer = admin.proxy.CreateUploadLocation(request, timeout=10)
    assert answer.native_url == f"{admin.service.store.prefix}/data/{PROJECT}/{DOMAIN}/fast-abc123/hello.txt"
    assert before + 60 - 1 <= answer.expires_at.seconds <= time.time() + 60


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"filename": ""}, "filename", "required"),
        ({"filename": "../../etc/passwd"}, "filename", "'..'"),
        ({"filename": ".."}, "filename", "'..'"),
        ({"filename": "/etc/passwd"}, "filename", "absolute path"),
        ({"filename": "C:\\x.txt"}, "filename", "absolute path"),
        ({"filename": "dir/file.txt"}, "filename", "path separator"),
        ({"filename": "a\\b"}, "filename", "path separator"),
        ({"filename": "tab\there"}, "filename", "control character"),
        ({"filename_root": "../other"}, "filename_root", "'..'"),
        ({"filename_root": "/abs"}, "filename_root", "absolute path"),
        ({"content_md5": b""}, "content_md5", "required"),
        ({"content_md5": b"short"}, "content_md5", "5 bytes"),
        ({"project": ""}, "project", "required"),
        ({"project": "../x"}, "project", "'../x'"),
        ({"domain": ""}, "domain", "required"),
        ({"org": "acme"}, "org", "not supported"),
        ({"expires_in": duration_pb2.Duration(seconds=7200)}, "expires_in", "exceeds the maximum of 1:00:00"),
        ({"expires_in": duration_pb2.Duration(seconds=-5)}, "expires_in", "must be positive"),
        ({"expires_in": duration_pb2.Duration(seconds=0)}, "expires_in", "must be positive"),
    ],
)
def test_bad_upload_requests_are_invalid_argument_naming_the_field(
    admin: Admin, fields: dict[str, Any], field: str, reason: str
) -> None:
    err = rpc_error(lambda: admin.proxy.CreateUploadLocation(upload_request(DATA, **fields), timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert field in err.details() and reason in err.details()
    assert stored(admin) == []


def test_unknown_project_or_domain_is_not_found(admin: Admin) -> None:
    err = rpc_error(lambda: admin.proxy.CreateUploadLocation(upload_request(DATA, project="nobody"), timeout=10))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in err.details()
    err = rpc_error(lambda: admin.proxy.CreateUploadLocation(upload_request(DATA, domain="qa"), timeout=10))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "domain 'qa' does not exist" in err.details()


def test_a_registered_project_can_receive_uploads(admin: Admin) -> None:
    admin.service.register_project(project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="team-a")))
    answer = admin.proxy.CreateUploadLocation(upload_request(DATA, project="team-a"), timeout=10)
    assert "/data/team-a/development/" in answer.native_url


def test_a_different_file_under_a_chosen_root_is_already_exists_the_same_file_may_come_again(admin: Admin) -> None:
    first = admin.proxy.CreateUploadLocation(upload_request(DATA, filename_root="fast-1"), timeout=10)
    assert put(first.signed_url, DATA).status == 200
    again = admin.proxy.CreateUploadLocation(upload_request(DATA, filename_root="fast-1"), timeout=10)
    assert again.native_url == first.native_url
    other = b"another file with the same name"
    err = rpc_error(lambda: admin.proxy.CreateUploadLocation(upload_request(other, filename_root="fast-1"), timeout=10))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "a different file is already stored" in err.details()
    assert admin.service.store.read_bytes(first.native_url) == DATA


def test_without_an_http_server_or_base_url_signing_is_failed_precondition(tmp_path: Path) -> None:
    service = AdminService.create(
        AdminConfig(db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=str(tmp_path / "store"))
    )
    with pytest.raises(FailedPreconditionError, match="HTTP server, which is not running"):
        service.create_upload_location(upload_request(DATA))


def test_a_configured_base_url_is_what_signed_urls_start_with(tmp_path: Path) -> None:
    with running_admin(tmp_path, http_base_url="https://flyte.example.com/admin/") as admin:
        answer = admin.proxy.CreateUploadLocation(upload_request(DATA), timeout=10)
    assert answer.signed_url.startswith("https://flyte.example.com/admin/data/meta/data/flytesnacks/")


def test_a_configured_signing_key_makes_urls_outlive_a_restart(tmp_path: Path) -> None:
    with running_admin(tmp_path, url_signing_key="k" * 32) as admin:
        answer = admin.proxy.CreateUploadLocation(upload_request(DATA), timeout=10)
        first_base = admin.base
    with running_admin(tmp_path, url_signing_key="k" * 32) as admin:
        # The URL names the first server's port; the path and signature are what the new one checks.
        url = answer.signed_url.replace(first_base, admin.base)
        assert put(url, DATA).status == 200
        assert admin.service.store.read_bytes(answer.native_url) == DATA
    with running_admin(tmp_path) as admin:  # a random key: the old URL is refused
        assert put(answer.signed_url.replace(first_base, admin.base), DATA).status == 403


# --- CreateDownloadLocation and CreateDownloadLink ------------------------------------------------


def test_download_location_signs_objects_of_the_storage_only(admin: Admin) -> None:
    store = admin.service.store
    inside = f"{store.raw_data_prefix}/flytesnacks/development/run-1/out.txt"
    store.write_bytes(inside, b"result")
    answer = admin.proxy.CreateDownloadLocation(dataproxy_pb2.CreateDownloadLocationRequest(native_url=inside), timeout=10)
    assert answer.signed_url.startswith(f"{admin.base}/data/raw/flytesnacks/development/run-1/out.txt?")
    for outside in ("/etc/passwd", "s3://someone-elses-bucket/x", f"{store.prefix}/../escape", store.prefix, ""):
        request = dataproxy_pb2.CreateDownloadLocationRequest(native_url=outside)
        err = rpc_error(lambda r=request: admin.proxy.CreateDownloadLocation(r, timeout=10))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, outside
        assert "native_url" in err.details()


def _execution_with_deck(admin: Admin, deck_uri: str) -> identifier_pb2.NodeExecutionIdentifier:
    """Register ``pipeline``, run it (QUEUED), and record node n0 with ``deck_uri`` as the propeller would."""
    tasks, wf_request = requests_for(pipeline)
    for task in tasks:
        admin.service.create_task(task)
    admin.service.create_workflow(wf_request)
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=pipeline.name, version="v1"
    )
    one = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    created = admin.service.create_execution(
        execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, name="deck-run", spec=execution_pb2.ExecutionSpec(launch_plan=lp),
            inputs=literals_pb2.LiteralMap(literals={"a": one, "b": one}),
        )
    )  # fmt: skip
    node = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=created.id)
    event = event_pb2.NodeExecutionEvent(
        id=node, phase=int(NodeExecutionPhase.RUNNING), deck_uri=deck_uri, spec_node_id="n0"
    )
    event.occurred_at.GetCurrentTime()
    admin.service.create_node_event(admin_event_pb2.NodeExecutionEventRequest(request_id="r", event=event))
    return node


def test_download_link_signs_a_node_executions_deck(admin: Admin) -> None:
    deck = f"{admin.service.store.raw_data_prefix}/flytesnacks/development/deck-run/n0/deck.html"
    admin.service.store.write_bytes(deck, b"<html>deck</html>")
    node = _execution_with_deck(admin, deck)
    request = dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=node)
    answer = admin.proxy.CreateDownloadLink(request, timeout=10)
    assert len(answer.signed_url) == 1 and list(answer.pre_signed_urls.signed_url) == list(answer.signed_url)
    assert answer.signed_url[0].startswith(f"{admin.base}/data/raw/flytesnacks/development/deck-run/n0/deck.html?")
    assert answer.pre_signed_urls.expires_at == answer.expires_at


def test_download_link_refusals(admin: Admin) -> None:
    node = _execution_with_deck(admin, "s3://not-this-admins-bucket/deck.html")
    deck = dataproxy_pb2.ARTIFACT_TYPE_DECK
    cases = [
        (dataproxy_pb2.CreateDownloadLinkRequest(node_execution_id=node), grpc.StatusCode.INVALID_ARGUMENT, "artifact_type"),
        (dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=deck), grpc.StatusCode.INVALID_ARGUMENT, "node_execution_id"),
        (
            dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=deck, node_execution_id=node),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not in the admin's storage",
        ),
    ]
    missing = identifier_pb2.NodeExecutionIdentifier(node_id="n9", execution_id=node.execution_id)
    cases.append(
        (dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=deck, node_execution_id=missing), grpc.StatusCode.NOT_FOUND, "n9")
    )
    for request, code, words in cases:
        err = rpc_error(lambda r=request: admin.proxy.CreateDownloadLink(r, timeout=10))
        assert (err.code(), words in err.details()) == (code, True), err.details()


# --- S3 storage -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_upload_through_the_admin_into_s3(tmp_path: Path, s3_endpoint: str) -> None:
    """Storage on S3 (moto on 127.0.0.1): the PUT lands in the bucket, byte for byte."""
    with running_admin(tmp_path, storage=f"s3://{BUCKET}/dataproxy-{tmp_path.name}") as admin:
        answer = admin.proxy.CreateUploadLocation(upload_request(DATA), timeout=10)
        assert answer.native_url.startswith(f"s3://{BUCKET}/dataproxy-{tmp_path.name}/data/flytesnacks/development/")
        assert put(answer.signed_url, b"not the file").status == 400
        assert put(answer.signed_url, DATA).status == 200
    key = answer.native_url.removeprefix(f"s3://{BUCKET}/")
    listed = s3_client(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"dataproxy-{tmp_path.name}/")
    assert [o["Key"] for o in listed.get("Contents", [])] == [key]  # the refused upload left nothing
    assert s3_client(s3_endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read() == DATA
