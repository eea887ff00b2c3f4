"""The signed data URLs: uploads (``PUT``) into, and downloads (``GET``) from, the admin's storage.

URL scheme and signature: :mod:`flytecore.admin.signing`. An upload

1. must carry a valid, unexpired signature (else 403, or 410 once expired);
2. must send ``Content-MD5`` equal to the MD5 the URL was signed for (else 400);
3. is streamed through the storage's atomic writer (a temporary file beside the target on a
   local folder, a local staging file uploaded in one go to an object store) while its MD5 is
   computed, and is published only if that MD5 equals ``Content-MD5`` (else 400).

So nothing is stored unless every check passed: a refused, corrupted or aborted upload leaves
the storage as it was. A download streams the object, or answers 404 if there is none.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import mimetypes
from typing import Any

from aiohttp import web

from flytecore.admin.signing import DATA_ROUTE_PREFIX, BadSignature, ExpiredUrl, data_path
from flytecore.admin.storage import InvalidStoragePath, StorageNotFound

__all__ = ["DATA_ROUTE", "SERVICE", "add_routes"]

SERVICE = web.AppKey("service", object)
"""The admin service the routes call (the data routes need its ``store`` and ``url_signer``)."""
DATA_ROUTE = "data"
"""The name of the signed URLs' resource (PUT, GET and HEAD)."""
_CHUNK = 1 << 20
_PATTERN = DATA_ROUTE_PREFIX + "/{area:meta|raw}/{key:.+}"


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message.rstrip() + "\n")


def _parts(request: web.Request) -> tuple[Any, Any, str, str]:
    """The service's store and signer, and the area and key of the URL.

    :raises web.HTTPNotImplemented: the served object has no storage to sign URLs for.
    """
    service = request.app[SERVICE]
    store, signer = getattr(service, "store", None), getattr(service, "url_signer", None)
    if store is None or signer is None:
        raise web.HTTPNotImplemented(text="this admin has no storage to serve signed URLs for\n")
    return store, signer, request.match_info["area"], request.match_info["key"]


def _refusal(signer: Any, method: str, path: str, query: Any) -> tuple[str, web.Response | None]:
    """The signed content MD5, or the answer to a URL that must not be honoured."""
    try:
        return signer.verify(method, path, query), None
    except ExpiredUrl as exc:
        return "", _error(410, str(exc))  # Gone: it was genuine, its time is up
    except BadSignature as exc:
        return "", _error(403, str(exc))


def _decode_md5(value: str) -> bytes | None:
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 16 else None


async def upload(request: web.Request) -> web.Response:
    """PUT to a signed upload URL: store the body at the URL's location if every check passes."""
    store, signer, area, key = _parts(request)
    signed_md5, refused = _refusal(signer, "PUT", data_path(area, key), request.query)
    if refused is not None:
        return refused
    expected = _decode_md5(signed_md5)
    if expected is None:  # a genuine signature over no MD5: a download URL's, used to PUT
        return _error(403, "this URL is not an upload URL: it names no content_md5")
    header = request.headers.get("Content-MD5")
    if not header:
        return _error(400, f"the Content-MD5 header is required: the base64 MD5 of the body, {signed_md5}")
    declared = _decode_md5(header)
    if declared is None:
        return _error(400, f"the Content-MD5 header {header!r} is not the base64 of a 16-byte MD5 digest")
    if declared != expected:
        return _error(
            400, f"the Content-MD5 header {header} does not match the MD5 this URL was signed for ({signed_md5})"
        )
    try:
        uri = store.uri_in(area, key)
    except InvalidStoragePath as exc:
        return _error(400, str(exc))
    writer = await asyncio.to_thread(store.open, uri, "wb")
    digest, size = hashlib.md5(), 0
    try:
        async for chunk in request.content.iter_chunked(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(writer.write, chunk)
    except BaseException:
        writer.abort()  # the client went away or the server stops: publish nothing
        raise
    if digest.digest() != declared:
        writer.abort()
        received = base64.b64encode(digest.digest()).decode()
        return _error(
            400,
            f"the body's MD5 is {received} ({size} bytes received), not the Content-MD5 {header}: "
            "the upload was cut short or is another file; nothing was stored",
        )
    await asyncio.to_thread(writer.close)
    # S3 answers a PUT with 200 and the MD5 as ETag; flytekit checks for 200.
    return web.Response(status=200, headers={"ETag": f'"{digest.hexdigest()}"'})


async def download(request: web.Request) -> web.StreamResponse:
    """GET a signed download URL: stream the object, or 404 if nothing is stored there."""
    store, signer, area, key = _parts(request)
    _, refused = _refusal(signer, "GET", data_path(area, key), request.query)  # HEAD is a GET too
    if refused is not None:
        return refused
    try:
        uri = store.uri_in(area, key)
        size = await asyncio.to_thread(store.size, uri)
        reader = await asyncio.to_thread(store.open, uri)
    except InvalidStoragePath as exc:
        return _error(400, str(exc))
    except StorageNotFound:
        return _error(404, f"nothing is stored at {key.rsplit('/', 1)[-1]!r} (not uploaded yet, or deleted)")
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Length": str(size),
            # Stored files are written by tasks and users (decks are HTML): never let one run as
            # a page of the admin's origin, nor let a browser guess another type.
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
        }
    )
    try:
        await response.prepare(request)
        if request.method != "HEAD":
            while chunk := await asyncio.to_thread(reader.read, _CHUNK):
                await response.write(chunk)
    finally:
        reader.close()
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    """Add the signed upload and download routes (one resource, :data:`DATA_ROUTE`)."""
    resource = app.router.add_resource(_PATTERN, name=DATA_ROUTE)
    resource.add_route("PUT", upload)
    resource.add_route("GET", download)
    resource.add_route("HEAD", download)
