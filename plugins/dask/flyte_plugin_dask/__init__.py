"""flyte-plugin-dask: ``@task(task_config=Dask(...))`` runs the task body with a Dask cluster.

On this machine the body gets a ``distributed.LocalCluster`` and a default ``Client``; on
Kubernetes the task becomes a ``DaskJob`` of the dask-kubernetes operator. The configuration
classes have the names and fields of flytekit's ``flytekitplugins.dask``.
"""

from __future__ import annotations

from flyte_plugin_dask.config import TASK_TYPE, Dask, Scheduler, WorkerGroup

__version__ = "0.1.0"

__all__ = ["TASK_TYPE", "Dask", "Scheduler", "WorkerGroup", "__version__"]
