"""Checks of ids and names in requests, before anything is read or written.

Names become database keys and storage path components, so anything that could escape a
folder or confuse a URL is refused here with the field's name: every refusal is
INVALID_ARGUMENT naming the field, the value and the rule.

The rules, next to FlyteAdmin's (``flyteadmin/pkg/manager/impl/validation``):

- project ids are DNS-1123 labels (FlyteAdmin: ``validation.IsDNS1123Label``);
- domains are the configured ones (FlyteAdmin: "domain is unrecognized by system", also
  INVALID_ARGUMENT: a domain is configuration, not a stored entity);
- names, versions and node ids are one safe path component: no ``/``, ``\\``, ``..``, NUL or
  other control characters, at most 255 UTF-8 bytes; in ids they may not start with ``.``
  either, except FlyteAdmin's own ``.flytegen.`` prefix (the workflow and launch plan it makes
  for a task launched directly);
- versions are URL-safe, as FlyteAdmin's ``ValidateVersion`` requires: letters, digits and
  ``-``, ``_``, ``.``, ``~``;
- execution names: FlyteAdmin checks ``^[a-z][a-z\\-0-9]*$`` and at most 63 characters (a
  Kubernetes label value), after lowercasing the name. Here the name must be lowercase already
  and end with a letter or digit: it names the execution's ``FlyteWorkflow`` object in
  Kubernetes, whose names allow neither, so FlyteAdmin would accept such a name and the launch
  would fail later;
- the resource type of an id, if set, is the one the call expects (FlyteAdmin's
  ``ValidateIdentifier`` also refuses an unset one; clients always set it, so it is let pass).
"""

from __future__ import annotations

import re
from typing import Any

from flyteidl.core import identifier_pb2

from flytecore.admin.service.errors import InvalidArgumentError

MAX_NAME_BYTES = 255
"""Longest name, version or node id in UTF-8 bytes: one storage path component (a file name)."""
MAX_NAME_LENGTH = MAX_NAME_BYTES  # the older name of the limit
SINGLE_TASK_PREFIX = ".flytegen."
"""FlyteAdmin names the workflow and launch plan it makes for a task launched directly
``.flytegen.<task name>`` (``util.CreateOrGetWorkflowModel`` / ``CreateOrGetLaunchPlan``)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PROJECT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_EXECUTION_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
_RESOURCE_TYPES = {
    "task": identifier_pb2.TASK,
    "workflow": identifier_pb2.WORKFLOW,
    "launch plan": identifier_pb2.LAUNCH_PLAN,
}


_VALID_NAMES: set[str] = set()
"""Names that passed :func:`check_name` (the same project, domain, execution and node names come
with every event): checked once. Emptied when it grows past :data:`_VALID_NAMES_KEPT`."""
_VALID_NAMES_KEPT = 65536


def check_name(value: str, field: str, *, required: bool = True) -> None:
    """A name usable as a key and a path component: no ``/``, ``\\``, ``..``, control
    characters, not ``.``, at most 255 UTF-8 bytes."""
    if value in _VALID_NAMES:
        return
    if not value:
        if required:
            raise InvalidArgumentError(f"{field} is required")
        return
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_NAME_BYTES:
        shown = value[:40] + "…"
        raise InvalidArgumentError(f"{field} {shown!r} is {size} bytes long (UTF-8); at most {MAX_NAME_BYTES} allowed")
    for bad in ("/", "\\"):
        if bad in value:
            raise InvalidArgumentError(f"{field} {value!r} contains a path separator ({bad!r}); names are path components")
    if _CONTROL.search(value):
        raise InvalidArgumentError(f"{field} {value!r} contains a control character (such as NUL)")
    if value == "." or ".." in value:
        what = "is '.'" if value == "." else "contains '..'"
        raise InvalidArgumentError(f"{field} {value!r} {what}; names are path components")
    if len(_VALID_NAMES) >= _VALID_NAMES_KEPT:
        _VALID_NAMES.clear()
    _VALID_NAMES.add(value)


def check_id_part(value: str, field: str) -> None:
    """A part of an entity or execution id (name, version, node id): a safe name that does not
    start with ``.`` (no hidden files), FlyteAdmin's ``.flytegen.`` names excepted."""
    check_name(value, field)
    if value.startswith(".") and not value.startswith(SINGLE_TASK_PREFIX):
        raise InvalidArgumentError(f"{field} {value!r} starts with '.'; names are path components")


def check_version(value: str, field: str = "version") -> None:
    """A version as FlyteAdmin accepts it: a safe name made of URL-safe characters."""
    check_id_part(value, field)
    if not _URL_SAFE.match(value):
        raise InvalidArgumentError(
            f"{field} {value!r} must be URL-safe: letters, digits, '-', '_', '.' and '~' only"
        )


