"""The local face: the task body runs with a ``distributed.LocalCluster`` and a default client.

Worker processes (not threads: the body's functions are pickled to them as on a real cluster),
listening on 127.0.0.1 only, no dashboard; as many as ``WorkerGroup.number_of_workers`` asks,
capped to the machine's CPUs. ``distributed.Client()`` and ``dask.compute`` inside the body use
this cluster; it is closed when the body returns or raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from flyte_plugin_dask.config import Dask

__all__ = ["local_cluster", "local_worker_count"]


def local_worker_count(config: Dask) -> int:
    """Worker processes for ``config`` on this machine: what it asks for, at most one per CPU."""
    return max(1, min(config.workers.number_of_workers, os.cpu_count() or 1))


@contextlib.contextmanager
def local_cluster(config: Dask, task: Any = None) -> Iterator[Any]:
    """Start a ``LocalCluster`` for ``config`` and make its ``Client`` the default; yields the client.

    :param task: the task whose body runs inside (unused; part of the ``local_context`` signature).
    """
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=local_worker_count(config),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=True) as client,
    ):
        yield client
