"""The faces of a task plugin beyond the local one, and which distribution runs which task type.

A :class:`~flytecore.plugin.TaskType` has up to three faces (DESIGN.md, "Plugin system"):

- local: ``TaskType.local_context``, a context manager the task body runs inside (in the
  ``flytecore-execute`` worker, or in-process for local runs);
- kubernetes: a :class:`KubernetesFace`, ``build_resource(ctx) -> manifest`` and
  ``phase_of(resource) -> TaskStatus``, with ctx a :class:`K8sTaskContext` the propeller fills;
- web API: ``create / get / delete / status`` against a remote service (not defined yet).

The propeller wraps these in adapters; a plugin only says what is specific to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

# Re-exported: a plugin builds TaskStatus values from flytecore.plugin alone.
from flyteidl.core import tasks_pb2  # type: ignore[import-untyped]

from flytecore.spec.execution import ErrorKind
from flytecore.spec.phases import TaskExecutionPhase
from flytecore.spec.tasks import ResourceName, Resources, TaskTemplate

__all__ = [
    "KNOWN_PLUGIN_DISTRIBUTIONS",
    "ErrorKind",
    "TaskExecutionPhase",
    "K8sTaskContext",
    "KubernetesFace",
    "TaskStatus",
    "distribution_for",
    "k8s_resources",
    "missing_plugin_hint",
]

KNOWN_PLUGIN_DISTRIBUTIONS: Mapping[str, str] = {
    "spark": "flyte-plugin-spark",
    "ray": "flyte-plugin-ray",
    "pytorch": "flyte-plugin-pytorch",
    "dask": "flyte-plugin-dask",
}
"""Well-known task types (``TaskTemplate.type``, flytekit's strings) -> the distribution that
registers them, so that a missing plugin is named in error messages."""


def distribution_for(task_type: str) -> str | None:
    """The distribution known to register ``task_type``, or None when the type is not well known."""
    return KNOWN_PLUGIN_DISTRIBUTIONS.get(task_type)


def missing_plugin_hint(task_type: str) -> str:
    """The sentence that tells a user what to install for ``task_type``."""
    distribution = distribution_for(task_type)
    if distribution is not None:
        return f"task type {task_type!r} is provided by the plugin distribution {distribution}: pip install {distribution}"
    known = ", ".join(sorted(set(KNOWN_PLUGIN_DISTRIBUTIONS.values())))
    return (
        f"install the plugin distribution that registers task type {task_type!r} "
        f"(the project's plugins: {known})"
    )


@attrs.define(frozen=True, kw_only=True)
class TaskStatus:
    """What a plugin reads from a resource's status: the phase of the task attempt.

    :ivar phase: the attempt's phase; a terminal one ends it.
    :ivar message: the status in words, shown with the task's events.
    :ivar error_kind: for a failed phase, whose fault it is (``USER``: the task's code, ``SYSTEM``:
        the platform or operator); None when not a failure or unknown.
    """

    phase: TaskExecutionPhase
    message: str = ""
    error_kind: ErrorKind | None = None


@attrs.define(frozen=True, kw_only=True)
class K8sTaskContext:
    """What a plugin's ``build_resource`` gets: one attempt of a task, ready for Kubernetes.

    :ivar template: the task template (its ``custom`` holds the plugin's config).
    :ivar image: the container image to run.
    :ivar command: the container's argv: the ``flytecore-execute`` command line with Flyte's
        template variables (``{{.input}}``, ``{{.outputPrefix}}`` …) already rendered.
    :ivar env: the container's environment (the task's own plus Flyte's ``FLYTE_INTERNAL_*``).
    :ivar resources: the container's requests and limits, or None.
    :ivar name: the object's name (a DNS-1123 label, unique per attempt).
    :ivar namespace: the namespace the object goes into.
    :ivar labels: labels to put on the object and the pods it makes.
    :ivar annotations: annotations to put on the object.
    """

    template: TaskTemplate
    image: str
    command: tuple[str, ...]
    env: Mapping[str, str] = attrs.field(factory=dict)
    resources: Resources | None = None
    name: str
    namespace: str = "default"
    labels: Mapping[str, str] = attrs.field(factory=dict)
    annotations: Mapping[str, str] = attrs.field(factory=dict)

    def env_list(self) -> list[dict[str, str]]:
        """``env`` as a Kubernetes container's ``env`` list, sorted by name."""
        return [{"name": k, "value": v} for k, v in sorted(self.env.items())]


@attrs.define(frozen=True, kw_only=True)
class KubernetesFace:
    """A task type's Kubernetes face: the object to create for an attempt and how to read it.

    :ivar build_resource: ``(K8sTaskContext) -> dict``: the manifest (``apiVersion``, ``kind``,
        ``metadata``, ``spec``) the operator expects.
    :ivar phase_of: ``(resource dict as read back from the API server) -> TaskStatus``; a resource
        whose status is not set yet is still starting (``INITIALIZING`` or ``QUEUED``).
    """

    build_resource: Callable[[K8sTaskContext], dict[str, Any]]
    phase_of: Callable[[dict[str, Any]], TaskStatus]


_K8S_RESOURCE_NAMES = {
    ResourceName.CPU: "cpu",
    ResourceName.GPU: "nvidia.com/gpu",
    ResourceName.MEMORY: "memory",
    ResourceName.STORAGE: "storage",
    ResourceName.EPHEMERAL_STORAGE: "ephemeral-storage",
}


def k8s_resources(resources: Resources | tasks_pb2.Resources | None) -> dict[str, dict[str, str]]:
    """A container's ``resources`` in Kubernetes notation (``{"requests": {...}, "limits": {...}}``);
    empty sections are left out. ``resources``: the spec's, or flyteidl's ``core.Resources``
    message as a plugin finds it in its ``custom`` (the two number resource names alike)."""
    out: dict[str, dict[str, str]] = {}
    if resources is None:
        return out
    for section, entries in (("requests", resources.requests), ("limits", resources.limits)):
        values = {_K8S_RESOURCE_NAMES[e.name]: e.value for e in entries if e.name in _K8S_RESOURCE_NAMES}
        if values:
            out[section] = values
    return out
