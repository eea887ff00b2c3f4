"""flyte-plugin-ray: ``@task(task_config=RayJobConfig(...))`` runs the task body with Ray.

On this machine the body is connected to a local Ray instance started for it (or to the
cluster at ``RayJobConfig.address``), so ``@ray.remote`` functions run on it; on Kubernetes the
task becomes a ``RayJob`` of KubeRay. The configuration classes have the names and fields of
flytekit's ``flytekitplugins.ray``.
"""

from __future__ import annotations

from flyte_plugin_ray.config import (
    TASK_TYPE,
    AutoscalerOptionsConfig,
    HeadNodeConfig,
    RayJobConfig,
    WorkerNodeConfig,
)
from flyte_plugin_ray.local import RayCluster

__version__ = "0.1.0"

__all__ = [
    "TASK_TYPE",
    "AutoscalerOptionsConfig",
    "HeadNodeConfig",
    "RayCluster",
    "RayJobConfig",
    "WorkerNodeConfig",
    "__version__",
]
