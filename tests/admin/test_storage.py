"""The admin's metadata store (flytecore.admin.storage) on a local folder, a ``file://`` URL,
``memory://`` and a real S3 API: a moto server on 127.0.0.1 spoken to by s3fs.

Every behaviour test runs on all four backends; tests of what only one backend can show
(atomic local renames, bytes as boto3 sees them, fsspec configuration) say so in their name.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import stat
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from flyteidl.core import compiler_pb2, errors_pb2, literals_pb2

from flytecore import spec, task, workflow
from flytecore.admin.storage import (
    AtomicWriter,
    ErrorDocument,
    InvalidStoragePath,
    MetadataStore,
    StorageNotFound,
)
from flytecore.errors import ConversionError, FlyteCoreError
from flytecore.plugin import StorageBackend, hookimpl, make_plugin_host, use_host
from flytecore.sdk.serialize import compile_entity
from flytecore.spec.idl import to_idl

BACKENDS = ("local", "file-url", "memory", "s3")
BUCKET = "flytecore-test"

WF_ID = spec.Identifier(
    resource_type=spec.ResourceType.WORKFLOW,
    project="flytesnacks",
    domain="development",
    name="wf.add",
    version="v1",
)
EXEC_ID = spec.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="abc123")
NODE_ID = spec.NodeExecutionIdentifier(node_id="n0", execution_id=EXEC_ID)
TASK_EXEC_ID = spec.TaskExecutionIdentifier(task_id=WF_ID, node_execution_id=NODE_ID, retry_attempt=2)


def literal_map(**values: int) -> spec.LiteralMap:
    return spec.LiteralMap(literals={k: spec.scalar_literal(integer=v) for k, v in values.items()})


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def add_wf(a: int, b: int = 2) -> int:
    return add(a=a, b=b)


@pytest.fixture(scope="module")
def closure() -> spec.CompiledWorkflowClosure:
    """A real compiled closure: the SDK's workflow through the compiler."""
    return compile_entity(add_wf)


