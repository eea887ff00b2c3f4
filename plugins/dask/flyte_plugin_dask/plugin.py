"""The entry point of flyte-plugin-dask (group ``flytecore.plugins``, name ``dask``)."""

from __future__ import annotations

from flyte_plugin_dask import kubernetes
from flyte_plugin_dask.config import TASK_TYPE, Dask, to_custom
from flyte_plugin_dask.local import local_cluster
from flytecore.plugin import KubernetesFace, TaskType, TaskTypeRegistry, hookimpl


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register the ``dask`` task type, selected by ``@task(task_config=Dask(...))``."""
    register.register(
        TaskType(
            name=TASK_TYPE,
            config_type=Dask,
            to_custom=to_custom,
            local_context=local_cluster,
            kubernetes=KubernetesFace(build_resource=kubernetes.build_resource, phase_of=kubernetes.phase_of),
            description="a Python function with a Dask cluster (LocalCluster locally, DaskJob on Kubernetes)",
        )
    )
