"""Checks of ids and names in requests, before anything is read or written.

Names become database keys and storage path components, so anything that could escape a
folder or confuse a URL is refused here with the field's name.
"""

from __future__ import annotations

import re
from typing import Any

from flytecore.admin.service.errors import InvalidArgumentError

MAX_NAME_LENGTH = 255
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")
_PROJECT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_EXECUTION_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_name(value: str, field: str, *, required: bool = True) -> None:
    """A name usable as a key and a path component: no ``/``, ``\\``, control characters,
    ``.``/``..``, at most 255 characters."""
    if not value:
        if required:
            raise InvalidArgumentError(f"{field} is required")
        return
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"{field} is {len(value)} characters long; at most {MAX_NAME_LENGTH} allowed")
    if _FORBIDDEN.search(value) or value in {".", ".."}:
        raise InvalidArgumentError(f"{field} {value!r} contains a path separator or control character")


def check_project_id(value: str, field: str = "project") -> None:
    """Project ids are DNS-label like (``flytesnacks``, ``my-team``), as in Flyte."""
    check_name(value, field)
    if not _PROJECT_ID.match(value):
        raise InvalidArgumentError(
            f"{field} {value!r} must be lowercase letters, digits and '-', starting and ending with a "
            "letter or digit, at most 63 characters"
        )


def check_execution_name(value: str, field: str = "name") -> None:
    """Execution names as Flyte accepts them: a lowercase letter, then letters, digits and '-'."""
    check_name(value, field)
    if not _EXECUTION_NAME.match(value):
        raise InvalidArgumentError(
            f"execution {field} {value!r} must start with a lowercase letter and contain only lowercase "
            "letters, digits and '-' (at most 63 characters)"
        )


def check_identifier(identifier: Any, what: str, *, domains: tuple[str, ...], version: bool = True) -> None:
    """A flyteidl ``Identifier`` (or ``NamedEntityIdentifier`` with ``version=False``) of a
    ``what``: every part present and safe, the domain one of ``domains``."""
    if identifier is None:
        raise InvalidArgumentError(f"{what} id is required")
    check_project_id(identifier.project, f"{what} id project")
    check_domain(identifier.domain, domains, f"{what} id domain")
    check_name(identifier.name, f"{what} id name")
    if version:
        check_name(identifier.version, f"{what} id version")
    if getattr(identifier, "org", ""):
        raise InvalidArgumentError(f"{what} id org {identifier.org!r}: organizations are not supported")


def check_domain(domain: str, domains: tuple[str, ...], field: str = "domain") -> None:
    """``domain`` is one the admin is configured with."""
    check_name(domain, field)
    if domain not in domains:
        raise InvalidArgumentError(f"{field} {domain!r} is not a domain of this admin; domains: {', '.join(domains)}")