def check_project_id(value: str, field: str = "project") -> None:
    """Project ids are DNS-label like (``flytesnacks``, ``my-team``), as in Flyte."""
    check_name(value, field)
    if not _PROJECT_ID.match(value):
        raise InvalidArgumentError(
            f"{field} {value!r} must be lowercase letters, digits and '-', starting and ending with a "
            "letter or digit, at most 63 characters"
        )


def check_execution_name(value: str, field: str = "execution name") -> None:
    """Execution names: a lowercase letter, then lowercase letters, digits and '-', ending with
    a letter or digit, at most 63 characters (see the module docstring for FlyteAdmin's rule)."""
    check_name(value, field)
    if not _EXECUTION_NAME.match(value):
        raise InvalidArgumentError(
            f"{field} {value!r} must start with a lowercase letter, contain only lowercase letters, digits "
            "and '-', end with a letter or digit, and be at most 63 characters"
        )


def check_resource_type(value: int, expected: tuple[int, ...], what: str, *, allow_unset: bool = True) -> None:
    """The resource type of a ``what`` id: one of ``expected`` (or unset, if ``allow_unset``)."""
    if value in expected or (allow_unset and value == identifier_pb2.UNSPECIFIED):
        return
    try:
        given = identifier_pb2.ResourceType.Name(value)
    except ValueError:
        given = str(value)
    allowed = " or ".join(identifier_pb2.ResourceType.Name(e) for e in expected)
    raise InvalidArgumentError(f"{what} id resource_type is {given}; expected {allowed}")


def check_identifier(
    identifier: Any,
    what: str,
    *,
    domains: tuple[str, ...],
    version: bool = True,
    resource_types: tuple[int, ...] | None = None,
) -> None:
    """A flyteidl ``Identifier`` (or ``NamedEntityIdentifier`` with ``version=False``) of a
    ``what``: every part present and safe, the domain one of ``domains``, the resource type (if
    set) one of ``resource_types`` (by default the one ``what`` names: task, workflow, launch plan)."""
    if identifier is None:
        raise InvalidArgumentError(f"{what} id is required")
    check_project_id(identifier.project, f"{what} id project")
    check_domain(identifier.domain, domains, f"{what} id domain")
    check_id_part(identifier.name, f"{what} id name")
    if version:
        check_version(identifier.version, f"{what} id version")
    if getattr(identifier, "org", ""):
        raise InvalidArgumentError(f"{what} id org {identifier.org!r}: organizations are not supported")
    if resource_types is None:
        kind = next((t for w, t in _RESOURCE_TYPES.items() if what == w or what.endswith(f"'s {w}")), None)
        resource_types = () if kind is None else (kind,)
    if resource_types and hasattr(identifier, "resource_type"):
        check_resource_type(identifier.resource_type, resource_types, what)


def check_domain(domain: str, domains: tuple[str, ...], field: str = "domain") -> None:
    """``domain`` is one the admin is configured with."""
    check_name(domain, field)
    if domain not in domains:
        raise InvalidArgumentError(f"{field} {domain!r} is not a domain of this admin; domains: {', '.join(domains)}")


def check_text(value: str, field: str, *, max_length: int | None = None) -> None:
    """Free text stored in a database column: no NUL character (PostgreSQL's text cannot hold
    one), and at most ``max_length`` characters if given."""
    if "\x00" in value:
        raise InvalidArgumentError(f"{field} contains a NUL character, which cannot be stored")
    if max_length is not None and len(value) > max_length:
        raise InvalidArgumentError(f"{field} is {len(value)} characters long; at most {max_length} allowed")


MAX_LABELS = 16
"""Most labels a project may carry (FlyteAdmin's ``maxLabelArrayLength``)."""
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_labels(labels: dict[str, str], field: str = "labels") -> None:
    """Labels as Kubernetes (and FlyteAdmin) accept them: at most 16; keys ``[prefix/]name``
    with a DNS-subdomain prefix and a name of at most 63 letters, digits, '-', '_', '.' starting
    and ending with a letter or digit; values empty or like such a name."""
    if len(labels) > MAX_LABELS:
        raise InvalidArgumentError(f"{field} has {len(labels)} entries; at most {MAX_LABELS} allowed")
    for key, value in sorted(labels.items()):
        prefix, _, name = key.rpartition("/")
        if not _LABEL_NAME.fullmatch(name) or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix))):
            raise InvalidArgumentError(
                f"{field} key {key!r} is not a valid label key: an optional DNS-subdomain prefix and '/', then at "
                "most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            )
        if value and not _LABEL_NAME.fullmatch(value):
            raise InvalidArgumentError(
                f"{field} value {value!r} (of {key!r}) is not a valid label value: at most 63 letters, digits, "
                "'-', '_' or '.', starting and ending with a letter or digit"
            )
