"""The Kubernetes face: a ``RayJob`` of KubeRay (``ray.io/v1``).

The manifest has KubeRay's field names and is built as FlytePropeller's Ray plugin builds it
(flyteplugins ``go/tasks/plugins/k8s/ray/ray.go``, with its default configuration):

- ``spec.entrypoint``: the task's ``flytecore-execute`` command line joined with spaces (an empty
  argument becomes ``''``); KubeRay's submitter runs it with ``ray job submit``, on the head.
- ``spec.rayClusterSpec.headGroupSpec``: ``rayStartParams`` (the config's, plus
  ``include-dashboard``, ``node-ip-address``, ``dashboard-host`` and ``disable-usage-stats`` unless
  given), ``serviceType: NodePort``, ``enableIngress: false`` and a pod template whose container
  ``ray-head`` has the task's image, environment (plus ``MY_POD_IP``) and resources (overlaid
  with the head's ``requests`` / ``limits``), and the ports ``redis`` 6379, ``head`` 10001 (Ray
  client), ``dashboard`` 8265. KubeRay writes the ``ray start`` command itself.
- ``spec.rayClusterSpec.workerGroupSpecs``: per group ``groupName``, ``replicas``,
  ``minReplicas`` / ``maxReplicas`` (clamped around ``replicas``), ``rayStartParams`` (plus
  ``node-ip-address`` and ``disable-usage-stats``) and a container ``ray-worker`` like the head's,
  with the worker environment and a ``ray stop`` pre-stop hook.
- ``enableInTreeAutoscaling``, ``autoscalerOptions``; ``spec.runtimeEnvYAML`` (from
  ``runtimeEnvYaml``, else the base64 JSON ``runtimeEnv`` converted); ``shutdownAfterJobFinishes``
  (FlytePropeller's default: true, after 3600 s; the task's ``ttl_seconds_after_finished`` when it
  sets ``shutdown_after_job_finishes``); ``submitterPodTemplate``: the task's pod.

KubeRay writes ``status.jobDeploymentStatus`` (the RayJob's lifecycle) and ``status.jobStatus``
(the Ray job's, from the dashboard); :func:`phase_of` maps them as FlytePropeller does, and also
the statuses FlytePropeller does not know (see :data:`DEPLOYMENT_STATUSES`).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import yaml
from flyteidl.core import tasks_pb2
from flyteidl.plugins import ray_pb2
from google.protobuf.json_format import MessageToDict

from flyte_plugin_ray.config import HEAD_CONTAINER, WORKER_CONTAINER, from_custom
from flytecore.plugin import ErrorKind, K8sTaskContext, TaskExecutionPhase, TaskStatus, k8s_resources

__all__ = [
    "API_VERSION",
    "DEFAULT_TTL_SECONDS_AFTER_FINISHED",
    "DEPLOYMENT_STATUSES",
    "JOB_STATUSES",
    "KIND",
    "build_resource",
    "entrypoint",
    "phase_of",
]

API_VERSION = "ray.io/v1"
KIND = "RayJob"

# FlytePropeller's Ray plugin defaults (its config.go).
SERVICE_TYPE = "NodePort"
DEFAULT_SHUTDOWN_AFTER_JOB_FINISHES = True
DEFAULT_TTL_SECONDS_AFTER_FINISHED = 3600
_HEAD_START_DEFAULTS = {
    "include-dashboard": "true",
    "node-ip-address": "$MY_POD_IP",
    "dashboard-host": "0.0.0.0",
    "disable-usage-stats": "true",
}
_WORKER_START_DEFAULTS = {"node-ip-address": "$MY_POD_IP", "disable-usage-stats": "true"}

# The ports FlytePropeller gives both the head's and the workers' Ray container.
_PORTS = [
    {"name": "redis", "containerPort": 6379},
    {"name": "head", "containerPort": 10001},
    {"name": "dashboard", "containerPort": 8265},
]


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def _resource_env(name: str, resource: str) -> dict[str, Any]:
    return {
        "name": name,
        "valueFrom": {"resourceFieldRef": {"containerName": WORKER_CONTAINER, "resource": resource}},
    }


_HEAD_ENV = [_field_env("MY_POD_IP", "status.podIP")]
_WORKER_ENV = [
    {"name": "RAY_DISABLE_DOCKER_CPU_WARNING", "value": "1"},
    {"name": "TYPE", "value": "worker"},
    _resource_env("CPU_REQUEST", "requests.cpu"),
    _resource_env("CPU_LIMITS", "limits.cpu"),
    # FlytePropeller points these two at the CPU quantities (a slip in its ray.go); the memory
    # is what their names promise.
    _resource_env("MEMORY_REQUESTS", "requests.memory"),
    _resource_env("MEMORY_LIMITS", "limits.memory"),
    _field_env("MY_POD_NAME", "metadata.name"),
    _field_env("MY_POD_IP", "status.podIP"),
]
_WORKER_LIFECYCLE = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}

_UPSCALING_MODES = {
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_DEFAULT: "Default",
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_CONSERVATIVE: "Conservative",
    ray_pb2.AutoscalerOptions.UPSCALING_MODE_AGGRESSIVE: "Aggressive",
}
def entrypoint(command: tuple[str, ...] | list[str]) -> str:
    """``spec.entrypoint`` for a container command line, joined as FlytePropeller joins it: with
    spaces, an empty argument written ``''`` so that it is not lost."""
    return " ".join(arg if arg != "" else "''" for arg in command)


def _overlay_resources(
    base: dict[str, dict[str, str]], k8s_pod: tasks_pb2.K8sPod | None, container: str
) -> dict[str, dict[str, str]]:
    """The task's resources with the group's pod spec laid over them, key by key (FlytePropeller
    merges the group's ``k8sPod`` onto the task's pod spec)."""
    out = copy.deepcopy(base)
    if k8s_pod is None or not k8s_pod.HasField("pod_spec"):
        return out
    pod_spec = MessageToDict(k8s_pod.pod_spec)
    for item in pod_spec.get("containers") or []:
        if item.get("name") != container:
            continue
        for section in ("requests", "limits"):
            values = (item.get("resources") or {}).get(section) or {}
            if values:
                out.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
    return out


def _pod_labels(ctx: K8sTaskContext, k8s_pod: tasks_pb2.K8sPod | None) -> dict[str, Any]:
    labels = dict(ctx.labels)
    annotations = dict(ctx.annotations)
    if k8s_pod is not None and k8s_pod.HasField("metadata"):
        labels.update(k8s_pod.metadata.labels)
        annotations.update(k8s_pod.metadata.annotations)
    metadata: dict[str, Any] = {"labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def _ray_container(
    name: str, ctx: K8sTaskContext, extra_env: list[dict[str, Any]], resources: dict[str, dict[str, str]]
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": ctx.image,
        "env": ctx.env_list() + copy.deepcopy(extra_env),
        "ports": copy.deepcopy(_PORTS),
    }
    if resources:
        container["resources"] = resources
    return container


def _head_group(ctx: K8sTaskContext, job: ray_pb2.RayJob) -> dict[str, Any]:
    has_head = job.ray_cluster.HasField("head_group_spec")
    head = job.ray_cluster.head_group_spec
    start_params = {**dict(head.ray_start_params)} if has_head else {}
    for key, value in _HEAD_START_DEFAULTS.items():
        start_params.setdefault(key, value)
    k8s_pod = head.k8s_pod if has_head and head.HasField("k8s_pod") else None
    resources = _overlay_resources(k8s_resources(ctx.resources), k8s_pod, HEAD_CONTAINER)
    return {
        "serviceType": SERVICE_TYPE,
        "enableIngress": False,
        "rayStartParams": start_params,
        "template": {
            "metadata": _pod_labels(ctx, k8s_pod),
            "spec": {"containers": [_ray_container(HEAD_CONTAINER, ctx, _HEAD_ENV, resources)]},
        },
    }


def _worker_group(ctx: K8sTaskContext, group: ray_pb2.WorkerGroupSpec) -> dict[str, Any]:
    start_params = dict(group.ray_start_params)
    for key, value in _WORKER_START_DEFAULTS.items():
        start_params.setdefault(key, value)
    k8s_pod = group.k8s_pod if group.HasField("k8s_pod") else None
    resources = _overlay_resources(k8s_resources(ctx.resources), k8s_pod, WORKER_CONTAINER)
    container = _ray_container(WORKER_CONTAINER, ctx, _WORKER_ENV, resources)
    container["lifecycle"] = copy.deepcopy(_WORKER_LIFECYCLE)
    return {
        "groupName": group.group_name,
        "replicas": group.replicas,
        "minReplicas": min(group.min_replicas, group.replicas),
        "maxReplicas": max(group.max_replicas, group.replicas),
        "rayStartParams": start_params,
        "template": {"metadata": _pod_labels(ctx, k8s_pod), "spec": {"containers": [container]}},
    }


def _autoscaler_options(options: ray_pb2.AutoscalerOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    resources = k8s_resources(options.resources)
    if resources:
        out["resources"] = resources
    if options.image:
        out["image"] = options.image
    if options.env:
        out["env"] = [{"name": e.key, "value": e.value} for e in options.env]
    if options.idle_timeout_seconds > 0:
        out["idleTimeoutSeconds"] = options.idle_timeout_seconds
    if options.upscaling_mode in _UPSCALING_MODES:
        out["upscalingMode"] = _UPSCALING_MODES[options.upscaling_mode]
    return out


def _runtime_env_yaml(job: ray_pb2.RayJob) -> str:
    """``runtimeEnvYaml``, or the base64 JSON ``runtimeEnv`` (flytekit before 1.11) as YAML."""
    if job.runtime_env_yaml or not job.runtime_env:
        return str(job.runtime_env_yaml)
    try:
        return str(yaml.safe_dump(json.loads(base64.b64decode(job.runtime_env))))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the task's custom runtimeEnv is not base64-encoded JSON: {exc}") from exc


def build_resource(ctx: K8sTaskContext) -> dict[str, Any]:
    """The ``RayJob`` manifest for one attempt of a Ray task."""
    job = from_custom(ctx.template.custom)
    metadata: dict[str, Any] = {"name": ctx.name, "namespace": ctx.namespace, "labels": dict(ctx.labels)}
    if ctx.annotations:
        metadata["annotations"] = dict(ctx.annotations)
    cluster: dict[str, Any] = {
        "headGroupSpec": _head_group(ctx, job),
        "workerGroupSpecs": [_worker_group(ctx, group) for group in job.ray_cluster.worker_group_spec],
        "enableInTreeAutoscaling": job.ray_cluster.enable_autoscaling,
    }
    if job.ray_cluster.HasField("autoscaler_options"):
        cluster["autoscalerOptions"] = _autoscaler_options(job.ray_cluster.autoscaler_options)
    shutdown = DEFAULT_SHUTDOWN_AFTER_JOB_FINISHES
    ttl = DEFAULT_TTL_SECONDS_AFTER_FINISHED
    if job.shutdown_after_job_finishes:
        shutdown, ttl = True, job.ttl_seconds_after_finished
    submitter: dict[str, Any] = {
        "name": ctx.name,
        "image": ctx.image,
        "args": list(ctx.command),
        "env": ctx.env_list(),
    }
    task_resources = k8s_resources(ctx.resources)
    if task_resources:
        submitter["resources"] = task_resources
    spec: dict[str, Any] = {
        "entrypoint": entrypoint(ctx.command),
        "rayClusterSpec": cluster,
        "submitterPodTemplate": {
            "metadata": _pod_labels(ctx, None),
            "spec": {"restartPolicy": "Never", "containers": [submitter]},
        },
    }
    # KubeRay's omitempty fields: left out when empty, as the Go client writes them.
    runtime_env_yaml = _runtime_env_yaml(job)
    if runtime_env_yaml:
        spec["runtimeEnvYAML"] = runtime_env_yaml
    if shutdown:
        spec["shutdownAfterJobFinishes"] = True
    if ttl:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


# --- status --------------------------------------------------------------------------------

_QUEUED, _INITIALIZING, _RUNNING = (
    TaskExecutionPhase.QUEUED,
    TaskExecutionPhase.INITIALIZING,
    TaskExecutionPhase.RUNNING,
)

DEPLOYMENT_STATUSES: dict[str, tuple[TaskExecutionPhase, str]] = {
    "": (_QUEUED, "Scheduling"),
    "Initializing": (_INITIALIZING, "cluster is creating"),
    "Waiting": (_INITIALIZING, "cluster is ready, waiting for the job to be submitted"),
    "Running": (_RUNNING, "job is running"),
    "Complete": (TaskExecutionPhase.SUCCEEDED, "job succeeded"),
    "Failed": (TaskExecutionPhase.RETRYABLE_FAILED, "job failed"),
    "ValidationFailed": (TaskExecutionPhase.FAILED, "the RayJob is invalid"),
    "Suspending": (_QUEUED, "Suspending"),
    "Suspended": (_QUEUED, "Suspended"),
    "Retrying": (_INITIALIZING, "job failed, a new cluster is creating for the next try"),
    "Scheduling": (_QUEUED, "waiting for the job's schedule"),
    "Scheduled": (_QUEUED, "waiting for the job's schedule"),
}
"""``status.jobDeploymentStatus`` -> the task's phase, for every status KubeRay defines (its
``JobDeploymentStatus`` constants, incl. ``Scheduling`` / ``Scheduled`` of cron RayJobs). As
FlytePropeller: none yet, Suspending and Suspended are QUEUED, Initializing INITIALIZING, Running
RUNNING, Complete SUCCEEDED, Failed a retryable failure. Beyond it: Waiting and Retrying are
INITIALIZING, ValidationFailed a permanent user error (the manifest is wrong, retrying cannot
help). ``status.jobStatus`` refines Complete and Failed (:func:`phase_of`)."""

JOB_STATUSES = ("", "PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED")
"""``status.jobStatus`` values (Ray's ``JobStatus``; empty before the job is submitted)."""


def phase_of(resource: dict[str, Any]) -> TaskStatus:
    """The task's status from a ``RayJob`` read back from the API server.

    ``status.message`` (KubeRay's explanation) is added to the message. A Complete job whose
    Ray job was STOPPED did not finish its work: a retryable system failure. A Failed job whose
    Ray job FAILED (KubeRay's reason ``AppFailed``) failed in the task's code: a user error;
    otherwise (submission failed, deadline exceeded, …) a system error, as FlytePropeller says.
    """
    name = (resource.get("metadata") or {}).get("name", "")
    status = resource.get("status") or {}
    deployment = status.get("jobDeploymentStatus") or ""
    job_status = status.get("jobStatus") or ""
    reason = status.get("reason") or ""
    detail = status.get("message") or ""

    def said(text: str) -> str:
        return f"{text}: {detail}" if detail else text

    known = DEPLOYMENT_STATUSES.get(deployment)
    if known is None:
        # A status newer than this plugin: the job exists and has not ended.
        return TaskStatus(
            phase=_RUNNING, message=said(f"job deployment status {deployment!r}, job status {job_status!r}")
        )
    phase, text = known
    if deployment == "Running" and job_status:
        return TaskStatus(phase=phase, message=said(f"job is {job_status}"))
    if deployment == "Complete" and job_status == "STOPPED":
        return TaskStatus(
            phase=TaskExecutionPhase.RETRYABLE_FAILED,
            message=said(f"Ray job {name} was stopped"),
            error_kind=ErrorKind.SYSTEM,
        )
    if deployment == "Complete" and job_status == "FAILED":  # KubeRay before 1.2 completes failed jobs
        return TaskStatus(
            phase=TaskExecutionPhase.RETRYABLE_FAILED,
            message=said(f"Failed to run Ray job {name} with error: [AppFailed]"),
            error_kind=ErrorKind.USER,
        )
    if deployment == "Failed":
        user = job_status == "FAILED" or reason == "AppFailed"
        return TaskStatus(
            phase=phase,
            message=f"Failed to run Ray job {name} with error: [{reason}] {detail}".rstrip(),
            error_kind=ErrorKind.USER if user else ErrorKind.SYSTEM,
        )
    if deployment == "ValidationFailed":
        return TaskStatus(
            phase=phase, message=said(f"RayJob {name} failed KubeRay's validation"), error_kind=ErrorKind.USER
        )
    return TaskStatus(phase=phase, message=said(text))
