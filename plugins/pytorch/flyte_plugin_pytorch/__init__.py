"""flyte-plugin-pytorch: ``@task(task_config=PyTorch(...) | Elastic(...))`` runs the body in
several PyTorch worker processes.

On this machine the body runs in torch elastic workers (rank 0's result is the output); on
Kubernetes the task becomes a ``PyTorchJob`` of the Kubeflow training operator. The
configuration classes have the names and fields of flytekit's ``flytekitplugins.kfpytorch``.
"""

from __future__ import annotations

from flyte_plugin_pytorch.config import (
    TASK_TYPE,
    CleanPodPolicy,
    DistributedTraining,
    Elastic,
    Master,
    PyTorch,
    RestartPolicy,
    RunPolicy,
    Worker,
)
from flyte_plugin_pytorch.local import WorkerFailedError

__version__ = "0.1.0"

__all__ = [
    "TASK_TYPE",
    "CleanPodPolicy",
    "DistributedTraining",
    "Elastic",
    "Master",
    "PyTorch",
    "RestartPolicy",
    "RunPolicy",
    "Worker",
    "WorkerFailedError",
    "__version__",
]
