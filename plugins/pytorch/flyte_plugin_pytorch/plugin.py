"""The entry point of flyte-plugin-pytorch (group ``flytecore.plugins``, name ``pytorch``)."""

from __future__ import annotations

from flyte_plugin_pytorch import kubernetes
from flyte_plugin_pytorch.config import TASK_TYPE, DistributedTraining, to_custom
from flyte_plugin_pytorch.local import run_distributed
from flytecore.plugin import KubernetesFace, TaskType, TaskTypeRegistry, hookimpl


@hookimpl
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register the ``pytorch`` task type, selected by ``@task(task_config=PyTorch(...))`` and
    ``@task(task_config=Elastic(...))`` (both subclass ``DistributedTraining``)."""
    register.register(
        TaskType(
            name=TASK_TYPE,
            config_type=DistributedTraining,
            to_custom=to_custom,
            local_runner=run_distributed,
            # flytekit writes version 1 of the custom schema; FlytePropeller reads 0 as the old one.
            task_type_version=1,
            kubernetes=KubernetesFace(build_resource=kubernetes.build_resource, phase_of=kubernetes.phase_of),
            description="distributed PyTorch (torch elastic workers locally, a PyTorchJob on Kubernetes)",
        )
    )
