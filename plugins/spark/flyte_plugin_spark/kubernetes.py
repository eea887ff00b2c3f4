"""The Kubernetes face: a ``SparkApplication`` of the Spark operator (``sparkoperator.k8s.io/v1beta2``).

The manifest has the operator's field names (kubeflow/spark-operator, ``api/v1beta2``) and is
built as FlytePropeller's Spark plugin builds it: spark-submit runs the ``SparkJob``'s
``mainApplicationFile`` (this plugin's entrypoint script unless ``applications_path`` says
otherwise) with the task's container command line as ``arguments``; ``sparkConf`` is the
configuration's ``spark_conf`` plus what the plugin derives:

- ``spark.pyspark.python`` / ``spark.pyspark.driver.python`` from ``executor_path``;
- from the task's resources (requests, else limits), unless ``spark_conf`` sets them:
  ``spark.{driver,executor}.cores`` (whole cores, rounded up), ``spark.kubernetes.{driver,
  executor}.request.cores`` (the quantity as given), ``spark.kubernetes.{driver,executor}.limit
  .cores`` (the CPU limit), ``spark.{driver,executor}.memory`` (in Spark's notation: ``4Gi`` ->
  ``4g``). Spark adds its memory overhead on top, as it always does;
- the core limit falls back to the core request, then to ``spark.{driver,executor}.cores``
  (FlytePropeller's rule);
- ``spark.kubernetes.executor.podNamePrefix``: the attempt's name.

``driver`` and ``executor`` carry the cores, core limit and memory of that ``sparkConf``, the
image, the environment (plus ``FLYTE_MAX_ATTEMPTS``), labels and annotations; the executor the
instance count (``spark.executor.instances``). The driver runs under the service account
``spark`` (FlytePropeller's default: the context carries no service account). Submission
failures are retried by the operator (``restartPolicy`` OnFailure, 14 submission retries, as in
FlytePropeller); a failed run is the propeller's to retry.

The operator writes ``status.applicationState.state`` (and ``errorMessage`` on failure):
:data:`APPLICATION_STATES` maps every state it documents as FlytePropeller does.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flyteidl.plugins import spark_pb2
from google.protobuf.json_format import ParseError

from flyte_plugin_spark.config import from_custom
from flytecore.plugin import ErrorKind, K8sTaskContext, TaskExecutionPhase, TaskStatus, k8s_resources

__all__ = [
    "API_VERSION",
    "APPLICATION_STATES",
    "KIND",
    "SERVICE_ACCOUNT",
    "SUBMISSION_FAILURE_RETRIES",
    "build_resource",
    "phase_of",
    "spark_conf_for",
    "spark_memory",
]

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
SERVICE_ACCOUNT = "spark"
"""The service account of the driver and executors (FlytePropeller's default)."""
SUBMISSION_FAILURE_RETRIES = 14
"""How often the operator retries a failed spark-submit (FlytePropeller's value: a namespace
out of quota fails submissions for a while)."""
DEFAULT_SPARK_VERSION = "3.5.0"

_APPLICATION_TYPES = {
    spark_pb2.SparkApplication.PYTHON: "Python",
    spark_pb2.SparkApplication.JAVA: "Java",
    spark_pb2.SparkApplication.SCALA: "Scala",
    spark_pb2.SparkApplication.R: "R",
}

_WAITING = TaskStatus(phase=TaskExecutionPhase.RUNNING, message="job running")

APPLICATION_STATES: dict[str, TaskStatus] = {
    "": TaskStatus(phase=TaskExecutionPhase.QUEUED, message="job queued"),
    "SUBMITTED": TaskStatus(phase=TaskExecutionPhase.INITIALIZING, message="job submitted"),
    # The GoogleCloudPlatform operator FlytePropeller builds against has this state too.
    "PENDING_SUBMISSION": TaskStatus(phase=TaskExecutionPhase.INITIALIZING, message="job submitted"),
    "RUNNING": _WAITING,
    "COMPLETED": TaskStatus(phase=TaskExecutionPhase.SUCCEEDED, message="job succeeded"),
    "FAILED": TaskStatus(
        phase=TaskExecutionPhase.RETRYABLE_FAILED,
        message="Spark Job Failed with Error: ",
        error_kind=ErrorKind.SYSTEM,
    ),
    "SUBMISSION_FAILED": TaskStatus(
        phase=TaskExecutionPhase.RETRYABLE_FAILED,
        message="Spark Job Submission Failed with Error: ",
        error_kind=ErrorKind.SYSTEM,
    ),
    # The operator's transitional states: the application exists and has not ended.
    "PENDING_RERUN": _WAITING,
    "INVALIDATING": _WAITING,
    "SUCCEEDING": _WAITING,
    "FAILING": _WAITING,
    "UNKNOWN": _WAITING,
}
"""``status.applicationState.state`` -> the task's status: every state the operator documents.
A failure's message ends with the operator's ``errorMessage`` (see :func:`phase_of`)."""


def _spark_version() -> str:
    try:
        return version("pyspark")
    except PackageNotFoundError:  # pragma: no cover - pyspark is this plugin's dependency
        return DEFAULT_SPARK_VERSION


# --- quantities -----------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50,
}  # fmt: skip


def _quantity(value: str) -> Decimal:
    """A Kubernetes quantity (``"500m"``, ``"2"``, ``"4Gi"``, ``"1e3"``) as a number."""
    match = _QUANTITY.match(value.strip())
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation as exc:
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from exc


def spark_memory(quantity: str) -> str:
    """A Kubernetes memory quantity in Spark's notation (binary units): ``"4Gi"`` -> ``"4g"``,
    ``"512Mi"`` -> ``"512m"``, ``"1G"`` -> ``"953m"`` (whole MiB, at least 1)."""
    size = _quantity(quantity)
    gib, mib = Decimal(2) ** 30, Decimal(2) ** 20
    if size >= gib and size % gib == 0:
        return f"{int(size // gib)}g"
    return f"{max(1, int(size // mib))}m"


