"""The Kubernetes face: the RayJob manifest in KubeRay's field names, every job status."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import ray_tasks
import yaml
from flyte_plugin_ray import HeadNodeConfig, RayJobConfig
from flyte_plugin_ray.kubernetes import DEPLOYMENT_STATUSES

from flytecore import Resources, task
from flytecore.plugin import (
    ErrorKind,
    K8sTaskContext,
    KubernetesFace,
    PluginHost,
    TaskExecutionPhase,
    TaskStatus,
)
from flytecore.testing import k8s_task_context, task_template, unpublished_fields

COMMAND = (
    "flytecore-execute", "--inputs", "s3://bucket/n0/inputs.pb", "--output-prefix", "s3://bucket/n0/0",
    "--resolver", "flytecore.sdk.resolver.default", "--", "task-module", "ray_tasks", "task-name", "configured",
    "--checkpoint", "",
)  # fmt: skip

# The field names KubeRay publishes for a RayJob (ray-operator/apis/ray/v1: rayjob_types.go,
# raycluster_types.go) and the Kubernetes core/v1 fields its PodTemplateSpec refers to.
# None: any value.
_ENV = [
    {
        "name": None,
        "value": None,
        "valueFrom": {
            "fieldRef": {"fieldPath": None},
            "resourceFieldRef": {"containerName": None, "resource": None},
        },
    }
]
_CONTAINER = {
    "name": None, "image": None, "imagePullPolicy": None, "command": None, "args": None, "env": _ENV,
    "resources": {"requests": None, "limits": None},
    "ports": [{"name": None, "containerPort": None, "protocol": None}],
    "lifecycle": {"preStop": {"exec": {"command": None}}},
}  # fmt: skip
_POD_TEMPLATE = {
    "metadata": {"labels": None, "annotations": None},
    "spec": {"restartPolicy": None, "serviceAccountName": None, "containers": [_CONTAINER]},
}
RAYJOB_SCHEMA = {
    "apiVersion": None,
    "kind": None,
    "metadata": {"name": None, "namespace": None, "labels": None, "annotations": None},
    "spec": {
        "entrypoint": None,
        "runtimeEnvYAML": None,
        "shutdownAfterJobFinishes": None,
        "ttlSecondsAfterFinished": None,
        "submitterPodTemplate": _POD_TEMPLATE,
        "rayClusterSpec": {
            "enableInTreeAutoscaling": None,
            "autoscalerOptions": {
                "resources": {"requests": None, "limits": None},
                "image": None, "env": [{"name": None, "value": None}], "idleTimeoutSeconds": None, "upscalingMode": None,
            },
            "headGroupSpec": {"serviceType": None, "enableIngress": None, "rayStartParams": None, "template": _POD_TEMPLATE},
            "workerGroupSpecs": [
                {
                    "groupName": None, "replicas": None, "minReplicas": None, "maxReplicas": None,
                    "rayStartParams": None, "template": _POD_TEMPLATE,
                }
            ],
        },
    },
}  # fmt: skip
# Required by KubeRay's CRD: a RayJob without them is rejected by the API server.
REQUIRED = [
    ("spec", "rayClusterSpec", "headGroupSpec", "template", "spec", "containers"),
    ("spec", "submitterPodTemplate", "spec", "containers"),
]
REQUIRED_PER_WORKER_GROUP = ["groupName", "template"]


def _face(strict_host: PluginHost) -> KubernetesFace:
    face = strict_host.task_types["ray"].kubernetes
    assert face is not None
    return face


def _ctx(task: Any, custom: dict[str, Any] | None = None) -> K8sTaskContext:
    template = task_template(task, image="registry.local/app:1")
    if custom is not None:
        template = attrs.evolve(template, custom=custom)
    return k8s_task_context(
        template,
        COMMAND,
        env={"FLYTE_INTERNAL_EXECUTION_ID": "e1", "TASK_ENV": "1"},
        annotations={"team": "data"},
    )


def _manifest(
    strict_host: PluginHost, task: Any = ray_tasks.configured, custom: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _face(strict_host).build_resource(_ctx(task, custom))


def _container(template: dict[str, Any]) -> dict[str, Any]:
    [container] = template["spec"]["containers"]
    return container


def test_manifest_is_a_rayjob(strict_host: PluginHost) -> None:
    m = _manifest(strict_host)
    assert (m["apiVersion"], m["kind"]) == ("ray.io/v1", "RayJob")
    assert m["metadata"] == {
        "name": "e1-n0-0",
        "namespace": "flytesnacks-development",
        "labels": {"execution-id": "e1"},
        "annotations": {"team": "data"},
    }


@pytest.mark.parametrize(
    "task", [ray_tasks.configured, ray_tasks.minimal, ray_tasks.empty_head, ray_tasks.autoscaled],
    ids=["configured", "minimal", "empty-head", "autoscaled"],
)  # fmt: skip
def test_manifest_uses_only_kuberays_published_field_names(strict_host: PluginHost, task: Any) -> None:
    m = _manifest(strict_host, task)
    assert unpublished_fields(m, RAYJOB_SCHEMA) == []
    for path in REQUIRED:
        node: Any = m
        for key in path:
            assert key in node, f"required field {'.'.join(path)} is missing"
            node = node[key]
    for group in m["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        assert all(key in group for key in REQUIRED_PER_WORKER_GROUP)


def test_the_schema_check_catches_a_misspelt_field() -> None:
    wrong = {"spec": {"rayClusterSpec": {"workerGroupSpec": []}}}
    assert unpublished_fields(wrong, RAYJOB_SCHEMA) == [".spec.rayClusterSpec.workerGroupSpec"]


def test_the_entrypoint_is_the_command_joined_as_flytepropeller_joins_it(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host)["spec"]
    assert spec["entrypoint"] == " ".join(COMMAND[:-1]) + " ''"  # the empty argument survives
    submitter = spec["submitterPodTemplate"]
    assert submitter["spec"]["restartPolicy"] == "Never"
    assert submitter["metadata"]["labels"] == {"execution-id": "e1"}
    container = _container(submitter)
    assert (container["name"], container["image"], container["args"]) == (
        "e1-n0-0",
        "registry.local/app:1",
        list(COMMAND),
    )
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}


def test_the_head_runs_the_tasks_image_with_its_resources_overlaid(strict_host: PluginHost) -> None:
    head = _manifest(strict_host)["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["serviceType"] == "NodePort"
    assert head["enableIngress"] is False
    assert head["rayStartParams"] == {
        "log-color": "True",  # the config's
        "include-dashboard": "true",
        "node-ip-address": "$MY_POD_IP",
        "dashboard-host": "0.0.0.0",
        "disable-usage-stats": "true",
    }
    assert head["template"]["metadata"] == {"labels": {"execution-id": "e1"}, "annotations": {"team": "data"}}
    container = _container(head["template"])
    assert container["name"] == "ray-head"  # KubeRay finds the Ray container by its position, Flyte by name
    assert container["image"] == "registry.local/app:1"
    assert "args" not in container and "command" not in container  # KubeRay writes `ray start`
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert {"name": "TASK_ENV", "value": "1"} in container["env"]
    assert {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in container["env"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "redis": 6379,
        "head": 10001,
        "dashboard": 8265,
    }


def test_a_groups_resources_override_the_tasks_key_by_key(strict_host: PluginHost) -> None:
    @task(
        task_config=RayJobConfig(
            worker_node_config=[], head_node_config=HeadNodeConfig(requests=Resources(cpu="3"))
        ),
        requests=Resources(cpu="500m", mem="1Gi"),
    )
    def head_cpu_only() -> None: ...

    head = _manifest(strict_host, head_cpu_only)["spec"]["rayClusterSpec"]["headGroupSpec"]
    # flytekit writes the requests as limits too; the task's memory request stays.
    assert _container(head["template"])["resources"] == {
        "requests": {"cpu": "3", "memory": "1Gi"},
        "limits": {"cpu": "3"},
    }


def test_worker_groups_follow_the_config(strict_host: PluginHost) -> None:
    cpu_group, small = _manifest(strict_host)["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert (
        cpu_group["groupName"],
        cpu_group["replicas"],
        cpu_group["minReplicas"],
        cpu_group["maxReplicas"],
    ) == ("cpu-group", 2, 1, 4)
    assert (small["groupName"], small["replicas"], small["minReplicas"], small["maxReplicas"]) == (
        "small",
        1,
        1,
        1,
    )
    assert cpu_group["rayStartParams"] == {
        "num-cpus": "2",
        "node-ip-address": "$MY_POD_IP",
        "disable-usage-stats": "true",
    }
    assert small["rayStartParams"] == {"node-ip-address": "$MY_POD_IP", "disable-usage-stats": "true"}
    worker = _container(cpu_group["template"])
    assert (worker["name"], worker["image"]) == ("ray-worker", "registry.local/app:1")
    assert worker["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert _container(small["template"])["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"}
    }  # the task's
    assert worker["lifecycle"] == {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}
    env = {e["name"]: e for e in worker["env"]}
    assert env["TYPE"] == {"name": "TYPE", "value": "worker"}
    assert env["FLYTE_INTERNAL_EXECUTION_ID"]["value"] == "e1"
    assert env["MEMORY_LIMITS"]["valueFrom"]["resourceFieldRef"] == {
        "containerName": "ray-worker",
        "resource": "limits.memory",
    }


def test_autoscaling_and_its_options(strict_host: PluginHost) -> None:
    assert _manifest(strict_host)["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] is True
    cluster = _manifest(strict_host, ray_tasks.autoscaled)["spec"]["rayClusterSpec"]
    assert cluster["enableInTreeAutoscaling"] is False
    assert cluster["autoscalerOptions"] == {
        "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "image": "img:1",
        "env": [{"name": "K", "value": "v"}],
        "idleTimeoutSeconds": 30,
        "upscalingMode": "Conservative",
    }
    assert "autoscalerOptions" not in _manifest(strict_host, ray_tasks.minimal)["spec"]["rayClusterSpec"]


def test_the_runtime_env_is_yaml_also_when_only_flytekits_old_base64_is_there(
    strict_host: PluginHost,
) -> None:
    expected = {"pip": ["numpy"], "env_vars": {"A": "b"}}
    assert yaml.safe_load(_manifest(strict_host)["spec"]["runtimeEnvYAML"]) == expected
    custom = dict(task_template(ray_tasks.configured).custom or {})
    del custom["runtimeEnvYaml"]  # what flytekit before 1.11 wrote
    assert yaml.safe_load(_manifest(strict_host, custom=custom)["spec"]["runtimeEnvYAML"]) == expected
    assert "runtimeEnvYAML" not in _manifest(strict_host, ray_tasks.minimal)["spec"]


def test_shutdown_after_the_job_as_flytepropeller_configures_it(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host)["spec"]  # the task asks for it, with its own TTL
    assert (spec["shutdownAfterJobFinishes"], spec["ttlSecondsAfterFinished"]) == (True, 120)
    spec = _manifest(strict_host, ray_tasks.minimal)["spec"]  # FlytePropeller's defaults
    assert (spec["shutdownAfterJobFinishes"], spec["ttlSecondsAfterFinished"]) == (True, 3600)


# --- status --------------------------------------------------------------------------------

QUEUED, INIT, RUN = TaskExecutionPhase.QUEUED, TaskExecutionPhase.INITIALIZING, TaskExecutionPhase.RUNNING
DONE, RETRY, FAIL = (
    TaskExecutionPhase.SUCCEEDED,
    TaskExecutionPhase.RETRYABLE_FAILED,
    TaskExecutionPhase.FAILED,
)

# KubeRay's JobDeploymentStatus constants (rayjob_types.go), each with the phase, error kind and
# message words expected when the Ray job's status is empty.
DEPLOYMENT_EXPECTED = {
    "": (QUEUED, None, "Scheduling"),
    "Initializing": (INIT, None, "cluster is creating"),
    "Waiting": (INIT, None, "waiting for the job"),
    "Running": (RUN, None, "running"),
    "Complete": (DONE, None, "succeeded"),
    "Failed": (
        RETRY,
        ErrorKind.SYSTEM,
        "Failed to run Ray job e1-n0-0 with error: [SubmissionFailed] it broke",
    ),
    "ValidationFailed": (FAIL, ErrorKind.USER, "validation"),
    "Suspending": (QUEUED, None, "Suspending"),
    "Suspended": (QUEUED, None, "Suspended"),
    "Retrying": (INIT, None, "next try"),
    "Scheduling": (QUEUED, None, "schedule"),
    "Scheduled": (QUEUED, None, "schedule"),
}


def _status(strict_host: PluginHost, status: dict[str, Any] | None) -> TaskStatus:
    resource: dict[str, Any] = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "e1-n0-0"}}
    if status is not None:
        resource["status"] = status
    result = _face(strict_host).phase_of(resource)
    assert isinstance(result, TaskStatus)
    return result


def test_the_table_covers_every_kuberay_deployment_status() -> None:
    assert set(DEPLOYMENT_STATUSES) == set(DEPLOYMENT_EXPECTED)


def test_a_rayjob_without_status_is_queued(strict_host: PluginHost) -> None:
    assert _status(strict_host, None) == TaskStatus(phase=QUEUED, message="Scheduling")


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENT_EXPECTED))
def test_every_deployment_status_maps_to_a_phase(strict_host: PluginHost, deployment: str) -> None:
    phase, kind, words = DEPLOYMENT_EXPECTED[deployment]
    status = {"jobDeploymentStatus": deployment, "jobStatus": ""}
    if deployment == "Failed":
        status |= {"reason": "SubmissionFailed", "message": "it broke"}
    result = _status(strict_host, status)
    assert (result.phase, result.error_kind) == (phase, kind)
    assert words in result.message


@pytest.mark.parametrize(
    ("deployment", "job_status", "phase", "kind"),
    [
        ("Initializing", "", INIT, None),
        ("Running", "PENDING", RUN, None),
        ("Running", "RUNNING", RUN, None),
        ("Complete", "SUCCEEDED", DONE, None),
        ("Complete", "STOPPED", RETRY, ErrorKind.SYSTEM),  # stopped from outside: the work is not done
        ("Complete", "FAILED", RETRY, ErrorKind.USER),  # KubeRay before 1.2 completes failed jobs
        ("Failed", "FAILED", RETRY, ErrorKind.USER),  # the entrypoint (the task's code) failed
        ("Failed", "RUNNING", RETRY, ErrorKind.SYSTEM),  # e.g. activeDeadlineSeconds exceeded
        ("Failed", "", RETRY, ErrorKind.SYSTEM),  # e.g. the submitter never ran
    ],
)
def test_the_ray_jobs_status_refines_the_phase(
    strict_host: PluginHost,
    deployment: str,
    job_status: str,
    phase: TaskExecutionPhase,
    kind: ErrorKind | None,
) -> None:
    result = _status(
        strict_host, {"jobDeploymentStatus": deployment, "jobStatus": job_status, "message": "details here"}
    )
    assert (result.phase, result.error_kind) == (phase, kind)
    assert "details here" in result.message
    if deployment == "Running":
        assert job_status in result.message


def test_the_app_failed_reason_is_a_user_error_even_without_a_job_status(strict_host: PluginHost) -> None:
    result = _status(
        strict_host, {"jobDeploymentStatus": "Failed", "reason": "AppFailed", "message": "exit 1"}
    )
    assert (result.phase, result.error_kind) == (RETRY, ErrorKind.USER)
    assert result.message == "Failed to run Ray job e1-n0-0 with error: [AppFailed] exit 1"


def test_an_unknown_status_is_still_running(strict_host: PluginHost) -> None:
    result = _status(strict_host, {"jobDeploymentStatus": "SomethingNew", "jobStatus": "RUNNING"})
    assert result.phase == RUN
    assert "SomethingNew" in result.message
