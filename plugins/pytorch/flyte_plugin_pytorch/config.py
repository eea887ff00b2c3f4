"""The task configuration: flytekit's ``PyTorch`` and ``Elastic`` with their parts.

Both select the task type ``pytorch`` (they share the base class :class:`DistributedTraining`,
which is what the plugin registers). ``TaskTemplate.custom`` is flyteidl's
``flyteidl.plugins.kubeflow.DistributedPyTorchTrainingTask`` as a JSON dict (``MessageToDict``),
the values flytekit's ``flytekitplugins.kfpytorch`` writes, so a template round-trips through
flyteidl and FlytePropeller's PyTorch plugin reads it:

- ``PyTorch``: ``workerReplicas`` (``replicas``, ``image``, ``resources``, ``restartPolicy``),
  ``masterReplicas`` (one replica), ``runPolicy``;
- ``Elastic``: ``workerReplicas.replicas`` (the most nodes), ``elasticConfig`` (``rdzvBackend``
  ``c10d``, ``minReplicas``, ``maxReplicas``, ``nprocPerNode``, ``maxRestarts``), ``runPolicy``.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import common_pb2, pytorch_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from flytecore import Resources

__all__ = [
    "RDZV_BACKEND",
    "TASK_TYPE",
    "CleanPodPolicy",
    "DistributedTraining",
    "Elastic",
    "Master",
    "PyTorch",
    "RestartPolicy",
    "RunPolicy",
    "Worker",
    "from_custom",
    "node_range",
    "to_custom",
]

TASK_TYPE = "pytorch"
"""The task type string (flytekit's too)."""

RDZV_BACKEND = "c10d"
"""torch elastic's rendezvous backend: a TCP store on the first node, no server to deploy
(flytekit's choice too)."""

START_METHODS = ("spawn", "fork", "forkserver")


class RestartPolicy(enum.Enum):
    """How the training operator restarts a replica's pods (flyteidl's ``RestartPolicy``)."""

    ALWAYS = common_pb2.RESTART_POLICY_ALWAYS
    FAILURE = common_pb2.RESTART_POLICY_ON_FAILURE
    NEVER = common_pb2.RESTART_POLICY_NEVER


class CleanPodPolicy(enum.Enum):
    """Which pods the training operator deletes when the job ends (flyteidl's ``CleanPodPolicy``)."""

    NONE = common_pb2.CLEANPOD_POLICY_NONE
    ALL = common_pb2.CLEANPOD_POLICY_ALL
    RUNNING = common_pb2.CLEANPOD_POLICY_RUNNING


def _check_resources(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Resources):
        raise TypeError(f"{attribute.name}= must be flytecore.Resources(...), got {type(value).__name__}")


def _optional_int(minimum: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{attribute.name} must be an int >= {minimum} or None, got {value!r}")

    return check


def _optional_enum(enum_type: type[enum.Enum]) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, enum_type):
            names = ", ".join(f"{enum_type.__name__}.{m.name}" for m in enum_type)
            raise TypeError(f"{attribute.name}= must be one of {names} or None, got {value!r}")

    return check


@attrs.define(frozen=True, kw_only=True)
class RunPolicy:
    """How the training operator runs the job (the ``PyTorchJob``'s ``spec.runPolicy``).

    :ivar clean_pod_policy: which pods to delete when the job ends; None: the operator's default
        (``None``: keep them).
    :ivar ttl_seconds_after_finished: delete the finished job after this many seconds.
    :ivar active_deadline_seconds: stop the job this many seconds after it started.
    :ivar backoff_limit: retries of failed pods before the job fails.
    """

    clean_pod_policy: CleanPodPolicy | None = attrs.field(
        default=None, validator=_optional_enum(CleanPodPolicy)
    )
    ttl_seconds_after_finished: int | None = attrs.field(default=None, validator=_optional_int(0))
    active_deadline_seconds: int | None = attrs.field(default=None, validator=_optional_int(1))
    backoff_limit: int | None = attrs.field(default=None, validator=_optional_int(0))


@attrs.define(frozen=True, kw_only=True)
class Worker:
    """The worker replicas of a ``PyTorch`` job.

    :ivar replicas: worker pods on Kubernetes, worker processes locally (see
        :func:`flyte_plugin_pytorch.local.local_world_size`); or give ``PyTorch(num_workers=...)``.
    :ivar image: the workers' image; None: the task's image.
    :ivar requests: resources requested per worker; None: the task's.
    :ivar limits: resource limits per worker; None: the task's.
    :ivar restart_policy: how the operator restarts a failed worker pod; None: ``NEVER``.
    """

    image: str | None = None
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)
    replicas: int | None = attrs.field(default=None, validator=_optional_int(1))
    restart_policy: RestartPolicy | None = attrs.field(default=None, validator=_optional_enum(RestartPolicy))


