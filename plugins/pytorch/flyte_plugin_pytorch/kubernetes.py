"""The Kubernetes face: a ``PyTorchJob`` of the Kubeflow training operator (``kubeflow.org/v1``).

The manifest has the operator's field names (``spec.pytorchReplicaSpecs.{Master,Worker}`` with
``replicas``, ``restartPolicy`` and a pod ``template``; ``spec.runPolicy``; ``spec.elasticPolicy``)
and is built as FlytePropeller's kfoperators PyTorch plugin builds it from the template's
``DistributedPyTorchTrainingTask``:

- every replica runs the task's ``flytecore-execute`` command line in a container named
  ``pytorch`` (the operator finds it by that name), with the replica's image and resources from
  ``custom``, else the task's;
- ``PyTorch``: one ``Master`` and ``workerReplicas.replicas`` ``Worker`` pods, each one process
  of the job (the operator sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``);
- ``Elastic`` (``elasticConfig`` set): ``Worker`` pods only, and ``spec.elasticPolicy``
  (``rdzvBackend``, ``minReplicas``, ``maxReplicas``, ``nProcPerNode``, ``maxRestarts``); the
  operator gives each pod torchrun's ``PET_*`` variables and the task joins that rendezvous;
- ``runPolicy`` as FlytePropeller's ``ParseRunPolicy``: ``cleanPodPolicy`` always when a run
  policy is given, the others when not zero;
- a ``custom`` of flytekit before task type version 1 (``{"workers": N}``) is read as
  FlytePropeller reads it (:func:`job_of`);
- ``/dev/shm`` is a memory-backed ``emptyDir`` in every pod (flytekit's ``increase_shared_mem``
  default; the flag does not travel in the template, see the README).

The operator reports progress in ``status.conditions`` (``Created``, ``Running``,
``Restarting``, ``Succeeded``, ``Suspended``, ``Failed``); :func:`phase_of` takes the latest
condition whose status is ``"True"``, as FlytePropeller does.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from flyteidl.core import tasks_pb2
from flyteidl.plugins import pytorch_pb2 as legacy_pytorch_pb2
from flyteidl.plugins.kubeflow import common_pb2, pytorch_pb2
from google.protobuf.json_format import ParseDict

from flyte_plugin_pytorch.config import from_custom
from flytecore.plugin import ErrorKind, K8sTaskContext, TaskExecutionPhase, TaskStatus, k8s_resources

__all__ = [
    "API_VERSION",
    "CONDITIONS",
    "CONTAINER_NAME",
    "KIND",
    "build_resource",
    "current_condition",
    "job_of",
    "phase_of",
]

API_VERSION = "kubeflow.org/v1"
KIND = "PyTorchJob"
CONTAINER_NAME = "pytorch"
"""The container name the training operator requires in every replica (``PytorchJobDefaultContainerName``)."""

SHM_VOLUME = "shm"

CONDITIONS: dict[str, TaskStatus] = {
    "Created": TaskStatus(phase=TaskExecutionPhase.QUEUED, message="JobCreated"),
    "Running": TaskStatus(phase=TaskExecutionPhase.RUNNING, message="job running"),
    "Restarting": TaskStatus(phase=TaskExecutionPhase.RUNNING, message="job restarting"),
    "Succeeded": TaskStatus(phase=TaskExecutionPhase.SUCCEEDED, message="job succeeded"),
    # runPolicy.suspend (e.g. a queue such as Kueue holding the job back): no pods until resumed.
    "Suspended": TaskStatus(phase=TaskExecutionPhase.WAITING_FOR_RESOURCES, message="job suspended"),
    "Failed": TaskStatus(
        phase=TaskExecutionPhase.RETRYABLE_FAILED, message="Job failed", error_kind=ErrorKind.SYSTEM
    ),
}
"""The type of the job's current condition -> the task's status: every condition type the
training operator documents (``JobConditionType`` in ``common_types.go``)."""

_NOT_STARTED = TaskStatus(phase=TaskExecutionPhase.QUEUED, message="JobCreated")

_RESTART_POLICIES = {
    common_pb2.RESTART_POLICY_NEVER: "Never",
    common_pb2.RESTART_POLICY_ON_FAILURE: "OnFailure",
    common_pb2.RESTART_POLICY_ALWAYS: "Always",
}
_CLEAN_POD_POLICIES = {
    common_pb2.CLEANPOD_POLICY_NONE: "None",
    common_pb2.CLEANPOD_POLICY_RUNNING: "Running",
    common_pb2.CLEANPOD_POLICY_ALL: "All",
}
def _replica_fields(spec: pytorch_pb2.DistributedPyTorchTrainingReplicaSpec) -> tuple[int, str, Any, int]:
    """``(replicas, image, resources or None, restart_policy)``: from ``common`` when set (the
    newer flyteidl field), else from the older fields flytekit writes, as FlytePropeller reads them."""
    source: Any = spec.common if spec.HasField("common") else spec
    resources = source.resources if source.HasField("resources") else None
    return source.replicas, source.image, resources, source.restart_policy


def _resources(
    custom_resources: tasks_pb2.Resources | None, ctx: K8sTaskContext
) -> dict[str, dict[str, str]]:
    """A replica's resources from ``custom``, else the task's."""
    if custom_resources is None or not (custom_resources.requests or custom_resources.limits):
        return k8s_resources(ctx.resources)
    return k8s_resources(custom_resources)


def _replica_spec(
    ctx: K8sTaskContext,
    spec: pytorch_pb2.DistributedPyTorchTrainingReplicaSpec,
    *,
    replicas: int | None = None,
) -> dict[str, Any]:
    """One entry of ``pytorchReplicaSpecs``; ``replicas`` overrides the spec's (the master's is 1)."""
    count, image, custom_resources, restart_policy = _replica_fields(spec)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image or ctx.image,
        "args": list(ctx.command),
        "env": ctx.env_list(),
        "volumeMounts": [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}],
    }
    resources = _resources(custom_resources, ctx)
    if resources:
        container["resources"] = resources
    template_metadata: dict[str, Any] = {"labels": dict(ctx.labels)}
    if ctx.annotations:
        template_metadata["annotations"] = dict(ctx.annotations)
    return {
        "replicas": count if replicas is None else replicas,
        "restartPolicy": _RESTART_POLICIES.get(restart_policy, "Never"),
        "template": {
            "metadata": template_metadata,
            "spec": {
                "containers": [container],
                "volumes": [{"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}}],
            },
        },
    }


def _run_policy(job: pytorch_pb2.DistributedPyTorchTrainingTask) -> dict[str, Any]:
    """``spec.runPolicy`` as FlytePropeller's ``ParseRunPolicy`` writes it (empty without one)."""
    if not job.HasField("run_policy"):
        return {}
    policy = job.run_policy
    out: dict[str, Any] = {"cleanPodPolicy": _CLEAN_POD_POLICIES.get(policy.clean_pod_policy, "None")}
    if policy.ttl_seconds_after_finished:
        out["ttlSecondsAfterFinished"] = policy.ttl_seconds_after_finished
    if policy.active_deadline_seconds:
        out["activeDeadlineSeconds"] = policy.active_deadline_seconds
    if policy.backoff_limit:
        out["backoffLimit"] = policy.backoff_limit
    return out


