"""The Kubernetes face: the PyTorchJob manifest in the training operator's field names, every condition."""

from __future__ import annotations

from typing import Any

import pytest
import pytorch_tasks
from flyte_plugin_pytorch.kubernetes import CONDITIONS, current_condition

from flytecore.plugin import ErrorKind, K8sTaskContext, PluginHost, TaskExecutionPhase, TaskStatus
from flytecore.testing import k8s_task_context, task_template, unpublished_fields

COMMAND = (
    "flytecore-execute", "--inputs", "s3://bucket/n0/inputs.pb", "--output-prefix", "s3://bucket/n0/0",
    "--resolver", "flytecore.sdk.resolver.default", "--", "task-module", "pytorch_tasks", "task-name", "configured",
)  # fmt: skip


# The field names the Kubeflow training operator publishes for a PyTorchJob (kubeflow.org/v1:
# pytorch_types.go PyTorchJobSpec + ElasticPolicy, common_types.go ReplicaSpec + RunPolicy) and
# the Kubernetes core/v1 fields its PodTemplateSpec refers to. None: any value.
_CONTAINER = {
    "name": None, "image": None, "imagePullPolicy": None, "command": None, "args": None,
    "env": [{"name": None, "value": None}],
    "resources": {"requests": None, "limits": None},
    "ports": [{"name": None, "containerPort": None, "protocol": None}],
    "volumeMounts": [{"name": None, "mountPath": None}],
}  # fmt: skip
_POD_SPEC = {
    "restartPolicy": None,
    "containers": [_CONTAINER],
    "volumes": [{"name": None, "emptyDir": {"medium": None, "sizeLimit": None}}],
}
_REPLICA_SPEC = {
    "replicas": None,
    "restartPolicy": None,
    "template": {"metadata": {"labels": None, "annotations": None}, "spec": _POD_SPEC},
}
PYTORCHJOB_SCHEMA = {
    "apiVersion": None,
    "kind": None,
    "metadata": {"name": None, "namespace": None, "labels": None, "annotations": None},
    "spec": {
        "runPolicy": {
            "cleanPodPolicy": None, "ttlSecondsAfterFinished": None, "activeDeadlineSeconds": None,
            "backoffLimit": None, "schedulingPolicy": None, "suspend": None, "managedBy": None,
        },
        "elasticPolicy": {
            "minReplicas": None, "maxReplicas": None, "rdzvBackend": None, "rdzvPort": None, "rdzvHost": None,
            "rdzvId": None, "rdzvConf": None, "standalone": None, "nProcPerNode": None, "maxRestarts": None,
            "metrics": None,
        },
        "pytorchReplicaSpecs": {"Master": _REPLICA_SPEC, "Worker": _REPLICA_SPEC},
        "nprocPerNode": None,
    },
}  # fmt: skip
# Required by the CRD (pytorchReplicaSpecs has no omitempty) and by the operator's validation
# (every replica has a container named "pytorch").
REQUIRED = [
    ("spec", "pytorchReplicaSpecs"),
    ("spec", "pytorchReplicaSpecs", "Worker", "template", "spec", "containers"),
]


def _face(strict_host: PluginHost) -> Any:
    face = strict_host.task_types["pytorch"].kubernetes
    assert face is not None
    return face


def _context(task: Any = pytorch_tasks.configured, custom: dict[str, Any] | None = None) -> K8sTaskContext:
    template = task_template(task, image="registry.local/app:1")
    if custom is not None:
        import attrs

        template = attrs.evolve(template, custom=custom)
    return k8s_task_context(
        template, COMMAND, env={"FLYTE_INTERNAL_EXECUTION_ID": "e1", "A": "b"}, annotations={"team": "ml"}
    )


def _manifest(
    strict_host: PluginHost, task: Any = pytorch_tasks.configured, custom: dict[str, Any] | None = None
) -> dict[str, Any]:
    manifest: dict[str, Any] = _face(strict_host).build_resource(_context(task, custom))
    return manifest


