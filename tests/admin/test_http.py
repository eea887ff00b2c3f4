"""The admin's HTTP server: /healthcheck, /metrics and the signed upload and download URLs,
over real sockets (urllib against the aiohttp server beside the gRPC server on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2
from google.protobuf import duration_pb2
from prometheus_client.parser import text_string_to_metric_families

from flytecore.admin.grpc import ServerStartError, start_in_thread
from tests.admin.servers import Admin, http, md5_b64, put, running_admin, upload_request

DATA = b"a file flytekit uploads: " + bytes(range(256)) * 64


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    with running_admin(tmp_path) as running:
        yield running


def files_under(folder: Path) -> list[str]:
    """Every file in a folder, temporary ones included: a refused upload must leave none."""
    return sorted(str(Path(d, f).relative_to(folder)) for d, _, names in os.walk(folder) for f in names)


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(changes)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def upload_url(admin: Admin, data: bytes = DATA, **fields: object) -> dataproxy_pb2.CreateUploadLocationResponse:
    return admin.proxy.CreateUploadLocation(upload_request(data, **fields), timeout=10)


def download_url(admin: Admin, native_url: str) -> str:
    request = dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    return str(admin.proxy.CreateDownloadLocation(request, timeout=10).signed_url)


# --- health -------------------------------------------------------------------------------------------


def test_healthcheck_is_200_once_the_database_answers(admin: Admin) -> None:
    answer = http("GET", f"{admin.base}/healthcheck")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert json.loads(answer.body) == {"status": "ok", "database": "ok"}


def test_healthcheck_is_503_saying_why_when_the_database_does_not_answer(tmp_path: Path) -> None:
    with running_admin(tmp_path) as admin:
        assert http("GET", f"{admin.base}/healthcheck").status == 200
        for name in ("admin.db", "admin.db-wal", "admin.db-shm"):  # SQLite in WAL mode: all three
            if (tmp_path / name).exists():
                with open(tmp_path / name, "r+b") as f:
                    f.write(b"not a database any more " * 200)
        answer = http("GET", f"{admin.base}/healthcheck")
    assert answer.status == 503
    body = json.loads(answer.body)
    assert body["status"] == "unavailable"
    assert "file is not a database" in body["database"]


def test_an_unknown_path_is_404(admin: Admin) -> None:
    assert http("GET", f"{admin.base}/no/such/page").status == 404
    assert http("POST", f"{admin.base}/healthcheck").status == 405


# --- uploads and downloads ---------------------------------------------------------------------------


def test_upload_with_the_right_content_md5_stores_the_bytes_and_a_download_link_returns_them(admin: Admin) -> None:
    location = upload_url(admin)
    answer = put(location.signed_url, DATA)
    assert answer.status == 200, answer.text
    assert answer.headers["ETag"].strip('"') == __import__("hashlib").md5(DATA).hexdigest()
    store = admin.service.store
    assert store.read_bytes(location.native_url) == DATA
    assert store.list_files() == [location.native_url]

    url = download_url(admin, location.native_url)
    got = http("GET", url)
    assert (got.status, got.body) == (200, DATA)
    assert got.headers["Content-Type"].startswith("text/plain")  # from the name, hello.txt
    assert got.headers["Content-Security-Policy"] == "sandbox"
    head = http("HEAD", url)
    assert (head.status, head.headers["Content-Length"], head.body) == (200, str(len(DATA)), b"")


def test_a_content_md5_header_other_than_the_signed_one_is_400_and_stores_nothing(admin: Admin, tmp_path: Path) -> None:
    location = upload_url(admin)
    other = md5_b64(b"something else")
    answer = put(location.signed_url, b"something else", content_md5=other)
    assert answer.status == 400
    assert f"Content-MD5 header {other} does not match the MD5 this URL was signed for ({md5_b64(DATA)})" in answer.text
    assert files_under(tmp_path / "store") == []


def test_a_body_that_is_not_the_content_md5_is_400_and_stores_nothing(admin: Admin, tmp_path: Path) -> None:
    location = upload_url(admin)
    answer = put(location.signed_url, DATA[:-1], content_md5=md5_b64(DATA))  # one byte short
    assert answer.status == 400
    assert f"{len(DATA) - 1} bytes received" in answer.text and "nothing was stored" in answer.text
    assert files_under(tmp_path / "store") == []  # not even a temporary file
    assert put(location.signed_url, DATA).status == 200  # the URL still works for the real file


def test_content_md5_is_required(admin: Admin, tmp_path: Path) -> None:
    location = upload_url(admin)
    answer = http("PUT", location.signed_url, DATA)
    assert answer.status == 400
    assert "the Content-MD5 header is required" in answer.text
    assert http("PUT", location.signed_url, DATA, {"Content-MD5": "not base64!"}).status == 400
    assert files_under(tmp_path / "store") == []


def test_a_tampered_url_is_403_and_stores_nothing(admin: Admin, tmp_path: Path) -> None:
    url = upload_url(admin).signed_url
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = {
        "signature": with_query(url, signature=flipped),
        "path": url.replace("hello.txt", "evil.txt"),
        "expires": with_query(url, expires=str(int(time.time()) + 10**6)),
        "md5": with_query(url, content_md5=md5_b64(b"evil")),
        "no signature": url.split("&signature=")[0],
    }
    for what, bad in tampered.items():
        answer = put(bad, DATA if what != "md5" else b"evil")
        assert answer.status == 403, what
        assert "signature" in answer.text or "signed" in answer.text, what
    assert files_under(tmp_path / "store") == []


def test_a_url_signed_for_one_method_is_refused_for_the_other(admin: Admin) -> None:
    location = upload_url(admin)
    assert http("GET", location.signed_url).status == 403  # an upload URL reads nothing
    assert put(location.signed_url, DATA).status == 200
    download = download_url(admin, location.native_url)
    assert put(download, b"overwrite").status == 403  # a download URL writes nothing
    assert admin.service.store.read_bytes(location.native_url) == DATA


def test_an_expired_url_is_410_and_stores_nothing(admin: Admin, tmp_path: Path) -> None:
    signer = admin.service.url_signer
    location = upload_url(admin, expires_in=duration_pb2.Duration(seconds=60))
    real_clock = signer.clock
    signer.clock = lambda: real_clock() + 61  # a minute and a second later
    try:
        answer = put(location.signed_url, DATA)
    finally:
        signer.clock = real_clock
    assert answer.status == 410
    assert "the URL expired at" in answer.text and "ask the admin for a new one" in answer.text
    assert files_under(tmp_path / "store") == []


def test_downloading_what_was_never_uploaded_is_404(admin: Admin) -> None:
    location = upload_url(admin)
    answer = http("GET", download_url(admin, location.native_url))
    assert answer.status == 404
    assert "hello.txt" in answer.text


def test_a_served_object_without_storage_has_health_but_no_data_urls() -> None:
    running = start_in_thread(object())
    try:
        health = http("GET", f"{running.http_url}/healthcheck")
        data = http("PUT", f"{running.http_url}/data/meta/x?expires=1&signature=x", b"", {"Content-MD5": md5_b64(b"")})
    finally:
        running.stop()
    assert (health.status, json.loads(health.body)["database"]) == (200, "not used")
    assert data.status == 501


# --- metrics ------------------------------------------------------------------------------------------


def sample(admin: Admin, name: str, **labels: str) -> float:
    """The value of one series in the admin's /metrics (0 if it does not exist yet)."""
    answer = http("GET", f"{admin.base}/metrics")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


