"""The Kubernetes face: the SparkApplication manifest in the operator's field names, every state."""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import spark_tasks
from flyte_plugin_spark import Spark
from flyte_plugin_spark.config import ENTRYPOINT_SCRIPT
from flyte_plugin_spark.kubernetes import APPLICATION_STATES, spark_memory

from flytecore import task
from flytecore.plugin import ErrorKind, K8sTaskContext, PluginHost, TaskExecutionPhase, TaskStatus
from flytecore.testing import k8s_task_context, task_template, unpublished_fields

if TYPE_CHECKING:
    from flytecore.spec.tasks import TaskTemplate

COMMAND = (
    "flytecore-execute", "--inputs", "s3://bucket/n0/inputs.pb", "--output-prefix", "s3://bucket/n0/0",
    "--resolver", "flytecore.sdk.resolver.default", "--", "task-module", "spark_tasks", "task-name", "configured",
)  # fmt: skip

# The field names the Spark operator publishes for a SparkApplication (kubeflow/spark-operator,
# api/v1beta2/sparkapplication_types.go: SparkApplicationSpec, RestartPolicy, SparkPodSpec,
# DriverSpec, ExecutorSpec) and the core/v1 EnvVar. None: any value.
_POD = {
    "template": None, "cores": None, "coreLimit": None, "memory": None, "memoryOverhead": None, "gpu": None,
    "image": None, "configMaps": None, "secrets": None, "env": [{"name": None, "value": None, "valueFrom": None}],
    "envVars": None, "envFrom": None, "envSecretKeyRefs": None, "labels": None, "annotations": None,
    "volumeMounts": None, "affinity": None, "tolerations": None, "podSecurityContext": None, "securityContext": None,
    "schedulerName": None, "sidecars": None, "initContainers": None, "hostNetwork": None, "nodeSelector": None,
    "dnsConfig": None, "terminationGracePeriodSeconds": None, "serviceAccount": None, "hostAliases": None,
    "shareProcessNamespace": None, "runtimeClassName": None,
}  # fmt: skip
_DRIVER = {
    **_POD, "podName": None, "coreRequest": None, "javaOptions": None, "lifecycle": None, "kubernetesMaster": None,
    "serviceAnnotations": None, "serviceLabels": None, "ports": None, "priorityClassName": None,
}  # fmt: skip
_EXECUTOR = {
    **_POD, "instances": None, "coreRequest": None, "javaOptions": None, "lifecycle": None,
    "deleteOnTermination": None, "ports": None, "priorityClassName": None,
}  # fmt: skip
SPARKAPPLICATION_SCHEMA = {
    "apiVersion": None,
    "kind": None,
    "metadata": {"name": None, "namespace": None, "labels": None, "annotations": None},
    "spec": {
        "type": None, "sparkVersion": None, "mode": None, "proxyUser": None, "image": None, "imagePullPolicy": None,
        "imagePullSecrets": None, "mainClass": None, "mainApplicationFile": None, "arguments": None,
        "sparkConf": None, "hadoopConf": None, "sparkConfigMap": None, "hadoopConfigMap": None, "volumes": None,
        "driver": _DRIVER, "executor": _EXECUTOR, "deps": None,
        "restartPolicy": {
            "type": None, "onSubmissionFailureRetries": None, "onFailureRetries": None,
            "onSubmissionFailureRetryInterval": None, "onFailureRetryInterval": None,
        },
        "nodeSelector": None, "failureRetries": None, "retryInterval": None, "pythonVersion": None,
        "memoryOverheadFactor": None, "monitoring": None, "batchScheduler": None, "timeToLiveSeconds": None,
        "batchSchedulerOptions": None, "sparkUIOptions": None, "driverIngressOptions": None, "dynamicAllocation": None,
    },
}  # fmt: skip
# Required by the CRD (no omitempty, no +optional): a SparkApplication without them is rejected.
REQUIRED = [
    ("spec", "type"),
    ("spec", "sparkVersion"),
    ("spec", "mainApplicationFile"),
    ("spec", "driver"),
    ("spec", "executor"),
]
# The CRD's enums.
ENUMS = {
    ("spec", "type"): {"Java", "Python", "Scala", "R"},
    ("spec", "mode"): {"cluster", "client"},
    ("spec", "restartPolicy", "type"): {"Never", "Always", "OnFailure"},
}