@attrs.define(frozen=True, kw_only=True)
class Master:
    """The master replica of a ``PyTorch`` job (always one: no ``replicas`` field).

    :ivar image: the master's image; None: the task's image.
    :ivar requests: resources requested; None: the task's.
    :ivar limits: resource limits; None: the task's.
    :ivar restart_policy: how the operator restarts a failed master pod; None: ``NEVER``.
    """

    image: str | None = None
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)
    restart_policy: RestartPolicy | None = attrs.field(default=None, validator=_optional_enum(RestartPolicy))


class DistributedTraining:
    """The common base of :class:`PyTorch` and :class:`Elastic`: the ``task_config`` class the
    ``pytorch`` task type is registered for (the registry finds it through a config's MRO)."""

    __slots__ = ()

    @property
    def local_processes(self) -> int:
        """How many worker processes the configuration asks for on one machine."""
        raise NotImplementedError


@attrs.define(frozen=True, kw_only=True)
class PyTorch(DistributedTraining):
    """``@task(task_config=PyTorch(...))``: the body runs in every replica of a ``PyTorchJob``.

    Give the number of workers as ``num_workers`` or as ``worker=Worker(replicas=...)``, not
    both (flytekit's rule). The body calls ``torch.distributed.init_process_group()``: the
    environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) is set for it.

    :ivar master: the master replica.
    :ivar worker: the worker replicas.
    :ivar run_policy: the job's run policy; None: the operator's defaults.
    :ivar num_workers: the number of workers (flytekit's older spelling of ``worker.replicas``).
    :ivar increase_shared_mem: mount a memory-backed ``/dev/shm`` in the pods (for torch
        multiprocessing, e.g. data loader workers).
    """

    master: Master = attrs.field(factory=Master)
    worker: Worker = attrs.field(factory=Worker)
    run_policy: RunPolicy | None = None
    num_workers: int | None = attrs.field(default=None, validator=_optional_int(1))
    increase_shared_mem: bool = True

    def __attrs_post_init__(self) -> None:
        if self.num_workers is not None and self.worker.replicas is not None:
            raise ValueError(
                "PyTorch(...): give the number of workers once, as num_workers= or as "
                "worker=Worker(replicas=...), not both"
            )
        if self.num_workers is None and self.worker.replicas is None:
            raise ValueError(
                "PyTorch(...): give the number of workers, as num_workers= or as worker=Worker(replicas=...)"
            )

    @property
    def workers(self) -> int:
        """The number of worker replicas."""
        return self.num_workers if self.num_workers is not None else int(self.worker.replicas or 1)

    @property
    def local_processes(self) -> int:
        """One process per worker."""
        return self.workers


def node_range(nnodes: int | str) -> tuple[int, int]:
    """``(min_nodes, max_nodes)`` of ``Elastic.nnodes`` (``3`` or ``"2:4"``), as torchrun reads it."""
    if isinstance(nnodes, bool):
        raise ValueError(f"nnodes must be an int >= 1 or 'MIN:MAX', got {nnodes!r}")
    if isinstance(nnodes, int):
        low = high = nnodes
    elif isinstance(nnodes, str):
        parts = nnodes.split(":")
        try:
            if len(parts) == 1:
                low = high = int(parts[0])
            elif len(parts) == 2:
                low, high = int(parts[0]), int(parts[1])
            else:
                raise ValueError(nnodes)
        except ValueError:
            raise ValueError(f"nnodes must be an int >= 1 or 'MIN:MAX', got {nnodes!r}") from None
    else:
        raise ValueError(f"nnodes must be an int >= 1 or 'MIN:MAX', got {nnodes!r}")
    if low < 1 or high < low:
        raise ValueError(f"nnodes must be an int >= 1 or 'MIN:MAX' with 1 <= MIN <= MAX, got {nnodes!r}")
    return low, high


def _check_nnodes(_instance: object, _attribute: attrs.Attribute[Any], value: int | str) -> None:
    node_range(value)