def test_manifest_is_a_pytorchjob(strict_host: PluginHost) -> None:
    m = _manifest(strict_host)
    assert (m["apiVersion"], m["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    assert m["metadata"] == {
        "name": "e1-n0-0",
        "namespace": "flytesnacks-development",
        "labels": {"execution-id": "e1"},
        "annotations": {"team": "ml"},
    }
    assert set(m["spec"]) == {"runPolicy", "pytorchReplicaSpecs"}
    assert set(m["spec"]["pytorchReplicaSpecs"]) == {"Master", "Worker"}


@pytest.mark.parametrize(
    "task",
    [
        pytorch_tasks.configured,
        pytorch_tasks.all_reduce,
        pytorch_tasks.elastic_configured,
        pytorch_tasks.elastic_all_reduce,
    ],
    ids=["pytorch-configured", "pytorch-defaults", "elastic-configured", "elastic-defaults"],
)
def test_manifest_uses_only_the_operators_published_field_names(strict_host: PluginHost, task: Any) -> None:
    m = _manifest(strict_host, task)
    assert unpublished_fields(m, PYTORCHJOB_SCHEMA) == []
    for path in REQUIRED:
        node: Any = m
        for key in path:
            assert key in node, f"required field {'.'.join(path)} is missing"
            node = node[key]
    for replica in m["spec"]["pytorchReplicaSpecs"].values():
        assert [c["name"] for c in replica["template"]["spec"]["containers"]] == ["pytorch"]


def test_the_schema_check_catches_a_misspelt_field() -> None:
    wrong = {
        "spec": {"pytorchReplicaSpecs": {"Worker": {"replica": 2}}, "elasticPolicy": {"nprocPerNode": 2}}
    }
    assert unpublished_fields(wrong, PYTORCHJOB_SCHEMA) == [
        ".spec.pytorchReplicaSpecs.Worker.replica",
        ".spec.elasticPolicy.nprocPerNode",
    ]


def test_master_and_workers_follow_the_config(strict_host: PluginHost) -> None:
    replicas = _manifest(strict_host)["spec"]["pytorchReplicaSpecs"]
    master, worker = replicas["Master"], replicas["Worker"]
    assert (master["replicas"], master["restartPolicy"]) == (1, "Always")
    assert (worker["replicas"], worker["restartPolicy"]) == (4, "OnFailure")
    [m] = master["template"]["spec"]["containers"]
    [w] = worker["template"]["spec"]["containers"]
    assert (m["image"], w["image"]) == ("registry.local/torch-master:1", "registry.local/torch-worker:1")
    assert m["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}  # none in the config: the task's
    assert w["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"},
    }
    for container in (m, w):
        assert container["args"] == list(COMMAND)
        assert {"name": "FLYTE_INTERNAL_EXECUTION_ID", "value": "e1"} in container["env"]
    for replica in (master, worker):
        assert replica["template"]["metadata"] == {
            "labels": {"execution-id": "e1"},
            "annotations": {"team": "ml"},
        }


def test_run_policy_is_written_as_flytepropeller_writes_it(strict_host: PluginHost) -> None:
    assert _manifest(strict_host)["spec"]["runPolicy"] == {
        "cleanPodPolicy": "All",
        "ttlSecondsAfterFinished": 600,
        "activeDeadlineSeconds": 3600,
        "backoffLimit": 3,
    }
    assert _manifest(strict_host, pytorch_tasks.all_reduce)["spec"]["runPolicy"] == {}


def test_defaults_take_the_tasks_image_and_never_restart(strict_host: PluginHost) -> None:
    replicas = _manifest(strict_host, pytorch_tasks.all_reduce)["spec"]["pytorchReplicaSpecs"]
    assert (replicas["Master"]["replicas"], replicas["Worker"]["replicas"]) == (1, 2)
    for replica in replicas.values():
        assert replica["restartPolicy"] == "Never"
        [container] = replica["template"]["spec"]["containers"]
        assert container["image"] == "registry.local/app:1"
        assert "resources" not in container  # the task sets none either


def test_an_elastic_task_is_an_elastic_pytorchjob_without_a_master(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host, pytorch_tasks.elastic_configured)["spec"]
    assert set(spec["pytorchReplicaSpecs"]) == {"Worker"}
    assert spec["elasticPolicy"] == {
        "rdzvBackend": "c10d",
        "minReplicas": 2,
        "maxReplicas": 4,
        "nProcPerNode": 8,
        "maxRestarts": 3,
    }
    worker = spec["pytorchReplicaSpecs"]["Worker"]
    assert (worker["replicas"], worker["restartPolicy"]) == (4, "Never")
    [container] = worker["template"]["spec"]["containers"]
    assert (container["image"], container["args"]) == ("registry.local/app:1", list(COMMAND))
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert spec["runPolicy"] == {"cleanPodPolicy": "Running", "backoffLimit": 2}


def test_every_pod_gets_a_memory_backed_dev_shm(strict_host: PluginHost) -> None:
    for task in (pytorch_tasks.configured, pytorch_tasks.elastic_configured):
        for replica in _manifest(strict_host, task)["spec"]["pytorchReplicaSpecs"].values():
            pod = replica["template"]["spec"]
            assert pod["volumes"] == [{"name": "shm", "emptyDir": {"medium": "Memory"}}]
            assert pod["containers"][0]["volumeMounts"] == [{"name": "shm", "mountPath": "/dev/shm"}]


def test_the_newer_common_replica_spec_wins_as_in_flytepropeller(strict_host: PluginHost) -> None:
    custom = {
        "workerReplicas": {
            "replicas": 9,
            "image": "old:1",
            "common": {"replicas": 3, "image": "new:2", "restartPolicy": "RESTART_POLICY_ALWAYS"},
        },
        "masterReplicas": {"replicas": 1},
    }
    worker = _manifest(strict_host, custom=custom)["spec"]["pytorchReplicaSpecs"]["Worker"]
    assert (worker["replicas"], worker["restartPolicy"]) == (3, "Always")
    assert worker["template"]["spec"]["containers"][0]["image"] == "new:2"


def test_the_custom_of_flytekit_before_version_1_is_read_as_flytepropeller_reads_it(
    strict_host: PluginHost,
) -> None:
    legacy = {"workers": 3}
    replicas = _manifest(strict_host, custom=legacy)["spec"]["pytorchReplicaSpecs"]
    assert (replicas["Master"]["replicas"], replicas["Worker"]["replicas"]) == (1, 3)
    assert replicas["Worker"]["template"]["spec"]["containers"][0]["image"] == "registry.local/app:1"
    elastic = {
        "workers": 2,
        "elasticConfig": {"rdzvBackend": "c10d", "minReplicas": 1, "maxReplicas": 2, "nprocPerNode": 4},
    }
    spec = _manifest(strict_host, custom=elastic)["spec"]
    assert set(spec["pytorchReplicaSpecs"]) == {"Worker"}
    assert spec["elasticPolicy"] == {
        "rdzvBackend": "c10d", "minReplicas": 1, "maxReplicas": 2, "nProcPerNode": 4, "maxRestarts": 0,
    }  # fmt: skip


def test_a_job_without_workers_is_refused(strict_host: PluginHost) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        _manifest(strict_host, custom={"masterReplicas": {"replicas": 1}})


def _job(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "x"},
        "status": {"conditions": list(conditions), "replicaStatuses": {"Worker": {"active": 2}}},
    }


