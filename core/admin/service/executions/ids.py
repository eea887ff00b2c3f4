"""Execution names and ids: generated names, ids checked from requests, ids as people read them."""

from __future__ import annotations

import base64
import functools
import secrets
from typing import Any

from flytecore.admin.service.errors import InvalidArgumentError
from flytecore.admin.service.validation import (
    SINGLE_TASK_PREFIX,
    check_domain,
    check_execution_name,
    check_id_part,
    check_identifier,
    check_project_id,
)
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)

__all__ = [
    "SINGLE_TASK_PREFIX",
    "execution_id_of",
    "generate_execution_name",
    "id_fields",
    "node_execution_id_of",
    "show_execution",
    "single_task_node_id",
    "task_execution_id_of",
]

# FlyteAdmin's generated names: "a" and 19 characters of Kubernetes' random alphabet (no vowels,
# so no words); 20 characters fit every name rule and leave room for suffixes.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_LENGTH = 20
_MAX_NODE_ID = 20  # flytestdlib's MaxUniqueIDLength, what FlyteAdmin's node ids are cut to
_B32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"abcdefghijklmnopqrstuvwxyz123456")


def generate_execution_name() -> str:
    """A fresh execution name like FlyteAdmin's: ``a`` + 19 random lowercase letters/digits."""
    return "a" + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_NAME_LENGTH - 1))


def single_task_node_id(task_name: str) -> str:
    """The node id of a single-task workflow, as FlyteAdmin derives it: the task name's letters,
    digits and '-'; if longer than 20, ``f`` + base32 of its FNV-1a 32-bit hash."""
    kept = "".join(ch for ch in task_name if ch == "-" or ch.isalnum())
    if len(kept) <= _MAX_NODE_ID:
        return kept
    digest = 0x811C9DC5
    for byte in kept.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "f" + base64.b32encode(digest.to_bytes(4, "big")).translate(_B32).decode().rstrip("=")


def execution_id_of(proto_id: Any, domains: tuple[str, ...], what: str = "execution") -> WorkflowExecutionIdentifier:
    """A checked flyteidl ``WorkflowExecutionIdentifier`` as the spec's."""
    return _execution_id(proto_id.project, proto_id.domain, proto_id.name, proto_id.org, tuple(domains), what)


@functools.lru_cache(maxsize=4096)
def _execution_id(
    project: str, domain: str, name: str, org: str, domains: tuple[str, ...], what: str
) -> WorkflowExecutionIdentifier:
    # Kept per id (a check is a function of the strings; a refusal raises and is not kept): a
    # batch of events names the same execution and nodes over and over.
    check_project_id(project, f"{what} id project")
    check_domain(domain, domains, f"{what} id domain")
    check_execution_name(name, f"{what} id name")
    if org:
        raise InvalidArgumentError(f"{what} id org {org!r}: organizations are not supported")
    return WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def node_execution_id_of(proto_id: Any, domains: tuple[str, ...]) -> NodeExecutionIdentifier:
    """A checked flyteidl ``NodeExecutionIdentifier`` as the spec's."""
    eid = proto_id.execution_id
    return _node_execution_id(proto_id.node_id, eid.project, eid.domain, eid.name, eid.org, tuple(domains))


@functools.lru_cache(maxsize=4096)
def _node_execution_id(
    node_id: str, project: str, domain: str, name: str, org: str, domains: tuple[str, ...]
) -> NodeExecutionIdentifier:
    check_id_part(node_id, "node id")
    execution_id = _execution_id(project, domain, name, org, domains, "execution")
    return NodeExecutionIdentifier(node_id=node_id, execution_id=execution_id)


def task_execution_id_of(proto_id: Any, domains: tuple[str, ...]) -> TaskExecutionIdentifier:
    """A checked flyteidl ``TaskExecutionIdentifier`` as the spec's."""
    check_identifier(proto_id.task_id, "task", domains=domains)
    task_id = proto_id.task_id
    return TaskExecutionIdentifier(
        task_id=Identifier(
            resource_type=ResourceType.TASK, project=task_id.project, domain=task_id.domain, name=task_id.name,
            version=task_id.version,
        ),
        node_execution_id=node_execution_id_of(proto_id.node_execution_id, domains),
        retry_attempt=proto_id.retry_attempt,
    )


def show_execution(eid: WorkflowExecutionIdentifier) -> str:
    """An execution id as people read it."""
    return f"{eid.project}/{eid.domain}/{eid.name}"


def id_fields(obj: Any, names: tuple[str, ...] = ("project", "domain", "name", "version")) -> dict[str, Any]:
    """The id parts of ``obj`` (a spec id or a row) by name."""
    return {name: getattr(obj, name) for name in names}