GET_DOMAINS = "/flyteidl.service.AdminService/GetDomains"
GET_PROJECT = "/flyteidl.service.AdminService/GetProject"


def test_metrics_count_and_time_every_grpc_call_and_http_request(admin: Admin) -> None:
    stub = admin_pb2_grpc.AdminServiceStub(admin.channel)
    ok = {"method": GET_DOMAINS, "code": "OK"}
    missing = {"method": GET_PROJECT, "code": "NOT_FOUND"}
    health = {"method": "GET", "route": "/healthcheck", "status": "200"}
    upload = {"method": "PUT", "route": "/data/{area}/{key}", "status": "200"}
    before = {
        "ok": sample(admin, "flytecore_admin_grpc_requests_total", **ok),
        "missing": sample(admin, "flytecore_admin_grpc_requests_total", **missing),
        "health": sample(admin, "flytecore_admin_http_requests_total", **health),
        "upload": sample(admin, "flytecore_admin_http_requests_total", **upload),
    }
    stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10)
    stub.GetDomains(project_pb2.GetDomainRequest(), timeout=10)
    with pytest.raises(grpc.RpcError):
        stub.GetProject(project_pb2.ProjectGetRequest(id="nobody"), timeout=10)
    http("GET", f"{admin.base}/healthcheck")
    assert put(upload_url(admin).signed_url, DATA).status == 200

    assert sample(admin, "flytecore_admin_grpc_requests_total", **ok) == before["ok"] + 2
    assert sample(admin, "flytecore_admin_grpc_requests_total", **missing) == before["missing"] + 1
    assert sample(admin, "flytecore_admin_http_requests_total", **health) == before["health"] + 1
    assert sample(admin, "flytecore_admin_http_requests_total", **upload) == before["upload"] + 1
    # Latency histograms: every call falls in the +Inf bucket, and the finer buckets exist.
    count = sample(admin, "flytecore_admin_grpc_request_duration_seconds_count", **ok)
    assert count == before["ok"] + 2
    assert sample(admin, "flytecore_admin_grpc_request_duration_seconds_bucket", le="+Inf", **ok) == count
    assert sample(admin, "flytecore_admin_grpc_request_duration_seconds_bucket", le="30.0", **ok) == count
    buckets = sample(admin, "flytecore_admin_http_request_duration_seconds_bucket", le="+Inf", **upload)
    assert buckets == before["upload"] + 1
    assert sample(admin, "flytecore_admin_start_time_seconds") > 0


def test_each_admin_has_its_own_metrics(tmp_path: Path) -> None:
    with running_admin(tmp_path / "a") as first, running_admin(tmp_path / "b") as second:
        admin_pb2_grpc.AdminServiceStub(first.channel).GetDomains(project_pb2.GetDomainRequest(), timeout=10)
        labels = {"method": GET_DOMAINS, "code": "OK"}
        assert sample(first, "flytecore_admin_grpc_requests_total", **labels) == 1
        assert sample(second, "flytecore_admin_grpc_requests_total", **labels) == 0


# --- the server's life cycle -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_taken_port_of_either_server_is_refused_and_leaves_nothing_listening() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        grpc_port = free_port()
        with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{port} for HTTP.*--http-port"):
            start_in_thread(object(), grpc_port, http_port=port)
        assert not listening(grpc_port)
        http_port = free_port()
        with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{port}: .*--port"):
            start_in_thread(object(), port, http_port=http_port)
        assert not listening(http_port)  # the HTTP server, started first, was stopped


def test_http_can_be_left_off_and_the_old_tuple_still_unpacks() -> None:
    running = start_in_thread(object(), http_port=None)
    port, stop = running
    try:
        assert (running.http_port, running.http_url, port) == (None, None, running.grpc_port)
    finally:
        stop()
