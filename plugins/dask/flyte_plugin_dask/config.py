"""The task configuration: flytekit's ``Dask``, ``Scheduler`` and ``WorkerGroup``.

``TaskTemplate.custom`` is flyteidl's ``flyteidl.plugins.DaskJob`` message as a JSON dict
(``MessageToDict``), exactly what flytekit's plugin writes, so a template round-trips through
flyteidl and FlytePropeller's Dask plugin reads it.
"""

from __future__ import annotations

from typing import Any

import attrs
from flyteidl.core import tasks_pb2
from flyteidl.plugins import dask_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from flytecore import Resources

__all__ = ["TASK_TYPE", "Dask", "Scheduler", "WorkerGroup", "from_custom", "to_custom"]

TASK_TYPE = "dask"
"""The task type string (flytekit's too)."""


def _check_resources(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Resources):
        raise TypeError(f"{attribute.name}= must be flytecore.Resources(...), got {type(value).__name__}")


@attrs.define(frozen=True, kw_only=True)
class Scheduler:
    """The scheduler pod.

    :ivar image: the scheduler's image; None: the task's image.
    :ivar requests: resources requested; None: the task's.
    :ivar limits: resource limits; None: the task's.
    """

    image: str | None = None
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)


@attrs.define(frozen=True, kw_only=True)
class WorkerGroup:
    """The default worker group.

    :ivar number_of_workers: worker pods on Kubernetes, worker processes locally (capped to the
        machine's CPUs there).
    :ivar image: the workers' image; None: the task's image.
    :ivar requests: resources requested per worker; None: the task's.
    :ivar limits: resource limits per worker; None: the task's.
    """

    number_of_workers: int = attrs.field(default=1)
    image: str | None = None
    requests: Resources | None = attrs.field(default=None, validator=_check_resources)
    limits: Resources | None = attrs.field(default=None, validator=_check_resources)

    @number_of_workers.validator
    def _positive(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"number_of_workers must be an int >= 1, got {value!r}")


@attrs.define(frozen=True, kw_only=True)
class Dask:
    """``@task(task_config=Dask(...))``: run the task with a Dask cluster.

    :ivar scheduler: the scheduler's configuration.
    :ivar workers: the default worker group's configuration.
    """

    scheduler: Scheduler = attrs.field(factory=Scheduler)
    workers: WorkerGroup = attrs.field(factory=WorkerGroup)


def _resources_pb(requests: Resources | None, limits: Resources | None) -> tasks_pb2.Resources | None:
    if requests is None and limits is None:
        return None

    def entries(resources: Resources | None) -> list[tasks_pb2.Resources.ResourceEntry]:
        if resources is None:
            return []
        return [tasks_pb2.Resources.ResourceEntry(name=int(e.name), value=e.value) for e in resources.entries()]

    return tasks_pb2.Resources(requests=entries(requests), limits=entries(limits))


def to_custom(config: Dask) -> dict[str, Any]:
    """``TaskTemplate.custom`` for ``config``: flyteidl's ``DaskJob`` as a JSON dict."""
    scheduler = dask_pb2.DaskScheduler(image=config.scheduler.image or "")
    resources = _resources_pb(config.scheduler.requests, config.scheduler.limits)
    if resources is not None:
        scheduler.resources.CopyFrom(resources)
    workers = dask_pb2.DaskWorkerGroup(
        number_of_workers=config.workers.number_of_workers, image=config.workers.image or ""
    )
    resources = _resources_pb(config.workers.requests, config.workers.limits)
    if resources is not None:
        workers.resources.CopyFrom(resources)
    job = dask_pb2.DaskJob(scheduler=scheduler, workers=workers)
    return dict(MessageToDict(job))


def from_custom(custom: dict[str, Any] | None) -> dask_pb2.DaskJob:
    """The ``DaskJob`` message in a template's ``custom`` (an empty one for None); unknown fields
    are an error naming them."""
    return ParseDict(dict(custom or {}), dask_pb2.DaskJob())