def job_of(custom: dict[str, Any] | None) -> pytorch_pb2.DistributedPyTorchTrainingTask:
    """The job a template's ``custom`` describes, as ``flyteidl.plugins.kubeflow``'s message.

    ``custom`` of flytekit before task type version 1 (``{"workers": N, "elasticConfig": ...}``,
    ``flyteidl.plugins.DistributedPyTorchTrainingTask``) is read as FlytePropeller reads it: one
    master, ``workers`` workers, the task's image and resources, no run policy.
    """
    if custom and "workers" in custom:
        legacy = ParseDict(dict(custom), legacy_pytorch_pb2.DistributedPyTorchTrainingTask())
        job = pytorch_pb2.DistributedPyTorchTrainingTask(
            worker_replicas=pytorch_pb2.DistributedPyTorchTrainingReplicaSpec(replicas=legacy.workers),
            master_replicas=pytorch_pb2.DistributedPyTorchTrainingReplicaSpec(replicas=1),
        )
        if legacy.HasField("elastic_config"):
            job.elastic_config.ParseFromString(legacy.elastic_config.SerializeToString())
        return job
    return from_custom(custom)


def build_resource(ctx: K8sTaskContext) -> dict[str, Any]:
    """The ``PyTorchJob`` manifest for one attempt of a ``pytorch`` task.

    :raises ValueError: the template asks for no workers (FlytePropeller refuses it too).
    """
    job = job_of(ctx.template.custom)
    worker = _replica_spec(ctx, job.worker_replicas)
    if worker["replicas"] <= 0:
        raise ValueError(
            f"task {ctx.template.id.name!r}: a PyTorchJob needs at least one worker "
            f"(custom.workerReplicas.replicas is {worker['replicas']})"
        )
    spec: dict[str, Any] = {"runPolicy": _run_policy(job), "pytorchReplicaSpecs": {}}
    if job.HasField("elastic_config"):
        elastic = job.elastic_config
        spec["elasticPolicy"] = {
            "rdzvBackend": elastic.rdzv_backend,
            "minReplicas": elastic.min_replicas,
            "maxReplicas": elastic.max_replicas,
            "nProcPerNode": elastic.nproc_per_node,
            "maxRestarts": elastic.max_restarts,
        }
    else:
        spec["pytorchReplicaSpecs"]["Master"] = _replica_spec(ctx, job.master_replicas, replicas=1)
    spec["pytorchReplicaSpecs"]["Worker"] = worker
    metadata: dict[str, Any] = {"name": ctx.name, "namespace": ctx.namespace, "labels": dict(ctx.labels)}
    if ctx.annotations:
        metadata["annotations"] = dict(ctx.annotations)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _transition_time(condition: dict[str, Any]) -> _dt.datetime:
    text = condition.get("lastTransitionTime") or ""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return _dt.datetime.min.replace(tzinfo=_dt.UTC)  # no time: older than any (Go's zero time)
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def current_condition(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The job's current condition: the latest (``lastTransitionTime``) whose status is
    ``"True"``; of equal times the one listed last. None when the operator wrote none."""
    conditions = list((resource.get("status") or {}).get("conditions") or [])
    ordered = sorted(
        enumerate(conditions), key=lambda item: (_transition_time(item[1]), item[0]), reverse=True
    )
    for _index, condition in ordered:
        if str(condition.get("status", "")) == "True":
            return dict(condition)
    return None


def phase_of(resource: dict[str, Any]) -> TaskStatus:
    """The task's status from a ``PyTorchJob`` read back from the API server."""
    conditions = (resource.get("status") or {}).get("conditions") or []
    if not conditions:
        return _NOT_STARTED  # just created: the operator has not written a status yet
    condition = current_condition(resource)
    if condition is None:
        types = ", ".join(f"{c.get('type')}={c.get('status')}" for c in conditions)
        return TaskStatus(phase=TaskExecutionPhase.QUEUED, message=f"no current condition yet ({types})")
    kind = str(condition.get("type", ""))
    known = CONDITIONS.get(kind)
    reason, detail = condition.get("reason", ""), condition.get("message", "")
    if known is None:
        # A condition newer than this plugin: the job exists and has not ended.
        return TaskStatus(
            phase=TaskExecutionPhase.RUNNING, message=f"job condition {kind!r}: {reason} - {detail}"
        )
    if kind == "Failed":
        # FlytePropeller's words, so a failure reads the same on both platforms.
        return TaskStatus(
            phase=known.phase, message=f"Job failed:\n\t{reason} - {detail}", error_kind=known.error_kind
        )
    message = f"{known.message}: {reason} - {detail}" if (reason or detail) else known.message
    return TaskStatus(phase=known.phase, message=message, error_kind=known.error_kind)
