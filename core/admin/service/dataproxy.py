"""DataProxyService: signed URLs to upload files into, and download them from, the admin's storage.

Modelled on FlyteAdmin's ``dataproxy/service.go``:

- ``CreateUploadLocation``: a URL to PUT one file to. The file lands at
  ``{storage}/data/{project}/{domain}/{filename_root or base32(md5)}/{filename}`` (the
  ``native_url``), content-addressed by the MD5 unless the client names a root (flytekit does
  for fast registration). Unlike FlyteAdmin, ``content_md5`` is required: the HTTP server checks
  every upload against it, which is what makes the URL safe to hand out. An unnamed file is
  refused rather than given a random name, so a URL always says what it stores. With a
  ``filename_root``, a different file already at the location is ALREADY_EXISTS (the same file
  may be uploaded again), as in FlyteAdmin. ``add_content_md5_metadata`` needs nothing more: the
  MD5 is checked on every upload, and existing files are compared by their bytes, not by
  object metadata (a local folder has none).
- ``CreateDownloadLink``: a URL to GET a node execution's deck (the only artifact type flyteidl
  has); ``CreateDownloadLocation`` (deprecated in flyteidl, still used by older clients): a URL
  to GET any object of the admin's storage by its native URL. Objects elsewhere are refused.

``expires_in`` defaults to, and may not exceed, ``AdminConfig.signed_url_max_expires_in`` (one
hour, FlyteAdmin's default). The URLs point at the admin's HTTP server (:mod:`flytecore.admin.http`)
and carry an HMAC signature (:mod:`flytecore.admin.signing`) the server checks without a database.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import threading

from flyteidl.admin import node_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from flytecore.admin.service.base import ServiceBase
from flytecore.admin.service.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    repository_errors,
)
from flytecore.admin.service.validation import (
    check_domain,
    check_execution_name,
    check_name,
    check_project_id,
)
from flytecore.admin.signing import UrlSigner, data_path
from flytecore.admin.storage import InvalidStoragePath, StorageNotFound
from flytecore.spec.identifiers import NodeExecutionIdentifier, WorkflowExecutionIdentifier

__all__ = ["DataProxyService"]

_CHUNK = 1 << 20
# One lock for every service's lazily made signer: two threads asking at once must not each
# make a random key (a URL signed with the loser's key would never verify).
_SIGNER_LOCK = threading.Lock()


def check_file_name(value: str, field: str) -> None:
    """A file name a client may choose: one path component, relative, without ``..``."""
    if not value:
        raise InvalidArgumentError(f"{field} is required")
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        raise InvalidArgumentError(f"{field} {value!r} is an absolute path; give a file name")
    if ".." in value.replace("\\", "/").split("/"):
        raise InvalidArgumentError(f"{field} {value!r} contains '..'; give a file name")
    if "/" in value or "\\" in value:
        raise InvalidArgumentError(f"{field} {value!r} contains a path separator; give a single file name")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidArgumentError(f"{field} {value!r} contains a control character")
    check_name(value, field)  # the rules every stored name follows (length, '..' inside a name)


def _show_duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=seconds))


def _expires_at(expires: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=expires)


class DataProxyService(ServiceBase):
    """flyteidl's DataProxyService: signed upload and download URLs."""

    _http_bound_url: str | None = None

    # --- the parts the URLs need ------------------------------------------------------------------

    @property
    def url_signer(self) -> UrlSigner:
        """The signer of this admin's data URLs: keyed by ``AdminConfig.url_signing_key``, or by
        a random key made on first use (the HTTP server asks for it when it starts, so it
        verifies with the key the service signs with)."""
        signer: UrlSigner | None = self.__dict__.get("_url_signer")
        if signer is None:
            with _SIGNER_LOCK:
                signer = self.__dict__.get("_url_signer")
                if signer is None:
                    configured = self.config.url_signing_key
                    key = configured.encode() if configured else secrets.token_bytes(32)
                    signer = self.__dict__["_url_signer"] = UrlSigner(key)
        return signer

    def bind_http(self, base_url: str) -> None:
        """Called by the HTTP server once it listens, with its URL (``http://host:port``): where
        signed URLs point unless ``AdminConfig.http_base_url`` names a public address."""
        self._http_bound_url = base_url.rstrip("/")

    @property
    def http_base_url(self) -> str:
        """The URL signed URLs start with.

        :raises FailedPreconditionError: no HTTP server runs and none is configured.
        """
        url = self.config.http_base_url or self._http_bound_url
        if not url:
            raise FailedPreconditionError(
                "signed URLs point at the admin's HTTP server, which is not running; serve the admin "
                "with its HTTP server (flytecore admin serve --http-port) or set AdminConfig.http_base_url"
            )
        return url.rstrip("/")

    def _expires_in(self, request_expires_in: duration_pb2.Duration, given: bool) -> float:
        """The life of a URL: as requested (checked), or the maximum when the request names none."""
        longest = self.config.signed_url_max_expires_in
        if not given:
            return longest
        seconds, nanos = request_expires_in.seconds, request_expires_in.nanos
        if (seconds < 0 < nanos) or (nanos < 0 < seconds) or abs(nanos) >= 1_000_000_000:
            raise InvalidArgumentError(f"expires_in ({seconds} s, {nanos} ns) is not a valid duration")
        value = seconds + nanos / 1e9
        if value <= 0:
            raise InvalidArgumentError(f"expires_in must be positive, got {value} s")
        if value > longest:
            raise InvalidArgumentError(
                f"expires_in {_show_duration(value)} exceeds the maximum of {_show_duration(longest)}"
            )
        return value

    def _check_project_domain(self, project: str, domain: str, org: str) -> None:
        check_project_id(project, "project")
        check_name(domain, "domain")
        if org:
            raise InvalidArgumentError(f"org {org!r}: organizations are not supported by this admin; leave org empty")
        if domain not in self.config.domains:
            raise NotFoundError(f"domain {domain!r} does not exist; domains: {', '.join(self.config.domains)}")
        with repository_errors():
            self.repo.get_project(project)

    def _signed_get(self, native_url: str, expires_in: float, field: str) -> tuple[str, int]:
        try:
            area, key = self.store.locate(native_url)
        except InvalidStoragePath as exc:
            raise InvalidArgumentError(
                f"{field} {native_url!r} is not in the admin's storage ({exc.reason}); "
                "the admin signs URLs only for its own storage"
            ) from None
        return self.url_signer.sign(self.http_base_url, "GET", data_path(area, key), expires_in)

    def _node_execution_id(self, proto_id: identifier_pb2.NodeExecutionIdentifier) -> NodeExecutionIdentifier:
        eid = proto_id.execution_id
        check_project_id(eid.project, "node_execution_id.execution_id.project")
        check_domain(eid.domain, self.config.domains, "node_execution_id.execution_id.domain")
        check_execution_name(eid.name, "node_execution_id.execution_id.name")
        check_name(proto_id.node_id, "node_execution_id.node_id")
        if eid.org:
            raise InvalidArgumentError(f"node_execution_id.execution_id.org {eid.org!r}: organizations are not supported")
        return NodeExecutionIdentifier(
            node_id=proto_id.node_id,
            execution_id=WorkflowExecutionIdentifier(project=eid.project, domain=eid.domain, name=eid.name),
        )

    def _stored_md5(self, uri: str) -> bytes | None:
        """The MD5 of the file at ``uri``, or None if there is none (read in chunks: files can be large)."""
        digest = hashlib.md5()
        try:
            with self.store.open(uri) as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
        except StorageNotFound:
            return None
        return digest.digest()

    # --- the RPCs -----------------------------------------------------------------------------------

    def create_upload_location(
        self, request: dataproxy_pb2.CreateUploadLocationRequest
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        """A signed URL to PUT one file to, and the native URL it will be stored at."""
        self._check_project_domain(request.project, request.domain, request.org)
        md5 = bytes(request.content_md5)
        if not md5:
            raise InvalidArgumentError(
                "content_md5 is required: the MD5 digest (16 bytes) of the file to upload; the upload is checked against it"
            )
        if len(md5) != 16:
            raise InvalidArgumentError(f"content_md5 is {len(md5)} bytes; an MD5 digest is 16")
        check_file_name(request.filename, "filename")
        if request.filename_root:
            check_file_name(request.filename_root, "filename_root")
        expires_in = self._expires_in(request.expires_in, request.HasField("expires_in"))
        md5_b64 = base64.b64encode(md5).decode()
        # FlyteAdmin's key: the root the client chose, else the digest in base32 (URL and path safe).
        root = request.filename_root or base64.b32encode(md5).decode()
        try:
            native = self.store.upload_location(
                request.project, request.domain, request.filename, md5_b64, filename_root=root
            )
        except InvalidStoragePath as exc:
            raise InvalidArgumentError(str(exc)) from None
        if request.filename_root:
            # A chosen root makes the location not content-addressed: refuse to replace another
            # file there (FlyteAdmin does the same; the same bytes may be uploaded again).
            stored = self._stored_md5(native)
            if stored is not None and stored != md5:
                raise AlreadyExistsError(
                    f"a different file is already stored at {native} (filename_root {request.filename_root!r}, "
                    f"filename {request.filename!r}); choose another filename_root or filename"
                )
        area, key = self.store.locate(native)
        signed_url, expires = self.url_signer.sign(
            self.http_base_url, "PUT", data_path(area, key), expires_in, content_md5=md5_b64
        )
        return dataproxy_pb2.CreateUploadLocationResponse(
            signed_url=signed_url,
            native_url=native,
            expires_at=_expires_at(expires),
            # Sent with the PUT by flytekit (it adds the response's headers to its own).
            headers={"Content-MD5": md5_b64},
        )

    def create_download_location(
        self, request: dataproxy_pb2.CreateDownloadLocationRequest
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        """A signed URL to GET an object of the admin's storage, named by its native URL."""
        if not request.native_url:
            raise InvalidArgumentError("native_url is required")
        expires_in = self._expires_in(request.expires_in, request.HasField("expires_in"))
        signed_url, expires = self._signed_get(request.native_url, expires_in, "native_url")
        return dataproxy_pb2.CreateDownloadLocationResponse(signed_url=signed_url, expires_at=_expires_at(expires))

    def create_download_link(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        """A signed URL to GET an artifact of a node execution (its deck)."""
        if request.artifact_type != dataproxy_pb2.ARTIFACT_TYPE_DECK:
            name = dataproxy_pb2.ArtifactType.Name(request.artifact_type) if request.artifact_type in (
                dataproxy_pb2.ArtifactType.values()
            ) else str(request.artifact_type)
            raise InvalidArgumentError(f"artifact_type {name} is not supported; the one artifact type is ARTIFACT_TYPE_DECK")
        if not request.HasField("node_execution_id"):
            raise InvalidArgumentError("node_execution_id is required: the node execution whose deck to link")
        expires_in = self._expires_in(request.expires_in, request.HasField("expires_in"))
        nid = self._node_execution_id(request.node_execution_id)
        with repository_errors():
            row = self.repo.get_node_execution(nid)
        deck_uri = node_execution_pb2.NodeExecutionClosure.FromString(row.closure).deck_uri
        if not deck_uri:
            raise NotFoundError(f"node execution {nid.execution_id.name}/{nid.node_id} has no deck")
        signed_url, expires = self._signed_get(deck_uri, expires_in, "the node execution's deck_uri")
        at = _expires_at(expires)
        return dataproxy_pb2.CreateDownloadLinkResponse(
            signed_url=[signed_url],
            expires_at=at,
            pre_signed_urls=dataproxy_pb2.PreSignedURLs(signed_url=[signed_url], expires_at=at),
        )
