"""The Kubernetes face: the DaskJob manifest in the operator's field names, every job status."""

from __future__ import annotations

from typing import Any

import dask_tasks
import pytest

from flytecore.plugin import ErrorKind, PluginHost, TaskExecutionPhase, TaskStatus
from flytecore.testing import k8s_task_context, task_template, unpublished_fields

COMMAND = (
    "flytecore-execute", "--inputs", "s3://bucket/n0/inputs.pb", "--output-prefix", "s3://bucket/n0/0",
    "--resolver", "flytecore.sdk.resolver.default", "--", "task-module", "dask_tasks", "task-name", "configured",
)  # fmt: skip


# The field names the dask-kubernetes operator publishes for a DaskJob (its CRD,
# customresources/daskjob.yaml + templates.yaml: DaskCluster, DaskScheduler, DaskWorker) and the
# Kubernetes core/v1 fields its PodSpec and ServiceSpec refer to. None: any value.
_CONTAINER = {
    "name": None, "image": None, "imagePullPolicy": None, "command": None, "args": None,
    "env": [{"name": None, "value": None}],
    "resources": {"requests": None, "limits": None},
    "ports": [{"name": None, "containerPort": None, "protocol": None}],
}  # fmt: skip
_POD_SPEC = {"restartPolicy": None, "containers": [_CONTAINER]}
_SIMPLE_META = {"labels": None, "annotations": None}
_SERVICE_SPEC = {
    "type": None, "selector": None,
    "ports": [{"name": None, "protocol": None, "port": None, "targetPort": None}],
}  # fmt: skip
DASKJOB_SCHEMA = {
    "apiVersion": None,
    "kind": None,
    "metadata": {"name": None, "namespace": None, "labels": None, "annotations": None},
    "spec": {
        "job": {"metadata": _SIMPLE_META, "spec": _POD_SPEC},
        "cluster": {
            "metadata": _SIMPLE_META,
            "spec": {
                "idleTimeout": None,
                "scheduler": {"spec": _POD_SPEC, "service": _SERVICE_SPEC},
                "worker": {"replicas": None, "spec": _POD_SPEC},
            },
        },
    },
}
# Required by the CRD: a DaskJob without them is rejected by the API server.
REQUIRED = [
    ("spec", "job", "spec"),
    ("spec", "cluster", "spec", "scheduler", "spec"),
    ("spec", "cluster", "spec", "scheduler", "service"),
    ("spec", "cluster", "spec", "worker", "spec"),
]


def _manifest(strict_host: PluginHost, task: Any = dask_tasks.configured) -> dict[str, Any]:
    template = task_template(task, image="registry.local/app:1")
    face = strict_host.task_types["dask"].kubernetes
    assert face is not None
    ctx = k8s_task_context(
        template, COMMAND, env={"FLYTE_INTERNAL_EXECUTION_ID": "e1", "A": "b"}, annotations={"team": "data"}
    )
    return face.build_resource(ctx)


def test_manifest_is_a_daskjob(strict_host: PluginHost) -> None:
    m = _manifest(strict_host)
    assert (m["apiVersion"], m["kind"]) == ("kubernetes.dask.org/v1", "DaskJob")
    assert m["metadata"] == {
        "name": "e1-n0-0",
        "namespace": "flytesnacks-development",
        "labels": {"execution-id": "e1"},
        "annotations": {"team": "data"},
    }
    assert set(m["spec"]) == {"job", "cluster"}
    assert set(m["spec"]["cluster"]["spec"]) == {"scheduler", "worker"}


@pytest.mark.parametrize(
    "task", [dask_tasks.configured, dask_tasks.array_sum], ids=["configured", "defaults"]
)
def test_manifest_uses_only_the_operators_published_field_names(strict_host: PluginHost, task: Any) -> None:
    m = _manifest(strict_host, task)
    assert unpublished_fields(m, DASKJOB_SCHEMA) == []
    for path in REQUIRED:
        node: Any = m
        for key in path:
            assert key in node, f"required field {'.'.join(path)} is missing"
            node = node[key]


