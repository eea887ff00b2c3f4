"""The entry point of flyte-plugin-ray (group ``flytecore.plugins``, name ``ray``)."""

from __future__ import annotations

from flyte_plugin_ray import kubernetes
from flyte_plugin_ray.config import TASK_TYPE, RayJobConfig, to_custom
from flyte_plugin_ray.local import ray_cluster
from flytecore.plugin import KubernetesFace, TaskType, TaskTypeRegistry, hookimpl


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register the ``ray`` task type, selected by ``@task(task_config=RayJobConfig(...))``."""
    register.register(
        TaskType(
            name=TASK_TYPE,
            config_type=RayJobConfig,
            to_custom=to_custom,
            local_context=ray_cluster,
            kubernetes=KubernetesFace(build_resource=kubernetes.build_resource, phase_of=kubernetes.phase_of),
            description="a Python function with a Ray cluster (a local instance locally, a KubeRay RayJob on Kubernetes)",
        )
    )
