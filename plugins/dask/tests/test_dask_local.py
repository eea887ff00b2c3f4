"""The local face with the real engine: the body computes on a LocalCluster."""

from __future__ import annotations

import os

import dask_tasks
import distributed
import pytest
from flyte_plugin_dask import Dask, WorkerGroup
from flyte_plugin_dask.local import local_cluster, local_worker_count


def test_a_task_computes_a_dask_array_sum_on_the_cluster() -> None:
    assert dask_tasks.array_sum(n=1000) == sum(range(1000))


def test_the_cluster_has_the_configured_workers_capped_to_the_machine() -> None:
    assert dask_tasks.worker_count() == min(2, os.cpu_count() or 1)
    assert local_worker_count(Dask(workers=WorkerGroup(number_of_workers=10_000))) == (os.cpu_count() or 1)


def test_the_cluster_is_torn_down_after_the_body() -> None:
    with local_cluster(Dask()) as client:
        assert distributed.get_client() is client
        cluster = client.cluster
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert client.status == "closed"
    assert cluster.status.name == "closed"
    with pytest.raises(ValueError):
        distributed.get_client()  # no default client is left behind


def test_the_cluster_is_torn_down_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), local_cluster(Dask()) as client:
        raise RuntimeError("boom")
    assert client.status == "closed"