def _at(manifest: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = manifest
    for key in path:
        assert key in node, f"field {'.'.join(path)} is missing"
        node = node[key]
    return node


def _context(template: TaskTemplate, **changes: Any) -> K8sTaskContext:
    values: dict[str, Any] = {
        "env": {"FLYTE_INTERNAL_EXECUTION_ID": "e1", "A": "b"},
        "annotations": {"team": "data"},
    }
    return k8s_task_context(template, COMMAND, **(values | changes))


def _manifest(strict_host: PluginHost, task: Any = spark_tasks.configured, **changes: Any) -> dict[str, Any]:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    return face.build_resource(_context(task_template(task, image="registry.local/app:1"), **changes))


def test_manifest_is_a_sparkapplication(strict_host: PluginHost) -> None:
    m = _manifest(strict_host)
    assert (m["apiVersion"], m["kind"]) == ("sparkoperator.k8s.io/v1beta2", "SparkApplication")
    assert m["metadata"] == {
        "name": "e1-n0-0",
        "namespace": "flytesnacks-development",
        "labels": {"execution-id": "e1"},
        "annotations": {"team": "data"},
    }


@pytest.mark.parametrize(
    "task", [spark_tasks.configured, spark_tasks.application_id], ids=["configured", "defaults"]
)
def test_manifest_uses_only_the_operators_published_field_names(strict_host: PluginHost, task: Any) -> None:
    m = _manifest(strict_host, task)
    assert unpublished_fields(m, SPARKAPPLICATION_SCHEMA) == []
    for path in REQUIRED:
        assert _at(m, path) not in (None, "")
    for path, allowed in ENUMS.items():
        assert _at(m, path) in allowed
    for role in ("driver", "executor"):
        for field in ("cores", "instances"):
            if field in m["spec"][role]:
                value = m["spec"][role][field]
                assert isinstance(value, int) and value >= 1, (role, field)  # the CRD's minimum


def test_the_schema_check_catches_a_misspelt_field() -> None:
    wrong = {"spec": {"driver": {"core": 1}, "executor": {"env": [{"name": "A", "val": "b"}]}}}
    assert unpublished_fields(wrong, SPARKAPPLICATION_SCHEMA) == [
        ".spec.driver.core",
        ".spec.executor.env[0].val",
    ]


def test_spark_submit_runs_the_main_application_file_with_the_command_as_arguments(
    strict_host: PluginHost,
) -> None:
    spec = _manifest(strict_host)["spec"]
    assert (spec["type"], spec["mode"]) == ("Python", "cluster")
    assert (spec["image"], spec["imagePullPolicy"]) == ("registry.local/app:1", "IfNotPresent")
    assert (
        spec["mainApplicationFile"] == "local:///opt/venv/bin/entrypoint.py"
    )  # the config's applications_path
    assert spec["arguments"] == list(COMMAND)
    assert "mainClass" not in spec
    assert spec["sparkVersion"] == version("pyspark")
    assert spec["restartPolicy"] == {"type": "OnFailure", "onSubmissionFailureRetries": 14}
    defaults = _manifest(strict_host, spark_tasks.application_id)["spec"]
    assert defaults["mainApplicationFile"] == "local://" + ENTRYPOINT_SCRIPT


def test_spark_conf_is_the_configs_plus_what_the_plugin_derives(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host)["spec"]
    assert spec["sparkConf"] == {
        # the config's spark_conf, which wins over what is derived from the resources
        "spark.executor.instances": "3",
        "spark.driver.memory": "2g",
        "spark.executor.cores": "2",
        # from requests cpu=500m, mem=1Gi and limits cpu=2, mem=4Gi
        "spark.driver.cores": "1",
        "spark.kubernetes.driver.request.cores": "500m",
        "spark.kubernetes.driver.limit.cores": "2",
        "spark.kubernetes.executor.request.cores": "500m",
        "spark.kubernetes.executor.limit.cores": "2",
        "spark.executor.memory": "1g",
        # from executor_path
        "spark.pyspark.python": "/opt/venv/bin/python3",
        "spark.pyspark.driver.python": "/opt/venv/bin/python3",
        "spark.kubernetes.executor.podNamePrefix": "e1-n0-0",
    }
    assert spec["hadoopConf"] == {"fs.s3a.endpoint": "http://minio:9000"}


def test_driver_and_executor_follow_spark_conf_and_the_task(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host)["spec"]
    env = [
        {"name": "A", "value": "b"},
        {"name": "FLYTE_INTERNAL_EXECUTION_ID", "value": "e1"},
        {"name": "FLYTE_MAX_ATTEMPTS", "value": "3"},  # retries=2
    ]
    common = {
        "image": "registry.local/app:1",
        "serviceAccount": "spark",
        "env": env,
        "labels": {"execution-id": "e1"},
        "annotations": {"team": "data"},
    }
    assert spec["driver"] == {**common, "cores": 1, "coreLimit": "2", "memory": "2g"}
    assert spec["executor"] == {**common, "instances": 3, "cores": 2, "coreLimit": "2", "memory": "1g"}


def test_a_task_without_resources_leaves_sizes_to_spark(strict_host: PluginHost) -> None:
    spec = _manifest(strict_host, spark_tasks.application_id, resources=None)["spec"]
    assert spec["sparkConf"] == {
        "spark.pyspark.python": sys.executable,  # executor_path defaults to the registering interpreter
        "spark.pyspark.driver.python": sys.executable,
        "spark.kubernetes.executor.podNamePrefix": "e1-n0-0",
    }
    assert not {"cores", "coreLimit", "memory"} & set(spec["driver"])
    assert not {"instances", "cores", "coreLimit", "memory"} & set(spec["executor"])
    assert "hadoopConf" not in spec


def test_core_limits_fall_back_to_the_core_request_then_the_cores(strict_host: PluginHost) -> None:
    @task(
        task_config=Spark(
            spark_conf={
                "spark.driver.cores": "3",
                "spark.kubernetes.executor.request.cores": "1500m",
                "spark.executor.cores": "2",
                "spark.executor.instances": "0",
                "spark.batchScheduler": "volcano",
            }
        )
    )
    def limited() -> None: ...

    spec = _manifest(strict_host, limited)["spec"]
    assert spec["sparkConf"]["spark.kubernetes.driver.limit.cores"] == "3"
    assert spec["sparkConf"]["spark.kubernetes.executor.limit.cores"] == "1500m"
    assert (spec["driver"]["cores"], spec["driver"]["coreLimit"]) == (3, "3")
    assert (spec["executor"]["cores"], spec["executor"]["coreLimit"]) == (2, "1500m")
    assert "instances" not in spec["executor"]  # 0 is below the CRD's minimum: left to the operator
    assert spec["batchScheduler"] == "volcano"


def test_a_sparkjob_without_a_main_file_is_rejected(strict_host: PluginHost) -> None:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    template = attrs.evolve(task_template(spark_tasks.application_id), custom={"sparkConf": {"a": "b"}})
    with pytest.raises(ValueError, match="neither mainApplicationFile nor mainClass"):
        face.build_resource(_context(template))


def test_a_custom_that_is_not_a_sparkjob_is_rejected_naming_the_task(strict_host: PluginHost) -> None:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    template = attrs.evolve(task_template(spark_tasks.application_id), custom={"sparkConfig": {"a": "b"}})
    with pytest.raises(
        ValueError,
        match=r"task 'spark_tasks.application_id': its custom is not a flyteidl SparkJob.*sparkConfig",
    ):
        face.build_resource(_context(template))


@pytest.mark.parametrize(
    ("quantity", "spark"),
    [("4Gi", "4g"), ("512Mi", "512m"), ("1536Mi", "1536m"), ("1G", "953m"), ("1e9", "953m"), ("2048Ki", "2m"),
     ("100", "1m"), ("0.5Gi", "512m")],
)  # fmt: skip
def test_memory_quantities_in_sparks_notation(quantity: str, spark: str) -> None:
    assert spark_memory(quantity) == spark


def test_a_memory_that_is_not_a_quantity_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity: 'lots'"):
        spark_memory("lots")


OPERATOR_STATES = [
    # (status.applicationState.state, phase), as FlytePropeller maps them; None: no status yet.
    (None, TaskExecutionPhase.QUEUED),
    ("", TaskExecutionPhase.QUEUED),
    ("SUBMITTED", TaskExecutionPhase.INITIALIZING),
    ("PENDING_SUBMISSION", TaskExecutionPhase.INITIALIZING),
    ("RUNNING", TaskExecutionPhase.RUNNING),
    ("COMPLETED", TaskExecutionPhase.SUCCEEDED),
    ("FAILED", TaskExecutionPhase.RETRYABLE_FAILED),
    ("SUBMISSION_FAILED", TaskExecutionPhase.RETRYABLE_FAILED),
    ("PENDING_RERUN", TaskExecutionPhase.RUNNING),
    ("INVALIDATING", TaskExecutionPhase.RUNNING),
    ("SUCCEEDING", TaskExecutionPhase.RUNNING),
    ("FAILING", TaskExecutionPhase.RUNNING),
    ("UNKNOWN", TaskExecutionPhase.RUNNING),
]


@pytest.mark.parametrize(("state", "phase"), OPERATOR_STATES)
def test_every_operator_application_state_maps_to_a_phase(
    strict_host: PluginHost, state: str | None, phase: TaskExecutionPhase
) -> None:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    resource: dict[str, Any] = {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication"}
    if state is not None:
        resource["status"] = {
            "applicationState": {"state": state, "errorMessage": "driver pod OOMKilled"},
            "driverInfo": {"podName": "e1-n0-0-driver"},
        }
    status = face.phase_of(resource)
    assert isinstance(status, TaskStatus)
    assert status.phase == phase
    failed = state in ("FAILED", "SUBMISSION_FAILED")
    assert (status.error_kind == ErrorKind.SYSTEM) == failed
    assert ("driver pod OOMKilled" in status.message) == failed


def test_the_table_covers_every_state_the_tests_name() -> None:
    assert set(APPLICATION_STATES) == {state for state, _ in OPERATOR_STATES if state is not None}


def test_failure_messages_are_flytepropellers(strict_host: PluginHost) -> None:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    failed = face.phase_of(
        {"status": {"applicationState": {"state": "FAILED", "errorMessage": "exit code 1"}}}
    )
    assert failed.message == "Spark Job Failed with Error: exit code 1"
    submission = face.phase_of({"status": {"applicationState": {"state": "SUBMISSION_FAILED"}}})
    assert submission.message == "Spark Job Submission Failed with Error: "


def test_an_unknown_state_is_still_running(strict_host: PluginHost) -> None:
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    status = face.phase_of({"status": {"applicationState": {"state": "SOMETHING_NEW"}}})
    assert status.phase == TaskExecutionPhase.RUNNING
    assert "SOMETHING_NEW" in status.message