def _condition(
    kind: str, at: str, status: str = "True", reason: str = "", message: str = ""
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
    }


@pytest.mark.parametrize(
    ("kind", "phase"),
    [
        ("Created", TaskExecutionPhase.QUEUED),
        ("Running", TaskExecutionPhase.RUNNING),
        ("Restarting", TaskExecutionPhase.RUNNING),
        ("Succeeded", TaskExecutionPhase.SUCCEEDED),
        ("Suspended", TaskExecutionPhase.WAITING_FOR_RESOURCES),
        ("Failed", TaskExecutionPhase.RETRYABLE_FAILED),
    ],
)
def test_every_operator_condition_maps_to_a_phase(
    strict_host: PluginHost, kind: str, phase: TaskExecutionPhase
) -> None:
    resource = _job(
        _condition("Created", "2026-01-01T00:00:00Z", reason="PyTorchJobCreated"),
        _condition(
            kind, "2026-01-01T00:01:00Z", reason=f"PyTorchJob{kind}", message=f"job is {kind.lower()}"
        ),
    )
    status = _face(strict_host).phase_of(resource)
    assert isinstance(status, TaskStatus)
    assert status.phase == phase
    assert (status.error_kind == ErrorKind.SYSTEM) == (kind == "Failed")
    assert f"job is {kind.lower()}" in status.message  # the operator's message reaches the task's events


