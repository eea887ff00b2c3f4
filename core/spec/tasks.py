"""Task templates: what a task is, how it runs and with which resources (flyteidl.core.tasks)."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from flytecore.spec._base import model
from flytecore.spec.identifiers import Identifier
from flytecore.spec.interface import TypedInterface
from flytecore.spec.literals import KeyValuePair, RetryStrategy

__all__ = [
    "ResourceName",
    "ResourceEntry",
    "Resources",
    "RuntimeType",
    "RuntimeMetadata",
    "TaskMetadata",
    "Container",
    "TaskTemplate",
]



class ResourceName(enum.IntEnum):
    """A kind of compute resource."""

    UNKNOWN = 0
    CPU = 1
    GPU = 2
    MEMORY = 3
    STORAGE = 4
    EPHEMERAL_STORAGE = 5


@model
class ResourceEntry:
    """One resource quantity in Kubernetes notation (``"500m"``, ``"2Gi"``)."""

    name: ResourceName
    value: str


@model
class Resources:
    """Requested and limit quantities of a container."""

    requests: tuple[ResourceEntry, ...] = ()
    limits: tuple[ResourceEntry, ...] = ()


class RuntimeType(enum.IntEnum):
    """Which SDK produced a task."""

    OTHER = 0
    FLYTE_SDK = 1


@model
class RuntimeMetadata:
    """The SDK and version that produced a task (here: flytecore)."""

    type: RuntimeType = RuntimeType.OTHER
    version: str = ""
    flavor: str = ""


@model
class TaskMetadata:
    """How a task runs: caching (``discoverable`` + ``discovery_version``), retries, timeout,
    interruptible and tags."""

    discoverable: bool = False
    runtime: RuntimeMetadata | None = None
    timeout: _dt.timedelta | None = None
    retries: RetryStrategy = RetryStrategy()
    discovery_version: str = ""
    deprecated_error_message: str = ""
    interruptible: bool | None = None
    cache_serializable: bool = False
    tags: dict[str, str] = attrs.field(factory=dict)
    pod_template_name: str = ""
    cache_ignore_input_vars: tuple[str, ...] = ()


@model
class Container:
    """A container to run: image, command, args, resources and environment."""

    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    resources: Resources | None = None
    env: tuple[KeyValuePair, ...] = ()
    config: tuple[KeyValuePair, ...] = ()


@model
class TaskTemplate:
    """A registered task: identity, type (which plugin runs it), metadata, interface, the
    plugin's ``custom`` config and, for container-based tasks, the container."""

    id: Identifier
    type: str
    metadata: TaskMetadata = TaskMetadata()
    interface: TypedInterface = TypedInterface()
    custom: dict[str, Any] | None = None
    container: Container | None = None
    task_type_version: int = 0
    config: dict[str, str] = attrs.field(factory=dict)
