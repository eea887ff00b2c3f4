"""The entry point of flyte-plugin-spark (group ``flytecore.plugins``, name ``spark``)."""

from __future__ import annotations

from flyte_plugin_spark import kubernetes
from flyte_plugin_spark.config import TASK_TYPE, Spark, to_custom
from flyte_plugin_spark.local import spark_session
from flytecore.plugin import KubernetesFace, TaskType, TaskTypeRegistry, hookimpl


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register the ``spark`` task type, selected by ``@task(task_config=Spark(...))``."""
    register.register(
        TaskType(
            name=TASK_TYPE,
            config_type=Spark,
            to_custom=to_custom,
            local_context=spark_session,
            kubernetes=KubernetesFace(build_resource=kubernetes.build_resource, phase_of=kubernetes.phase_of),
            description="a Python function with a Spark session (local[N] locally, SparkApplication on Kubernetes)",
        )
    )