def test_the_table_covers_every_documented_condition_type() -> None:
    assert set(CONDITIONS) == {"Created", "Running", "Restarting", "Succeeded", "Suspended", "Failed"}


@pytest.mark.parametrize(
    "resource",
    [
        {"metadata": {"name": "x"}},
        {"metadata": {"name": "x"}, "status": {}},
        {"metadata": {"name": "x"}, "status": {"conditions": None}},
        {"metadata": {"name": "x"}, "status": {"conditions": []}},
    ],
    ids=["no-status", "empty-status", "null-conditions", "no-conditions"],
)
def test_a_job_without_conditions_is_starting(strict_host: PluginHost, resource: dict[str, Any]) -> None:
    status = _face(strict_host).phase_of(resource)
    assert status.phase == TaskExecutionPhase.QUEUED
    assert not status.phase.is_terminal


def test_the_latest_true_condition_wins(strict_host: PluginHost) -> None:
    # The operator keeps old conditions: Running turns False when the job succeeds.
    resource = _job(
        _condition("Succeeded", "2026-01-01T00:05:00Z", reason="PyTorchJobSucceeded"),
        _condition("Created", "2026-01-01T00:00:00Z"),
        _condition("Running", "2026-01-01T00:05:00Z", status="False"),
    )
    assert current_condition(resource)["type"] == "Succeeded"  # type: ignore[index]
    assert _face(strict_host).phase_of(resource).phase == TaskExecutionPhase.SUCCEEDED
    # Restarting after running: back to running, not to the older Created.
    resource = _job(
        _condition("Created", "2026-01-01T00:00:00Z"),
        _condition("Running", "2026-01-01T00:01:00Z", status="False"),
        _condition("Restarting", "2026-01-01T00:02:00Z", reason="PyTorchJobRestarting"),
    )
    status = _face(strict_host).phase_of(resource)
    assert (status.phase, status.message) == (
        TaskExecutionPhase.RUNNING,
        "job restarting: PyTorchJobRestarting - ",
    )


def test_a_failed_job_says_why_in_flytepropellers_words(strict_host: PluginHost) -> None:
    resource = _job(
        _condition("Running", "2026-01-01T00:01:00Z", status="False"),
        _condition(
            "Failed", "2026-01-01T00:02:00Z", reason="PyTorchJobFailed", message="Worker-1 exited with 1"
        ),
    )
    status = _face(strict_host).phase_of(resource)
    assert status.phase == TaskExecutionPhase.RETRYABLE_FAILED
    assert status.message == "Job failed:\n\tPyTorchJobFailed - Worker-1 exited with 1"


def test_conditions_none_of_which_is_true_are_still_starting(strict_host: PluginHost) -> None:
    status = _face(strict_host).phase_of(_job(_condition("Created", "2026-01-01T00:00:00Z", status="False")))
    assert status.phase == TaskExecutionPhase.QUEUED
    assert "Created=False" in status.message


def test_an_unknown_condition_is_still_running(strict_host: PluginHost) -> None:
    status = _face(strict_host).phase_of(_job(_condition("SomethingNew", "2026-01-01T00:00:00Z")))
    assert status.phase == TaskExecutionPhase.RUNNING
    assert "SomethingNew" in status.message
