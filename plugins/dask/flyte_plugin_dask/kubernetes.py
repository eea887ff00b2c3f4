"""The Kubernetes face: a ``DaskJob`` of the dask-kubernetes operator (``kubernetes.dask.org/v1``).

The manifest has the operator's field names (``spec.job.spec`` a PodSpec with the job runner
container ``job``, ``spec.cluster.spec.scheduler.{spec,service}``,
``spec.cluster.spec.worker.{replicas,spec}``), as FlytePropeller's Dask plugin builds it: the
job runner runs the task's ``flytecore-execute`` command line; the scheduler and the workers run
``dask-scheduler`` / ``dask-worker`` in the image and with the resources of the config, else the
task's.

The operator writes ``status.jobStatus``: ``JobCreated``, ``ClusterCreated``, ``Running``,
``Successful``, ``Failed`` (empty right after creation). :func:`phase_of` maps them as
FlytePropeller does.
"""

from __future__ import annotations

from typing import Any

from flyteidl.core import tasks_pb2

from flyte_plugin_dask.config import from_custom
from flytecore.plugin import ErrorKind, K8sTaskContext, TaskExecutionPhase, TaskStatus, k8s_resources

__all__ = ["API_VERSION", "JOB_STATUSES", "KIND", "build_resource", "phase_of"]

API_VERSION = "kubernetes.dask.org/v1"
KIND = "DaskJob"
SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787

JOB_STATUSES: dict[str, TaskStatus] = {
    "": TaskStatus(phase=TaskExecutionPhase.INITIALIZING, message="waiting for the dask operator"),
    "JobCreated": TaskStatus(phase=TaskExecutionPhase.INITIALIZING, message="job created"),
    "ClusterCreated": TaskStatus(phase=TaskExecutionPhase.INITIALIZING, message="cluster created"),
    "Running": TaskStatus(phase=TaskExecutionPhase.RUNNING, message="job running"),
    "Successful": TaskStatus(phase=TaskExecutionPhase.SUCCEEDED, message="job succeeded"),
    "Failed": TaskStatus(
        phase=TaskExecutionPhase.RETRYABLE_FAILED, message="Dask Job failed", error_kind=ErrorKind.SYSTEM
    ),
}
"""``status.jobStatus`` -> the task's status: every status the operator documents."""


def _resources(custom_resources: tasks_pb2.Resources | None, ctx: K8sTaskContext) -> dict[str, dict[str, str]]:
    """A component's resources from the ``DaskJob`` message, else the task's."""
    if custom_resources is None or not (custom_resources.requests or custom_resources.limits):
        return k8s_resources(ctx.resources)
    return k8s_resources(custom_resources)


def _container(name: str, image: str, args: list[str], env: list[dict[str, str]], resources: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args, "env": env}
    if resources:
        container["resources"] = resources
    return container


def build_resource(ctx: K8sTaskContext) -> dict[str, Any]:
    """The ``DaskJob`` manifest for one attempt of a Dask task."""
    job = from_custom(ctx.template.custom)
    env = ctx.env_list()
    metadata: dict[str, Any] = {"name": ctx.name, "namespace": ctx.namespace, "labels": dict(ctx.labels)}
    if ctx.annotations:
        metadata["annotations"] = dict(ctx.annotations)
    scheduler_image = job.scheduler.image or ctx.image
    worker_image = job.workers.image or ctx.image
    workers = job.workers.number_of_workers or 1
    worker_resources = _resources(job.workers.resources if job.workers.HasField("resources") else None, ctx)
    worker_args = ["dask-worker", "--name", "$(DASK_WORKER_NAME)", "--dashboard", "--dashboard-address", str(DASHBOARD_PORT)]
    limits = worker_resources.get("limits", {})
    if "cpu" in limits:
        worker_args += ["--nthreads", str(max(1, _cpu_count(limits["cpu"])))]
    if "memory" in limits:
        worker_args += ["--memory-limit", limits["memory"]]
    scheduler_resources = _resources(
        job.scheduler.resources if job.scheduler.HasField("resources") else None, ctx
    )
    ports = [
        {"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
        {"name": "dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
    ]
    scheduler = _container("scheduler", scheduler_image, ["dask-scheduler"], env, scheduler_resources)
    scheduler["ports"] = ports
    pod_labels = dict(ctx.labels)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "job": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [_container("job", ctx.image, list(ctx.command), env, k8s_resources(ctx.resources))],
                },
            },
            "cluster": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "scheduler": {
                        "spec": {"containers": [scheduler]},
                        "service": {
                            "type": "ClusterIP",
                            "selector": {
                                "dask.org/cluster-name": ctx.name,
                                "dask.org/component": "scheduler",
                            },
                            "ports": [
                                {"name": "tcp-comm", "protocol": "TCP", "port": SCHEDULER_PORT, "targetPort": "tcp-comm"},
                                {"name": "dashboard", "protocol": "TCP", "port": DASHBOARD_PORT, "targetPort": "dashboard"},
                            ],
                        },
                    },
                    "worker": {
                        "replicas": workers,
                        "spec": {"containers": [_container("worker", worker_image, worker_args, env, worker_resources)]},
                    },
                },
            },
        },
    }


def _cpu_count(quantity: str) -> int:
    """Whole CPUs in a Kubernetes CPU quantity (``"2"``, ``"1500m"`` -> 1)."""
    if quantity.endswith("m"):
        return int(quantity[:-1]) // 1000
    return int(float(quantity))


def phase_of(resource: dict[str, Any]) -> TaskStatus:
    """The task's status from a ``DaskJob`` read back from the API server."""
    status = (resource.get("status") or {}).get("jobStatus", "") or ""
    known = JOB_STATUSES.get(status)
    if known is None:
        # A status newer than this plugin: the job exists and has not ended (FlytePropeller's default).
        return TaskStatus(phase=TaskExecutionPhase.RUNNING, message=f"job status {status!r}")
    return known