def _whole_cores(quantity: str) -> str:
    return str(max(1, math.ceil(_quantity(quantity))))


# --- the manifest ---------------------------------------------------------------------------


def spark_conf_for(job: spark_pb2.SparkJob, ctx: K8sTaskContext) -> dict[str, str]:
    """The SparkApplication's ``sparkConf`` (see the module docstring)."""
    conf: dict[str, str] = {}
    resources = k8s_resources(ctx.resources)
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    cpu = requests.get("cpu") or limits.get("cpu")
    memory = requests.get("memory") or limits.get("memory")
    for role in ("driver", "executor"):
        if cpu:
            conf[f"spark.{role}.cores"] = _whole_cores(cpu)
            conf[f"spark.kubernetes.{role}.request.cores"] = cpu
        if limits.get("cpu"):
            conf[f"spark.kubernetes.{role}.limit.cores"] = limits["cpu"]
        if memory:
            conf[f"spark.{role}.memory"] = spark_memory(memory)
    if job.executorPath:
        conf["spark.pyspark.python"] = job.executorPath
        conf["spark.pyspark.driver.python"] = job.executorPath
    conf.update(job.sparkConf)
    for role in ("driver", "executor"):
        limit_key = f"spark.kubernetes.{role}.limit.cores"
        if not conf.get(limit_key):
            fallback = conf.get(f"spark.kubernetes.{role}.request.cores") or conf.get(f"spark.{role}.cores")
            if fallback:
                conf[limit_key] = fallback
    conf["spark.kubernetes.executor.podNamePrefix"] = ctx.name
    return conf


def _int_or_none(value: str | None) -> int | None:
    """An int field of the operator (cores, instances): None when unset, not a whole number or
    0 (the CRD's minimum is 1), as FlytePropeller leaves such fields out."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


def _pod_spec(
    role: str, conf: dict[str, str], ctx: K8sTaskContext, env: list[dict[str, str]]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "cores": _int_or_none(conf.get(f"spark.{role}.cores")),
        "coreLimit": conf.get(f"spark.kubernetes.{role}.limit.cores"),
        "memory": conf.get(f"spark.{role}.memory"),
        "image": ctx.image,
        "serviceAccount": SERVICE_ACCOUNT,
        "env": [dict(item) for item in env],
        "labels": dict(ctx.labels),
        "annotations": dict(ctx.annotations),
    }
    if role == "executor":
        spec["instances"] = _int_or_none(conf.get("spark.executor.instances"))
    # The operator's fields are optional pointers: leave out what is not set.
    return {key: value for key, value in spec.items() if value not in (None, "", {})}


def build_resource(ctx: K8sTaskContext) -> dict[str, Any]:
    """The ``SparkApplication`` manifest for one attempt of a Spark task.

    :raises ValueError: the template's ``custom`` is not a ``SparkJob`` or names neither a main
        application file nor a main class (FlytePropeller rejects it too).
    """
    try:
        job = from_custom(ctx.template.custom)
    except ParseError as exc:
        raise ValueError(
            f"task {ctx.template.id.name!r}: its custom is not a flyteidl SparkJob: {exc}"
        ) from exc
    if not job.mainApplicationFile and not job.mainClass:
        raise ValueError(
            f"task {ctx.template.id.name!r}: its SparkJob has neither mainApplicationFile nor mainClass; "
            "register it with flyte-plugin-spark (Spark(applications_path=...) sets the file)"
        )
    conf = spark_conf_for(job, ctx)
    env = ctx.env_list()
    env.append({"name": "FLYTE_MAX_ATTEMPTS", "value": str(ctx.template.metadata.retries.retries + 1)})
    metadata: dict[str, Any] = {"name": ctx.name, "namespace": ctx.namespace, "labels": dict(ctx.labels)}
    if ctx.annotations:
        metadata["annotations"] = dict(ctx.annotations)
    spec: dict[str, Any] = {
        "type": _APPLICATION_TYPES.get(job.applicationType, "Python"),
        "mode": "cluster",
        "sparkVersion": _spark_version(),
        "image": ctx.image,
        "imagePullPolicy": "IfNotPresent",
        "mainApplicationFile": job.mainApplicationFile,
        "arguments": list(ctx.command),
        "sparkConf": conf,
        "restartPolicy": {"type": "OnFailure", "onSubmissionFailureRetries": SUBMISSION_FAILURE_RETRIES},
        "driver": _pod_spec("driver", conf, ctx, env),
        "executor": _pod_spec("executor", conf, ctx, env),
    }
    if job.hadoopConf:
        spec["hadoopConf"] = dict(job.hadoopConf)
    if job.mainClass:
        spec["mainClass"] = job.mainClass
    if conf.get("spark.batchScheduler"):
        spec["batchScheduler"] = conf["spark.batchScheduler"]
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def phase_of(resource: dict[str, Any]) -> TaskStatus:
    """The task's status from a ``SparkApplication`` read back from the API server."""
    app_state = (resource.get("status") or {}).get("applicationState") or {}
    state = app_state.get("state", "") or ""
    known = APPLICATION_STATES.get(state)
    if known is None:
        # A state newer than this plugin: the application exists and has not ended (FlytePropeller's default).
        return TaskStatus(phase=TaskExecutionPhase.RUNNING, message=f"application state {state!r}")
    if known.phase == TaskExecutionPhase.RETRYABLE_FAILED:
        return TaskStatus(
            phase=known.phase,
            message=known.message + (app_state.get("errorMessage") or ""),
            error_kind=known.error_kind,
        )
    return known