def test_the_schema_check_catches_a_misspelt_field() -> None:
    wrong = {"spec": {"cluster": {"spec": {"workers": {"replicas": 2}}}}}
    assert unpublished_fields(wrong, DASKJOB_SCHEMA) == [".spec.cluster.spec.workers"]


def test_job_runner_runs_the_entrypoint_with_the_tasks_image_env_and_resources(
    strict_host: PluginHost,
) -> None:
    pod = _manifest(strict_host)["spec"]["job"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [job] = pod["containers"]
    assert job["name"] == "job"  # the operator finds the runner container by this name
    assert job["image"] == "registry.local/app:1"
    assert job["args"] == list(COMMAND)
    assert {"name": "FLYTE_INTERNAL_EXECUTION_ID", "value": "e1"} in job["env"]
    assert job["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}


def test_scheduler_and_workers_follow_the_config(strict_host: PluginHost) -> None:
    cluster = _manifest(strict_host)["spec"]["cluster"]["spec"]
    [scheduler] = cluster["scheduler"]["spec"]["containers"]
    assert scheduler["image"] == "ghcr.io/dask/dask:2024.1.0"
    assert scheduler["args"] == ["dask-scheduler"]
    assert scheduler["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}
    assert {p["name"]: p["containerPort"] for p in scheduler["ports"]} == {
        "tcp-comm": 8786,
        "dashboard": 8787,
    }
    service = cluster["scheduler"]["service"]
    assert service["type"] == "ClusterIP"
    assert service["selector"] == {"dask.org/cluster-name": "e1-n0-0", "dask.org/component": "scheduler"}
    worker = cluster["worker"]
    assert worker["replicas"] == 4
    [container] = worker["spec"]["containers"]
    assert container["name"] == "worker"
    assert container["image"] == "registry.local/app:1"  # no worker image: the task's
    assert container["args"][:3] == ["dask-worker", "--name", "$(DASK_WORKER_NAME)"]
    assert container["args"][-4:] == ["--nthreads", "2", "--memory-limit", "4Gi"]
    assert container["resources"] == {"limits": {"cpu": "2", "memory": "4Gi"}}


def test_components_without_resources_take_the_tasks(strict_host: PluginHost) -> None:
    m = _manifest(strict_host, dask_tasks.array_sum)
    cluster = m["spec"]["cluster"]["spec"]
    assert cluster["worker"]["replicas"] == 2
    assert cluster["scheduler"]["spec"]["containers"][0]["image"] == "registry.local/app:1"
    assert "resources" not in cluster["worker"]["spec"]["containers"][0]  # the task sets none either


@pytest.mark.parametrize(
    ("job_status", "phase"),
    [
        (None, TaskExecutionPhase.INITIALIZING),  # just created: the operator has not written a status
        ("", TaskExecutionPhase.INITIALIZING),
        ("JobCreated", TaskExecutionPhase.INITIALIZING),
        ("ClusterCreated", TaskExecutionPhase.INITIALIZING),
        ("Running", TaskExecutionPhase.RUNNING),
        ("Successful", TaskExecutionPhase.SUCCEEDED),
        ("Failed", TaskExecutionPhase.RETRYABLE_FAILED),
    ],
)
def test_every_operator_job_status_maps_to_a_phase(
    strict_host: PluginHost, job_status: str | None, phase: TaskExecutionPhase
) -> None:
    face = strict_host.task_types["dask"].kubernetes
    assert face is not None
    resource: dict[str, Any] = {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskJob",
        "metadata": {"name": "x"},
    }
    if job_status is not None:
        resource["status"] = {"jobStatus": job_status, "jobRunnerPodName": "x-runner"}
    status = face.phase_of(resource)
    assert isinstance(status, TaskStatus)
    assert status.phase == phase
    assert (status.error_kind == ErrorKind.SYSTEM) == (job_status == "Failed")


def test_an_unknown_status_is_still_running(strict_host: PluginHost) -> None:
    face = strict_host.task_types["dask"].kubernetes
    assert face is not None
    status = face.phase_of({"status": {"jobStatus": "SomethingNew"}})
    assert status.phase == TaskExecutionPhase.RUNNING
    assert "SomethingNew" in status.message
