"""Dask tasks and a workflow for the plugin's tests (imported by the sandbox's worker processes)."""

from __future__ import annotations

from flyte_plugin_dask import Dask, Scheduler, WorkerGroup

from flytecore import Resources, task, workflow


@task(task_config=Dask(workers=WorkerGroup(number_of_workers=2)))
def array_sum(n: int) -> int:
    """Sum 0..n-1 as a chunked dask array, computed by the default client's workers."""
    import dask.array as da
    from distributed import get_client

    client = get_client()
    assert client.cluster is not None  # a cluster this task started, not a scheduler found elsewhere
    return int(client.compute(da.arange(n, chunks=max(1, n // 4)).sum()).result())


@task(task_config=Dask(workers=WorkerGroup(number_of_workers=2)))
def worker_count() -> int:
    """How many workers the default client's cluster has."""
    from distributed import get_client

    return len(get_client().scheduler_info()["workers"])


@task(
    task_config=Dask(
        scheduler=Scheduler(image="ghcr.io/dask/dask:2024.1.0", requests=Resources(cpu="1", mem="2Gi")),
        workers=WorkerGroup(number_of_workers=4, limits=Resources(cpu="2", mem="4Gi")),
    ),
    requests=Resources(cpu="500m", mem="1Gi"),
)
def configured(x: int) -> int:
    """A task with every field of the configuration set (serialized, not run)."""
    return x


@workflow
def dask_sum(n: int = 100) -> int:
    """One Dask task in a workflow."""
    return array_sum(n=n)
