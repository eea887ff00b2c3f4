"""Optional bearer-token authentication of the admin's gRPC and HTTP servers.

``flytecore admin serve --auth-token-file PATH`` reads the tokens the admin accepts, one per
line (blank lines and lines starting with ``#`` are ignored). Every gRPC call must then carry
the metadata ``authorization: Bearer <token>`` (what flytekit sends when it has a token) and
every HTTP request the header ``Authorization: Bearer <token>``; the one exception is the
signed data URLs, whose signature is their credential (flytekit PUTs to them without headers,
as to an S3 presigned URL). Without a token file the admin is open, as Flyte's sandbox is.

This is a shared-secret scheme for a team's admin behind TLS termination, not OAuth: FlyteAdmin's
OIDC flows are not implemented.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable

from flytecore.errors import FlyteCoreError

__all__ = ["AuthConfigError", "BearerTokens", "load_tokens"]

SCHEME = "Bearer"


class AuthConfigError(FlyteCoreError):
    """The token file cannot be used: missing, unreadable or without a token."""


def load_tokens(path: str | os.PathLike[str]) -> BearerTokens:
    """The tokens in the file at ``path``.

    :raises AuthConfigError: the file is missing or unreadable, or names no token (an empty
        file would otherwise lock everyone out, or, worse, be mistaken for "auth off").
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise AuthConfigError(f"cannot read the auth token file {os.fspath(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AuthConfigError(f"the auth token file {os.fspath(path)!r} is not UTF-8 text") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not tokens:
        raise AuthConfigError(
            f"the auth token file {os.fspath(path)!r} has no token: write one token per line "
            "(blank lines and lines starting with '#' are ignored)"
        )
    for number, token in enumerate(tokens, 1):
        if any(ch.isspace() for ch in token):
            raise AuthConfigError(f"token {number} in {os.fspath(path)!r} contains whitespace; a bearer token cannot")
    return BearerTokens(tokens)


class BearerTokens:
    """The tokens an admin accepts, and the check of an ``Authorization`` value against them."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)
        if not self._tokens:
            raise AuthConfigError("no bearer token given; authentication needs at least one")

    def __len__(self) -> int:
        return len(self._tokens)

    def refusal(self, authorization: str | None) -> str | None:
        """Why a request with this ``Authorization`` value is refused, or None if it may pass."""
        if not authorization:
            return f"authentication required: send the header 'authorization: {SCHEME} <token>'"
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != SCHEME.lower() or not token.strip():
            return f"the authorization value must be '{SCHEME} <token>'"
        given = token.strip().encode()
        # Compare with every token, without stopping at a match, in constant time per token:
        # neither timing nor the position of a match tells an attacker anything.
        matched = False
        for accepted in self._tokens:
            matched |= hmac.compare_digest(given, accepted)
        return None if matched else "the bearer token is not valid for this admin"