# --- backends -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3 API (moto) on 127.0.0.1 with one bucket; yields its URL."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is in the 'test' extra")
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs", reason="s3fs[boto3] is in the 's3' and 'test' extras")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # Explicit dummy credentials: the bucket is made before any test's environment exists.
        boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials and region; no profile or config file of the machine leaks in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Region from the environment, never from client_kwargs (RECIPES.md: bucket calls break).
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The moto server, made the S3 endpoint the standard AWS way (AWS_ENDPOINT_URL)."""
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def forget_memory(path: str) -> None:
    """Remove a test's folder from the process-wide memory:// store (if it wrote anything)."""
    fs = fsspec.filesystem("memory")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def backend_prefix(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty prefix on backend ``kind``."""
    unique = uuid.uuid4().hex
    if kind == "local":
        return str(tmp_path / "store")
    if kind == "file-url":
        return f"file://{tmp_path}/store"
    if kind == "memory":
        # memory:// is one store per process: a unique top folder keeps tests apart.
        prefix = f"memory://flytecore-test-{unique}"
        request.addfinalizer(lambda: forget_memory(f"/flytecore-test-{unique}"))
        return prefix
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{unique}"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataStore:
    return MetadataStore(backend_prefix(request.param, request, tmp_path))


@pytest.fixture(params=("local", "file-url"))
def local_store(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataStore:
    return MetadataStore(backend_prefix(request.param, request, tmp_path))


def rel(store: MetadataStore, uri: str) -> str:
    assert uri.startswith(store.prefix + "/"), uri
    return uri[len(store.prefix) + 1 :]


def local_path(uri: str) -> str:
    return uri.removeprefix("file://")


# --- layout ---------------------------------------------------------------------------------------


def test_uri_builders_follow_the_layout(store: MetadataStore) -> None:
    execution = "metadata/flytesnacks/development/executions/abc123"
    assert rel(store, store.workflow_closure_uri(WF_ID)) == (
        "metadata/flytesnacks/development/workflows/wf.add/v1/closure.pb"
    )
    assert rel(store, store.execution_prefix(EXEC_ID)) == execution
    assert rel(store, store.execution_inputs_uri(EXEC_ID)) == f"{execution}/inputs.pb"
    assert rel(store, store.execution_user_inputs_uri(EXEC_ID)) == f"{execution}/user_inputs.pb"
    assert rel(store, store.execution_outputs_uri(EXEC_ID)) == f"{execution}/outputs.pb"
    assert rel(store, store.node_prefix(NODE_ID)) == f"{execution}/nodes/n0"
    assert rel(store, store.node_inputs_uri(NODE_ID)) == f"{execution}/nodes/n0/inputs.pb"
    assert rel(store, store.node_outputs_uri(NODE_ID)) == f"{execution}/nodes/n0/outputs.pb"
    assert rel(store, store.task_output_prefix(TASK_EXEC_ID)) == f"{execution}/nodes/n0/2"
    assert rel(store, store.task_outputs_uri(TASK_EXEC_ID)) == f"{execution}/nodes/n0/2/outputs.pb"
    assert rel(store, store.task_error_uri(TASK_EXEC_ID)) == f"{execution}/nodes/n0/2/error.pb"
    assert store.raw_data_prefix == f"{store.prefix}/raw"
    assert rel(store, store.raw_output_prefix(EXEC_ID)) == "raw/flytesnacks/development/abc123"


def test_local_prefixes_become_absolute_and_keep_their_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert MetadataStore("rel/store").prefix == str(tmp_path / "rel" / "store")
    assert MetadataStore(tmp_path / "p").prefix == str(tmp_path / "p")
    assert MetadataStore(f"file://{tmp_path}/p/").prefix == f"file://{tmp_path}/p"
    store = MetadataStore(f"file://{tmp_path}/p")
    assert store.execution_inputs_uri(EXEC_ID).startswith(f"file://{tmp_path}/p/metadata/")


@pytest.mark.parametrize("prefix", ["", "memory://", "s3://", "s3:///"])
def test_a_prefix_must_name_a_folder_or_bucket(prefix: str) -> None:
    with pytest.raises(InvalidStoragePath, match="prefix"):
        MetadataStore(prefix)


def test_raw_data_prefix_may_live_elsewhere_even_on_another_protocol(tmp_path: Path) -> None:
    raw = f"memory://flytecore-raw-{uuid.uuid4().hex}"
    store = MetadataStore(tmp_path / "meta", raw_data_prefix=raw + "/")
    try:
        assert store.raw_data_prefix == raw
        raw_exec = store.raw_output_prefix(EXEC_ID)
        assert raw_exec == f"{raw}/flytesnacks/development/abc123"
        store.write_bytes(f"{raw_exec}/a/blob.bin", b"raw bytes")
        store.write_literal_map(store.execution_inputs_uri(EXEC_ID), literal_map(a=1))
        assert store.read_bytes(f"{raw_exec}/a/blob.bin") == b"raw bytes"
        assert store.list_files() == sorted([f"{raw_exec}/a/blob.bin", store.execution_inputs_uri(EXEC_ID)])
        assert store.list_files(raw_exec) == [f"{raw_exec}/a/blob.bin"]
    finally:
        forget_memory(raw.removeprefix("memory:/"))


# --- typed reads and writes -----------------------------------------------------------------------


def test_closure_round_trips_and_is_flyteidl(
    store: MetadataStore, closure: spec.CompiledWorkflowClosure
) -> None:
    uri = store.write_closure(WF_ID, closure)
    assert uri == store.workflow_closure_uri(WF_ID)
    assert store.read_closure(uri) == closure
    # Readable by flyteidl itself, byte for byte what the bridge makes.
    msg = compiler_pb2.CompiledWorkflowClosure.FromString(store.read_bytes(uri))
    assert msg == to_idl(closure)
    assert [t.template.id.name for t in msg.tasks] == [t.template.id.name for t in closure.tasks]
    assert store.list_files() == [uri]


def test_literal_maps_round_trip_and_are_flyteidl(store: MetadataStore) -> None:
    uris = [
        store.execution_inputs_uri(EXEC_ID),
        store.execution_user_inputs_uri(EXEC_ID),
        store.execution_outputs_uri(EXEC_ID),
        store.node_inputs_uri(NODE_ID),
        store.node_outputs_uri(NODE_ID),
        store.task_outputs_uri(TASK_EXEC_ID),
    ]
    for i, uri in enumerate(uris):
        store.write_literal_map(uri, literal_map(a=i, b=100 + i))
    for i, uri in enumerate(uris):
        assert store.read_literal_map(uri) == literal_map(a=i, b=100 + i)
        parsed = literals_pb2.LiteralMap.FromString(store.read_bytes(uri))
        assert parsed.literals["a"].scalar.primitive.integer == i
        assert parsed.literals["b"].scalar.primitive.integer == 100 + i
    assert store.list_files() == sorted(uris)


def test_writing_again_replaces_the_file(store: MetadataStore) -> None:
    uri = store.execution_outputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=1, b=2, c=3))
    store.write_literal_map(uri, literal_map(z=9))
    assert store.read_literal_map(uri) == literal_map(z=9)
    assert store.list_files() == [uri]


def test_write_all_writes_every_document_or_refuses_before_writing(store: MetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, user_inputs = store.execution_inputs_uri(EXEC_ID), store.execution_user_inputs_uri(EXEC_ID)
    store.write_all({inputs: b"merged", user_inputs: b"given"})
    assert (store.read_bytes(inputs), store.read_bytes(user_inputs)) == (b"merged", b"given")
    store.write_all({inputs: b"merged again"})  # replaces, as write_bytes does
    assert store.read_bytes(inputs) == b"merged again"
    before = store.list_files()
    with pytest.raises(InvalidStoragePath):  # a URI outside the store: nothing written
        store.write_all({user_inputs: b"x", "file:///etc/passwd": b"x"})
    with pytest.raises(TypeError, match="needs bytes"):
        store.write_all({user_inputs: b"x", inputs: "text"})  # type: ignore[dict-item]
    assert store.list_files() == before and store.read_bytes(user_inputs) == b"given"
    if inputs.startswith(("/", "file://")):
        # A flush that fails: no file replaced, no temporary file left.
        import flytecore.admin.storage as storage

        def failing(fds: list[int]) -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(storage, "_fsync_together", failing)
        with pytest.raises(OSError, match="disk gone"):
            store.write_all({inputs: b"new", user_inputs: b"new"})
        assert (store.read_bytes(inputs), store.read_bytes(user_inputs)) == (b"merged again", b"given")
        assert store.list_files() == before


def test_error_document_round_trips_and_is_flyteidl(store: MetadataStore) -> None:
    uri = store.task_error_uri(TASK_EXEC_ID)
    doc = ErrorDocument(code="USER:ValueError", message="boom", origin=spec.ErrorKind.USER, recoverable=True)
    store.write_error_document(uri, doc)
    assert store.read_error_document(uri) == doc
    parsed = errors_pb2.ErrorDocument.FromString(store.read_bytes(uri))
    assert (parsed.error.code, parsed.error.message) == ("USER:ValueError", "boom")
    assert parsed.error.kind == errors_pb2.ContainerError.RECOVERABLE
    assert doc.to_execution_error(uri) == spec.ExecutionError(
        code="USER:ValueError", message="boom", error_uri=uri, kind=spec.ErrorKind.USER
    )


def test_reads_an_error_document_written_by_flyteidl_directly(store: MetadataStore) -> None:
    """What a flytekit task container writes when it fails with a system error."""
    uri = store.task_error_uri(TASK_EXEC_ID)
    written = errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code="SYSTEM:OOM", message="killed", kind=errors_pb2.ContainerError.NON_RECOVERABLE, origin=2
        )
    )
    store.write_bytes(uri, written.SerializeToString())
    assert store.read_error_document(uri) == ErrorDocument(
        code="SYSTEM:OOM", message="killed", origin=spec.ErrorKind.SYSTEM, recoverable=False
    )


def test_garbage_is_a_conversion_error_naming_the_file(store: MetadataStore) -> None:
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_bytes(uri, b"\xff\xff\xff not a protobuf")
    for read in (store.read_literal_map, store.read_closure, store.read_error_document):
        with pytest.raises(ConversionError, match=uri.replace(".", r"\.")):
            read(uri)


def test_wrong_values_are_refused_before_anything_is_written(store: MetadataStore) -> None:
    with pytest.raises(ConversionError):
        store.write_literal_map(store.execution_inputs_uri(EXEC_ID), {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ConversionError):
        store.write_closure(WF_ID, literal_map(a=1))  # type: ignore[arg-type]
    with pytest.raises(ConversionError):
        store.write_error_document(store.task_error_uri(TASK_EXEC_ID), "boom")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.write_bytes(store.execution_inputs_uri(EXEC_ID), "text")  # type: ignore[arg-type]
    assert store.list_files() == []


# --- files and folders ----------------------------------------------------------------------------


def test_missing_files_are_storage_not_found(store: MetadataStore) -> None:
    uri = store.execution_outputs_uri(EXEC_ID)
    assert not store.exists(uri)
    for call in (store.read_bytes, store.read_literal_map, store.read_closure, store.size, store.open):
        with pytest.raises(StorageNotFound, match="outputs.pb") as info:
            call(uri)
        assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, FlyteCoreError)
        assert info.value.uri == uri


def test_exists_and_size(store: MetadataStore) -> None:
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=1, b=2))
    assert store.exists(uri)
    assert store.exists(store.execution_prefix(EXEC_ID))  # a folder (a prefix in object stores)
    name_prefix = spec.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="abc")
    assert not store.exists(store.execution_prefix(name_prefix))  # "abc" is only a prefix of "abc123"
    assert store.size(uri) == len(store.read_bytes(uri)) > 0
    with pytest.raises(StorageNotFound, match="folder"):
        store.size(store.node_prefix(NODE_ID).rsplit("/nodes", 1)[0])


def test_open_reads_and_writes_atomically(store: MetadataStore) -> None:
    uri = store.upload_location("flytesnacks", "development", "script.tar.gz", md5_b64(b"v1"))
    with store.open(uri, "wb") as f:
        assert isinstance(f, AtomicWriter)
        f.write(b"v1-")
        f.writelines([b"part", b"s"])
        assert f.tell() == 8
        assert not store.exists(uri)  # nothing shows before close
    assert f.closed
    with store.open(uri) as r:
        assert r.read() == b"v1-parts"

    # An exception inside the block: the old file stays, nothing else appears.
    before = store.list_files()
    with pytest.raises(RuntimeError, match="client went away"):
        with store.open(uri, "wb") as f:
            f.write(b"half of v2")
            raise RuntimeError("client went away")
    assert store.read_bytes(uri) == b"v1-parts"
    assert store.list_files() == before

    writer = store.open(uri, "wb")
    writer.write(b"never")
    writer.abort()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    assert store.read_bytes(uri) == b"v1-parts"
    assert store.list_files() == before

    with pytest.raises(ValueError, match="'rb' and 'wb'"):
        store.open(uri, "a")  # type: ignore[call-overload]


def test_delete_prefix_deletes_one_execution_only(store: MetadataStore) -> None:
    other = spec.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="abc1234")
    kept = [store.execution_inputs_uri(other), store.raw_output_prefix(other) + "/blob"]
    for uri in kept:
        store.write_bytes(uri, b"keep")
    doomed = store.execution_prefix(EXEC_ID)
    store.write_literal_map(store.execution_inputs_uri(EXEC_ID), literal_map(a=1))
    store.write_literal_map(store.task_outputs_uri(TASK_EXEC_ID), literal_map(a=2))

    store.delete_prefix(doomed)
    assert not store.exists(doomed)
    assert store.list_files() == sorted(kept)  # "abc1234" shares a name prefix with "abc123"
    store.delete_prefix(doomed)  # nothing there: not an error
    store.delete_prefix(kept[1])  # a single file
    assert store.list_files() == [kept[0]]


def test_delete_prefix_never_deletes_a_whole_prefix(store: MetadataStore) -> None:
    store.write_bytes(store.execution_inputs_uri(EXEC_ID), b"x")
    store.write_bytes(store.raw_output_prefix(EXEC_ID) + "/blob", b"y")
    before = store.list_files()
    for uri in (store.prefix, store.prefix + "/", store.raw_data_prefix):
        with pytest.raises(InvalidStoragePath, match="whole store prefix"):
            store.delete_prefix(uri)
    assert store.list_files() == before


def test_list_files_of_nothing_is_empty(store: MetadataStore) -> None:
    assert store.list_files() == []
    assert store.list_files(store.execution_prefix(EXEC_ID)) == []


# --- upload locations -----------------------------------------------------------------------------


def test_upload_location_is_content_addressed(store: MetadataStore) -> None:
    body = b"print('hello')\n"
    digest = md5_b64(body)
    uri = store.upload_location("flytesnacks", "development", "hello.py", digest)
    assert rel(store, uri) == f"data/flytesnacks/development/{hashlib.md5(body).hexdigest()}/hello.py"
    assert store.upload_location("flytesnacks", "development", "hello.py", digest) == uri
    assert store.upload_location("flytesnacks", "development", "hello.py", md5_b64(b"other")) != uri
    assert store.upload_location("flytesnacks", "staging", "hello.py", digest) != uri
    rooted = store.upload_location("flytesnacks", "development", "hello.py", digest, filename_root="fast-abc")
    assert rel(store, rooted) == "data/flytesnacks/development/fast-abc/hello.py"

    with store.open(uri, "wb") as f:
        f.write(body)
    assert store.read_bytes(uri) == body and store.size(uri) == len(body)


@pytest.mark.parametrize(
    "digest, reason",
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "5 bytes"),
        (b"\x00" * 16, "string"),
    ],
)
def test_upload_location_refuses_a_bad_digest(store: MetadataStore, digest: Any, reason: str) -> None:
    with pytest.raises(InvalidStoragePath, match=reason) as info:
        store.upload_location("flytesnacks", "development", "f.txt", digest)
    assert info.value.component == "content_md5"


# --- invalid path components ----------------------------------------------------------------------

BAD_COMPONENTS = ["", ".", "..", "a/b", "../etc", "a..b", "a\\b", "a\x00b", "tab\there", "x" * 256]


def _with(ident: Any, **changes: Any) -> Any:
    import attrs

    return attrs.evolve(ident, **changes)


WRITES: dict[str, Callable[[MetadataStore, Any, spec.CompiledWorkflowClosure], Any]] = {
    # component -> a write whose path contains the bad value
    "project": lambda s, bad, c: s.write_closure(_with(WF_ID, project=bad), c),
    "domain": lambda s, bad, c: s.write_literal_map(
        s.execution_inputs_uri(_with(EXEC_ID, domain=bad)), literal_map()
    ),
    "workflow name": lambda s, bad, c: s.write_closure(_with(WF_ID, name=bad), c),
    "workflow version": lambda s, bad, c: s.write_closure(_with(WF_ID, version=bad), c),
    "execution name": lambda s, bad, c: s.write_literal_map(
        s.execution_outputs_uri(_with(EXEC_ID, name=bad)), literal_map()
    ),
    "node_id": lambda s, bad, c: s.write_literal_map(
        s.node_inputs_uri(_with(NODE_ID, node_id=bad)), literal_map()
    ),
    "filename": lambda s, bad, c: s.open(s.upload_location("p", "d", bad, md5_b64(b"")), "wb").close(),
    "filename_root": lambda s, bad, c: s.write_bytes(
        s.upload_location("p", "d", "f", md5_b64(b""), filename_root=bad), b""
    ),
}


@pytest.mark.parametrize("component", sorted(WRITES))
def test_invalid_path_components_are_refused_and_nothing_is_written(
    store: MetadataStore, closure: spec.CompiledWorkflowClosure, component: str
) -> None:
    store.write_bytes(store.execution_inputs_uri(EXEC_ID), b"already here")
    before = store.list_files()
    for bad in BAD_COMPONENTS:
        with pytest.raises(InvalidStoragePath) as info:
            WRITES[component](store, bad, closure)
        assert info.value.component == component and info.value.value == bad
        assert component in str(info.value) and isinstance(info.value, FlyteCoreError | ValueError)
    assert store.list_files() == before


def test_retry_attempts_org_and_missing_ids_are_refused(store: MetadataStore) -> None:
    for bad in (-1, True, "1", 1.0):
        with pytest.raises(InvalidStoragePath, match="retry_attempt"):
            store.write_literal_map(
                store.task_outputs_uri(_with(TASK_EXEC_ID, retry_attempt=bad)), literal_map()
            )
    with pytest.raises(InvalidStoragePath, match="org"):
        store.write_closure(_with(WF_ID, org="acme"), None)  # type: ignore[arg-type]
    with pytest.raises(InvalidStoragePath, match="org"):
        store.raw_output_prefix(_with(EXEC_ID, org="acme"))
    with pytest.raises(InvalidStoragePath, match="execution_id.*missing"):
        store.node_inputs_uri(spec.NodeExecutionIdentifier(node_id="n0"))
    with pytest.raises(InvalidStoragePath, match="node_execution_id.*missing"):
        store.task_outputs_uri(spec.TaskExecutionIdentifier(retry_attempt=0))
    with pytest.raises(TypeError, match="WorkflowExecutionIdentifier"):
        store.execution_inputs_uri(WF_ID)  # type: ignore[arg-type]
    assert store.list_files() == []


def test_uris_outside_the_store_are_refused(store: MetadataStore, tmp_path: Path) -> None:
    inside = store.execution_inputs_uri(EXEC_ID)
    store.write_bytes(inside, b"x")
    before = store.list_files()
    outside = [
        str(tmp_path / "elsewhere" / "inputs.pb"),
        "memory://somewhere-else/inputs.pb",
        f"s3://{BUCKET}-other/inputs.pb",
        store.prefix + "-sibling/inputs.pb",  # shares the prefix's name, is not inside it
        f"{store.prefix}/metadata/../../escaped.pb",
        f"{store.prefix}/./metadata/x.pb",
        f"{store.prefix}/metadata//x.pb",
        "",
        inside + "\x00",
    ]
    for uri in outside:
        with pytest.raises(InvalidStoragePath) as info:
            store.write_bytes(uri, b"evil")
        assert info.value.component == "uri"
        for call in (store.read_bytes, store.exists, store.delete_prefix, store.list_files):
            with pytest.raises(InvalidStoragePath):
                call(uri)
    assert store.list_files() == before
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "escaped.pb").exists()


# --- atomic writes on local folders ---------------------------------------------------------------


class _DiskFullHalfway:
    """A file that writes half of what it is given, then fails like a full disk."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def write(self, data: bytes) -> int:
        self._file.write(data[: len(data) // 2])
        self._file.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def test_a_write_failing_midway_leaves_the_old_file_intact(
    local_store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local_store
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=1))
    old = store.read_bytes(uri)
    before = store.list_files()

    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _DiskFullHalfway(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="No space left"):
        store.write_literal_map(uri, literal_map(a=2, b=3, c=4))
    monkeypatch.undo()

    assert store.read_bytes(uri) == old
    assert literals_pb2.LiteralMap.FromString(Path(local_path(uri)).read_bytes()) == to_idl(literal_map(a=1))
    assert store.list_files() == before  # the temporary file was removed


def test_a_failing_rename_or_fsync_leaves_the_old_file_intact(
    local_store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local_store
    uri = store.execution_outputs_uri(EXEC_ID)
    store.write_bytes(uri, b"old")
    before = store.list_files()
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:

            def fail(*args: Any, _name: str = name) -> None:
                raise OSError(errno.EIO, f"{_name} failed")

            m.setattr(os, name, fail)
            with pytest.raises(OSError, match=f"{name} failed"):
                store.write_bytes(uri, b"new")
        assert store.read_bytes(uri) == b"old"
        assert store.list_files() == before


def test_a_crash_midway_never_leaves_a_half_written_file(local_store: MetadataStore) -> None:
    """A process killed while writing inputs.pb (no clean-up runs at all)."""
    store = local_store
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=1))
    old = store.read_bytes(uri)
    child = textwrap.dedent(
        """
        import os, sys
        from flytecore import spec
        from flytecore.admin.storage import MetadataStore

        real_fdopen = os.fdopen

        class Dies:
            def __init__(self, f):
                self.f = f
            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                os._exit(3)  # killed mid-write: no finally, no atexit

        os.fdopen = lambda fd, *a, **k: Dies(real_fdopen(fd, *a, **k))
        store = MetadataStore(sys.argv[1])
        big = spec.LiteralMap(literals={f"k{i}": spec.scalar_literal(integer=i) for i in range(100)})
        store.write_literal_map(sys.argv[2], big)
        """
    )
    proc = subprocess.run([sys.executable, "-c", child, store.prefix, uri], capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr.decode()
    assert store.read_bytes(uri) == old
    assert store.read_literal_map(uri) == literal_map(a=1)
    # The half-written bytes exist, but only in a hidden temporary file beside the target.
    leftovers = [p for p in Path(local_path(uri)).parent.iterdir() if p.name != "inputs.pb"]
    assert (
        len(leftovers) == 1 and leftovers[0].name.startswith(".inputs.pb.") and leftovers[0].suffix == ".tmp"
    )


def test_local_files_honour_the_umask(local_store: MetadataStore) -> None:
    uri = local_store.execution_inputs_uri(EXEC_ID)
    local_store.write_literal_map(uri, literal_map(a=1))
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(local_path(uri)).st_mode) == 0o666 & ~umask


# --- S3 as boto3 sees it, and the ways to configure it ---------------------------------------------


def test_s3_objects_are_real_flyteidl_objects_in_the_bucket(
    s3_endpoint: str, closure: spec.CompiledWorkflowClosure
) -> None:
    key_prefix = uuid.uuid4().hex
    store = MetadataStore(f"s3://{BUCKET}/{key_prefix}")
    closure_uri = store.write_closure(WF_ID, closure)
    inputs_uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(inputs_uri, literal_map(a=5))

    client = s3_client(s3_endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{key_prefix}/")
    keys = sorted(obj["Key"] for obj in listed["Contents"])
    assert keys == sorted(uri.removeprefix(f"s3://{BUCKET}/") for uri in (closure_uri, inputs_uri))
    body = client.get_object(Bucket=BUCKET, Key=inputs_uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    assert literals_pb2.LiteralMap.FromString(body).literals["a"].scalar.primitive.integer == 5

    # Written by another S3 client (the propeller, a task container): visible at once.
    outputs_uri = store.execution_outputs_uri(EXEC_ID)
    assert not store.exists(outputs_uri)
    client.put_object(
        Bucket=BUCKET,
        Key=outputs_uri.removeprefix(f"s3://{BUCKET}/"),
        Body=to_idl(literal_map(o=1)).SerializeToString(),
    )
    assert store.exists(outputs_uri)
    assert store.read_literal_map(outputs_uri) == literal_map(o=1)


def test_s3_endpoint_from_fsspec_configuration(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """FSSPEC_S3_ENDPOINT_URL, without AWS_ENDPOINT_URL. fsspec parses its variables when it is
    imported, so the test parses them into a patched copy of fsspec's configuration."""
    isolate_aws(monkeypatch, tmp_path)
    conf: dict[str, dict[str, Any]] = {}
    fsspec.config.set_conf_env(conf, {"FSSPEC_S3_ENDPOINT_URL": moto_server})
    monkeypatch.setattr(fsspec.config, "conf", conf)
    store = MetadataStore(f"s3://{BUCKET}/{uuid.uuid4().hex}")
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=7))
    body = (
        s3_client(moto_server)
        .get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"]
        .read()
    )
    assert literals_pb2.LiteralMap.FromString(body).literals["a"].scalar.primitive.integer == 7


def test_storage_options_come_from_the_plugin_hosts_storage_registry(tmp_path: Path) -> None:
    """A plugin that registers a protocol configures the filesystems the store opens."""
    seen: list[str] = []

    def options(url: str) -> dict[str, Any]:
        seen.append(url)
        return {}

    @hookimpl
    def flytecore_register_storage(register: Any) -> None:
        register.register(StorageBackend(protocol="memory", storage_options=options, description="test"))

    plugin = types.SimpleNamespace(flytecore_register_storage=flytecore_register_storage)
    host = make_plugin_host(
        entry_points=False, disable=["core_types", "core_compiler"], extra_plugins=[("memory_opts", plugin)]
    )
    prefix = f"memory://flytecore-test-{uuid.uuid4().hex}"
    with use_host(host):
        store = MetadataStore(prefix)
    assert seen == [prefix, f"{prefix}/raw"]
    uri = store.execution_inputs_uri(EXEC_ID)
    store.write_literal_map(uri, literal_map(a=1))
    assert store.read_literal_map(uri) == literal_map(a=1)
    store.delete_prefix(store.execution_prefix(EXEC_ID))