def _positive_int(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _non_negative_int(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an int >= 0, got {value!r}")


def _check_start_method(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in START_METHODS:
        raise ValueError(f"start_method must be one of {', '.join(START_METHODS)}, got {value!r}")


def _default_rdzv_configs() -> dict[str, Any]:
    # flytekit's defaults: pods of one job may start minutes apart (image pulls, node scale-up).
    return {"timeout": 900, "join_timeout": 900}


@attrs.define(frozen=True, kw_only=True)
class Elastic(DistributedTraining):
    """``@task(task_config=Elastic(...))``: torch elastic (``torchrun``) training.

    ``nproc_per_node`` worker processes run the body on each of ``nnodes`` nodes; rank 0's
    return value is the task's output. Like torchrun, ``OMP_NUM_THREADS`` is 1 in the workers
    unless the task's environment sets it.

    :ivar nnodes: nodes, or the range ``"MIN:MAX"`` the job may scale within.
    :ivar nproc_per_node: worker processes per node.
    :ivar start_method: how worker processes start: ``spawn`` (flytekit's default), ``fork``
        or ``forkserver``.
    :ivar monitor_interval: seconds between the agent's checks of its workers.
    :ivar max_restarts: restarts of the worker group before the task fails.
    :ivar rdzv_configs: more rendezvous settings for torch elastic (``timeout``,
        ``join_timeout``, ...: ``torch.distributed.launcher.api.LaunchConfig``).
    :ivar increase_shared_mem: mount a memory-backed ``/dev/shm`` in the pods.
    :ivar run_policy: the ``PyTorchJob``'s run policy; None: the operator's defaults.
    """

    nnodes: int | str = attrs.field(default=1, validator=_check_nnodes)
    nproc_per_node: int = attrs.field(default=1, validator=_positive_int)
    start_method: str = attrs.field(default="spawn", validator=_check_start_method)
    monitor_interval: float = attrs.field(default=5)
    max_restarts: int = attrs.field(default=0, validator=_non_negative_int)
    # Left out of the hash (a dict has none), so the config stays hashable like the others.
    rdzv_configs: dict[str, Any] = attrs.field(factory=_default_rdzv_configs, hash=False)
    increase_shared_mem: bool = True
    run_policy: RunPolicy | None = None

    @monitor_interval.validator
    def _positive_interval(self, _attribute: attrs.Attribute[float], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"monitor_interval must be a number of seconds > 0, got {value!r}")

    @property
    def min_nodes(self) -> int:
        """The fewest nodes the job runs on."""
        return node_range(self.nnodes)[0]

    @property
    def max_nodes(self) -> int:
        """The most nodes the job runs on."""
        return node_range(self.nnodes)[1]

    @property
    def local_processes(self) -> int:
        """``nproc_per_node``: this machine is one node."""
        return self.nproc_per_node


# --- TaskTemplate.custom ----------------------------------------------------------------------


def _resources_pb(requests: Resources | None, limits: Resources | None) -> tasks_pb2.Resources:
    def entries(resources: Resources | None) -> list[tasks_pb2.Resources.ResourceEntry]:
        if resources is None:
            return []
        return [
            tasks_pb2.Resources.ResourceEntry(name=int(e.name), value=e.value) for e in resources.entries()
        ]

    # Always set, empty when neither is given: flytekit writes "resources": {} then too.
    return tasks_pb2.Resources(requests=entries(requests), limits=entries(limits))


def _replica_spec(
    replica: Master | Worker, replicas: int
) -> pytorch_pb2.DistributedPyTorchTrainingReplicaSpec:
    spec = pytorch_pb2.DistributedPyTorchTrainingReplicaSpec(replicas=replicas, image=replica.image or "")
    spec.resources.CopyFrom(_resources_pb(replica.requests, replica.limits))
    if replica.restart_policy is not None:
        spec.restart_policy = replica.restart_policy.value
    return spec


def _run_policy_pb(policy: RunPolicy) -> common_pb2.RunPolicy:
    message = common_pb2.RunPolicy()
    if policy.clean_pod_policy is not None:
        message.clean_pod_policy = policy.clean_pod_policy.value
    if policy.ttl_seconds_after_finished is not None:
        message.ttl_seconds_after_finished = policy.ttl_seconds_after_finished
    if policy.active_deadline_seconds is not None:
        message.active_deadline_seconds = policy.active_deadline_seconds
    if policy.backoff_limit is not None:
        message.backoff_limit = policy.backoff_limit
    return message


def to_custom(config: DistributedTraining) -> dict[str, Any]:
    """``TaskTemplate.custom`` for ``config``: flyteidl's ``DistributedPyTorchTrainingTask`` as a
    JSON dict, with the values flytekit writes."""
    job = pytorch_pb2.DistributedPyTorchTrainingTask()
    if isinstance(config, PyTorch):
        job.worker_replicas.CopyFrom(_replica_spec(config.worker, config.workers))
        job.master_replicas.CopyFrom(_replica_spec(config.master, 1))
    elif isinstance(config, Elastic):
        job.worker_replicas.CopyFrom(
            pytorch_pb2.DistributedPyTorchTrainingReplicaSpec(replicas=config.max_nodes)
        )
        job.elastic_config.CopyFrom(
            pytorch_pb2.ElasticConfig(
                rdzv_backend=RDZV_BACKEND,
                min_replicas=config.min_nodes,
                max_replicas=config.max_nodes,
                nproc_per_node=config.nproc_per_node,
                max_restarts=config.max_restarts,
            )
        )
    else:
        raise TypeError(f"expected PyTorch(...) or Elastic(...), got {type(config).__name__}")
    if config.run_policy is not None:
        job.run_policy.CopyFrom(_run_policy_pb(config.run_policy))
    return dict(MessageToDict(job))


def from_custom(custom: dict[str, Any] | None) -> pytorch_pb2.DistributedPyTorchTrainingTask:
    """The ``DistributedPyTorchTrainingTask`` in a template's ``custom`` (an empty one for None);
    unknown fields are an error naming them."""
    return ParseDict(dict(custom or {}), pytorch_pb2.DistributedPyTorchTrainingTask())
