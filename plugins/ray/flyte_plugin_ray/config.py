"""The task configuration: flytekit's ``RayJobConfig``, ``HeadNodeConfig``, ``WorkerNodeConfig``
and ``AutoscalerOptionsConfig``.

``TaskTemplate.custom`` is flyteidl's ``flyteidl.plugins.RayJob`` message as a JSON dict
(``MessageToDict``), with the values flytekit's plugin writes (checked against
flytekitplugins-ray 1.16): ``runtimeEnv`` is the base64 of the runtime environment's JSON and
``runtimeEnvYaml`` its YAML; a group's ``requests`` / ``limits`` become a ``k8sPod`` whose pod spec
has one container, ``ray-head`` or ``ray-worker``, with those resources (the one given stands for
both, as in flytekit); a worker group's ``minReplicas`` / ``maxReplicas`` default to, and are
clamped around, ``replicas``. So a template round-trips through flyteidl and FlytePropeller's
Ray plugin reads it.

flytekit's ``pod_template=`` is not offered: flytecore has no ``PodTemplate`` type.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import yaml
from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl.plugins import ray_pb2
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from flytecore import Resources

__all__ = [
    "HEAD_CONTAINER",
    "TASK_TYPE",
    "WORKER_CONTAINER",
    "AutoscalerOptionsConfig",
    "HeadNodeConfig",
    "RayJobConfig",
    "WorkerNodeConfig",
    "from_custom",
    "to_custom",
]

TASK_TYPE = "ray"
"""The task type string (flytekit's too)."""

HEAD_CONTAINER = "ray-head"
"""The head pod's Ray container (flytekit's and FlytePropeller's name)."""

WORKER_CONTAINER = "ray-worker"
"""A worker pod's Ray container (flytekit's and FlytePropeller's name)."""

# flytekit builds the group's pod template with PodTemplate's default primary container name and
# writes it as is; FlytePropeller's Ray plugin does not read it. Kept so `custom` is flytekit's.
_FLYTEKIT_PRIMARY_CONTAINER = "primary"

# Resources field -> Kubernetes resource name, in flytekit's order (pod_spec_from_resources).
_K8S_NAMES = {
    "cpu": "cpu",
    "mem": "memory",
    "gpu": "nvidia.com/gpu",
    "ephemeral_storage": "ephemeral-storage",
    "storage": "storage",
}


def _check_resources(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Resources):
        raise TypeError(
            f"{type(instance).__name__}({attribute.name}=...) must be flytecore.Resources(...), "
            f"got {type(value).__name__}"
        )


def _check_start_params(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """``ray_start_params`` is a map of strings (``ray start --KEY=VALUE``), as in flyteidl."""
    if value is None:
        return
    where = f"{type(instance).__name__}({attribute.name}=...)"
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a dict of strings, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(
                f"{where}: {key!r}: {item!r} is not a pair of strings; write values as "
                "`ray start` takes them, e.g. {'num-cpus': '2', 'log-color': 'true'}"
            )


def _start_params(value: Any) -> Any:
    """A copy of a mapping (the config keeps its own); anything else is left to the validator."""
    return dict(value) if isinstance(value, Mapping) else value


def _optional_count(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(
            f"{type(instance).__name__}({attribute.name}=...) must be an int >= 0, got {value!r}"
        )


@attrs.define(frozen=True, kw_only=True)
class HeadNodeConfig:
    """The head pod of the Ray cluster.

    :ivar ray_start_params: ``ray start`` parameters of the head (``{"log-color": "True"}``).
    :ivar requests: resources requested by the head; None: the task's.
    :ivar limits: resource limits of the head; None: the task's.
    """

    ray_start_params: dict[str, str] | None = attrs.field(
        default=None, converter=_start_params, validator=_check_start_params
    )
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)


@attrs.define(frozen=True, kw_only=True)
class WorkerNodeConfig:
    """A group of worker pods.

    :ivar group_name: the group's name, unique within the job.
    :ivar replicas: worker pods on Kubernetes; locally, one CPU of the local instance each.
    :ivar min_replicas: the fewest pods the autoscaler keeps; None: ``replicas``.
    :ivar max_replicas: the most pods the autoscaler makes; None: ``replicas``.
    :ivar ray_start_params: ``ray start`` parameters of the workers.
    :ivar requests: resources requested per worker; None: the task's.
    :ivar limits: resource limits per worker; None: the task's.
    """

    group_name: str = attrs.field()
    replicas: int = attrs.field()
    min_replicas: int | None = attrs.field(default=None, validator=_optional_count)
    max_replicas: int | None = attrs.field(default=None, validator=_optional_count)
    ray_start_params: dict[str, str] | None = attrs.field(
        default=None, converter=_start_params, validator=_check_start_params
    )
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)

    @group_name.validator
    def _named(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"WorkerNodeConfig(group_name=...) must be a non-empty string, got {value!r}")

    @replicas.validator
    def _count(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"WorkerNodeConfig(replicas=...) of group {self.group_name!r} must be an int >= 0, got {value!r}"
            )

    def __attrs_post_init__(self) -> None:
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise ValueError(
                f"worker group {self.group_name!r}: min_replicas={self.min_replicas} is more than "
                f"max_replicas={self.max_replicas}"
            )


@attrs.define(frozen=True, kw_only=True)
class AutoscalerOptionsConfig:
    """The Ray autoscaler sidecar of the head pod (with ``enable_autoscaling=True``).

    :ivar upscaling_mode: an :class:`AutoscalerOptionsConfig.UpscalingMode`.
    :ivar idle_timeout_seconds: seconds before an idle worker pod is removed.
    :ivar env: environment variables of the autoscaler container.
    :ivar image: the autoscaler container's image.
    :ivar requests: resources requested by the autoscaler container.
    :ivar limits: resource limits of the autoscaler container.
    """

    class UpscalingMode(enum.IntEnum):
        """flyteidl's ``AutoscalerOptions.UpscalingMode`` (KubeRay's ``Default`` / ``Aggressive`` /
        ``Conservative``)."""

        UNSPECIFIED = ray_pb2.AutoscalerOptions.UPSCALING_MODE_UNSPECIFIED
        DEFAULT = ray_pb2.AutoscalerOptions.UPSCALING_MODE_DEFAULT
        AGGRESSIVE = ray_pb2.AutoscalerOptions.UPSCALING_MODE_AGGRESSIVE
        CONSERVATIVE = ray_pb2.AutoscalerOptions.UPSCALING_MODE_CONSERVATIVE

    upscaling_mode: UpscalingMode | None = attrs.field(default=None)
    idle_timeout_seconds: int | None = attrs.field(default=None, validator=_optional_count)
    env: dict[str, str] | None = attrs.field(default=None, converter=_start_params)
    image: str | None = None
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)

    @upscaling_mode.validator
    def _mode(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and value not in set(AutoscalerOptionsConfig.UpscalingMode):
            modes = ", ".join(f"UpscalingMode.{m.name}" for m in AutoscalerOptionsConfig.UpscalingMode)
            raise ValueError(f"AutoscalerOptionsConfig(upscaling_mode={value!r}) must be one of {modes}")

    @env.validator
    def _env(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (
            not isinstance(value, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise TypeError(
                f"AutoscalerOptionsConfig(env=...) must map names to string values, got {value!r}"
            )


def _worker_groups(value: Iterable[WorkerNodeConfig]) -> list[WorkerNodeConfig]:
    if isinstance(value, WorkerNodeConfig):
        raise TypeError("RayJobConfig(worker_node_config=...) is a list: write [WorkerNodeConfig(...)]")
    return list(value)


@attrs.define(frozen=True, kw_only=True)
class RayJobConfig:
    """``@task(task_config=RayJobConfig(...))``: run the task with a Ray cluster.

    :ivar worker_node_config: the worker groups (may be empty: a head-only cluster).
    :ivar head_node_config: the head's configuration.
    :ivar enable_autoscaling: let KubeRay's in-tree autoscaler scale the worker groups between
        ``min_replicas`` and ``max_replicas``.
    :ivar autoscaler_options: options of the autoscaler.
    :ivar runtime_env: Ray's runtime environment (``{"pip": [...], "env_vars": {...}}``) for the job;
        locally it is passed to ``ray.init``.
    :ivar address: an existing Ray cluster for local runs (``"ray://host:10001"``,
        ``"host:6379"``); None starts a local instance for the task.
    :ivar shutdown_after_job_finishes: delete the cluster when the job ends (with
        ``ttl_seconds_after_finished``).
    :ivar ttl_seconds_after_finished: seconds to keep the cluster after the job ends.
    """

    worker_node_config: list[WorkerNodeConfig] = attrs.field(converter=_worker_groups)
    head_node_config: HeadNodeConfig | None = attrs.field(default=None)
    enable_autoscaling: bool = False
    autoscaler_options: AutoscalerOptionsConfig | None = attrs.field(default=None)
    runtime_env: dict[str, Any] | None = attrs.field(default=None)
    address: str | None = attrs.field(default=None)
    shutdown_after_job_finishes: bool = False
    ttl_seconds_after_finished: int | None = attrs.field(default=None, validator=_optional_count)

    @worker_node_config.validator
    def _groups(self, _attribute: attrs.Attribute[Any], value: list[Any]) -> None:
        seen: set[str] = set()
        for i, group in enumerate(value):
            if not isinstance(group, WorkerNodeConfig):
                raise TypeError(
                    f"RayJobConfig(worker_node_config=[...]) item {i} must be a WorkerNodeConfig, got {type(group).__name__}"
                )
            if group.group_name in seen:
                raise ValueError(
                    f"RayJobConfig: two worker groups are named {group.group_name!r}; KubeRay needs unique names"
                )
            seen.add(group.group_name)

    @head_node_config.validator
    def _head(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, HeadNodeConfig):
            raise TypeError(
                f"RayJobConfig(head_node_config=...) must be a HeadNodeConfig, got {type(value).__name__}"
            )

    @autoscaler_options.validator
    def _autoscaler(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, AutoscalerOptionsConfig):
            raise TypeError(
                f"RayJobConfig(autoscaler_options=...) must be an AutoscalerOptionsConfig, got {type(value).__name__}"
            )

    @runtime_env.validator
    def _runtime_env(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise TypeError(
                f"RayJobConfig(runtime_env=...) must be a dict like {{'pip': ['numpy']}}, got {type(value).__name__}"
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"RayJobConfig(runtime_env=...) must be JSON-serializable (it travels as JSON and YAML): {exc}"
            ) from exc

    @address.validator
    def _address(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"RayJobConfig(address=...) must be a non-empty string or None, got {value!r}")


def _pod_resources(requests: Resources | None, limits: Resources | None) -> dict[str, dict[str, str]]:
    """A container's resources as flytekit's ``pod_spec_from_resources`` writes them: the one
    section given stands for both."""

    def section(resources: Resources | None) -> dict[str, str] | None:
        if resources is None:
            return None
        return {
            k8s: getattr(resources, name)
            for name, k8s in _K8S_NAMES.items()
            if getattr(resources, name) is not None
        }

    req, lim = section(requests), section(limits)
    req = req or lim
    lim = lim or req
    out: dict[str, dict[str, str]] = {}
    if lim:
        out["limits"] = lim
    if req:
        out["requests"] = req
    return out


def _k8s_pod(container: str, requests: Resources | None, limits: Resources | None) -> tasks_pb2.K8sPod | None:
    if requests is None and limits is None:
        return None
    spec = struct_pb2.Struct()
    spec.update({"containers": [{"name": container, "resources": _pod_resources(requests, limits)}]})
    pod = tasks_pb2.K8sPod(pod_spec=spec, primary_container_name=_FLYTEKIT_PRIMARY_CONTAINER)
    pod.metadata.SetInParent()  # flytekit writes an empty metadata message
    return pod


def _resources_pb(requests: Resources | None, limits: Resources | None) -> tasks_pb2.Resources | None:
    if requests is None and limits is None:
        return None

    def entries(resources: Resources | None) -> list[tasks_pb2.Resources.ResourceEntry]:
        if resources is None:
            return []
        return [
            tasks_pb2.Resources.ResourceEntry(name=int(e.name), value=e.value) for e in resources.entries()
        ]

    return tasks_pb2.Resources(requests=entries(requests), limits=entries(limits))


def _worker_group_pb(group: WorkerNodeConfig) -> ray_pb2.WorkerGroupSpec:
    # flytekit's WorkerGroupSpec: the bounds default to replicas and never exclude it.
    replicas = group.replicas
    spec = ray_pb2.WorkerGroupSpec(
        group_name=group.group_name,
        replicas=replicas,
        min_replicas=replicas if group.min_replicas is None else min(replicas, group.min_replicas),
        max_replicas=replicas if group.max_replicas is None else max(replicas, group.max_replicas),
        ray_start_params=group.ray_start_params or {},
    )
    pod = _k8s_pod(WORKER_CONTAINER, group.requests, group.limits)
    if pod is not None:
        spec.k8s_pod.CopyFrom(pod)
    return spec


def _autoscaler_pb(options: AutoscalerOptionsConfig) -> ray_pb2.AutoscalerOptions:
    message = ray_pb2.AutoscalerOptions(
        upscaling_mode=int(options.upscaling_mode or 0),
        idle_timeout_seconds=options.idle_timeout_seconds or 0,
        image=options.image or "",
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in (options.env or {}).items()],
    )
    resources = _resources_pb(options.requests, options.limits)
    if resources is not None:
        message.resources.CopyFrom(resources)
    return message


def to_custom(config: RayJobConfig) -> dict[str, Any]:
    """``TaskTemplate.custom`` for ``config``: flyteidl's ``RayJob`` as a JSON dict."""
    cluster = ray_pb2.RayCluster(
        worker_group_spec=[_worker_group_pb(g) for g in config.worker_node_config],
        enable_autoscaling=bool(config.enable_autoscaling),
    )
    head = config.head_node_config
    if head is not None:
        cluster.head_group_spec.SetInParent()
        cluster.head_group_spec.ray_start_params.update(head.ray_start_params or {})
        pod = _k8s_pod(HEAD_CONTAINER, head.requests, head.limits)
        if pod is not None:
            cluster.head_group_spec.k8s_pod.CopyFrom(pod)
    if config.autoscaler_options is not None:
        cluster.autoscaler_options.CopyFrom(_autoscaler_pb(config.autoscaler_options))
    job = ray_pb2.RayJob(
        ray_cluster=cluster,
        shutdown_after_job_finishes=bool(config.shutdown_after_job_finishes),
        ttl_seconds_after_finished=config.ttl_seconds_after_finished or 0,
    )
    if config.runtime_env:
        # Both, as flytekit writes them: KubeRay >= 1.1 reads the YAML; older FlytePropellers
        # decode the base64 JSON.
        job.runtime_env = base64.b64encode(json.dumps(config.runtime_env).encode()).decode()
        job.runtime_env_yaml = yaml.dump(config.runtime_env)
    return dict(MessageToDict(job))


def from_custom(custom: dict[str, Any] | None) -> ray_pb2.RayJob:
    """The ``RayJob`` message in a template's ``custom`` (an empty one for None); unknown fields
    are an error naming them."""
    return ParseDict(dict(custom or {}), ray_pb2.RayJob())
