"""Signed data URLs: the admin's answer to S3's presigned URLs.

The data proxy (:mod:`flytecore.admin.service.dataproxy`) hands out URLs of the admin's own
HTTP server (:mod:`flytecore.admin.http`) that stand for one object in the admin's storage::

    PUT {http_base_url}/data/{area}/{key}?expires={unix seconds}&content_md5={base64 MD5}&signature={hex}
    GET {http_base_url}/data/{area}/{key}?expires={unix seconds}&signature={hex}

``area`` is ``meta`` or ``raw`` (which storage prefix) and ``key`` the object's path below it
(:meth:`~flytecore.admin.storage.MetadataStore.locate`), so a URL names no bucket and no folder
of the admin's machine. ``signature`` is the hex HMAC-SHA256, under the admin's signing key, of
the canonical string ``{METHOD}\\n/data/{area}/{key}\\n{expires}\\n{content_md5}`` (the path
percent-decoded). The HTTP server checks it from the URL alone, without a database, and the
signature is the whole credential: whoever holds the URL may use it until it expires, as with
S3. A URL signed for PUT cannot be used to GET (the method is signed) and an upload URL is good
for exactly the bytes whose MD5 it names.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Mapping

import attrs

from flytecore.errors import FlyteCoreError

__all__ = [
    "DATA_ROUTE_PREFIX",
    "BadSignature",
    "ExpiredUrl",
    "SignedUrlError",
    "UrlSigner",
    "data_path",
]

DATA_ROUTE_PREFIX = "/data"
"""Where the HTTP server serves signed URLs."""


class SignedUrlError(FlyteCoreError):
    """A signed URL that must not be honoured."""


class BadSignature(SignedUrlError):
    """The URL was not signed by this admin, was changed, or lacks its signature."""


class ExpiredUrl(SignedUrlError):
    """The URL was signed by this admin but its time is up.

    :ivar expired_at: when it expired (unix seconds).
    """

    def __init__(self, message: str, expired_at: int) -> None:
        super().__init__(message)
        self.expired_at = expired_at


def data_path(area: str, key: str) -> str:
    """The (unquoted) path of the object ``key`` in ``area`` on the HTTP server."""
    return f"{DATA_ROUTE_PREFIX}/{area}/{key}"


def _canonical(method: str, path: str, expires: int, content_md5: str) -> bytes:
    # Newlines separate the parts, and none of the parts can contain one (keys are validated
    # storage paths, expires is an int, content_md5 is base64), so two different requests
    # never share a canonical string.
    return f"{method.upper()}\n{path}\n{expires}\n{content_md5}".encode()


@attrs.define
class UrlSigner:
    """Signs and checks data URLs with one secret key.

    :ivar key: the HMAC key (32 random bytes unless configured).
    :ivar clock: the time in unix seconds; tests move it to expire URLs without waiting.
    """

    key: bytes = attrs.field(repr=False)
    clock: Callable[[], float] = time.time

    def signature(self, method: str, path: str, expires: int, content_md5: str = "") -> str:
        """The hex HMAC-SHA256 of the canonical request."""
        return hmac.new(self.key, _canonical(method, path, expires, content_md5), hashlib.sha256).hexdigest()

    def sign(
        self, base_url: str, method: str, path: str, expires_in: float, content_md5: str = ""
    ) -> tuple[str, int]:
        """A URL on ``base_url`` for ``method`` on ``path``, good for ``expires_in`` seconds;
        returns it and its expiry (unix seconds)."""
        expires = int(self.clock() + expires_in)
        query = {"expires": str(expires)}
        if content_md5:
            query["content_md5"] = content_md5
        query["signature"] = self.signature(method, path, expires, content_md5)
        quoted = urllib.parse.quote(path, safe="/")
        return f"{base_url.rstrip('/')}{quoted}?{urllib.parse.urlencode(query)}", expires

    def verify(self, method: str, path: str, query: Mapping[str, str]) -> str:
        """Check a request to ``path`` with the URL's ``query``; returns the signed content MD5
        (base64, empty for downloads).

        The signature is checked before the expiry, so a changed ``expires`` is a bad signature,
        not a longer life.

        :raises BadSignature: missing or garbled parameters, or a signature that does not match.
        :raises ExpiredUrl: a genuine URL whose time is up.
        """
        signature, expires_text = query.get("signature", ""), query.get("expires", "")
        if not signature or not expires_text:
            raise BadSignature("the URL is not a signed data URL of this admin: it lacks 'expires' or 'signature'")
        try:
            expires = int(expires_text)
        except ValueError:
            raise BadSignature(f"the URL's 'expires' {expires_text!r} is not a number of seconds") from None
        content_md5 = query.get("content_md5", "")
        expected = self.signature(method, path, expires, content_md5)
        # Constant time: comparing byte by byte would tell an attacker how much of a guess was right.
        if not hmac.compare_digest(expected, signature):
            raise BadSignature(
                "the URL's signature does not match: it was changed, is for another method, "
                "or was signed by another admin (or before a restart without a configured signing key)"
            )
        now = self.clock()
        if now >= expires:
            raise ExpiredUrl(
                f"the URL expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))} "
                f"({int(now - expires)} s ago); ask the admin for a new one",
                expires,
            )
        return content_md5
