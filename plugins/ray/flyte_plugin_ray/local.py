"""The local face: the task body runs connected to Ray, as it would inside a RayJob.

Without ``RayJobConfig.address`` the plugin starts a local Ray instance for the task
(``ray.init(address="local")``: an ambient ``RAY_ADDRESS`` is ignored) with

- one CPU for the head plus one per worker replica, capped to the machine's CPUs;
- no dashboard, usage stats off, and Ray's token authentication off (``RAY_AUTH_MODE=disabled``
  while the instance lives: it is this task's private instance, and so no token is written to
  ``~/.ray``);
- its own temporary folder (Ray never deletes its session folders), removed afterwards;
- the config's ``runtime_env``.

With ``address`` it connects to that cluster instead (``ray.init(address=...)``) and leaves it
running. Either way ``ray.shutdown()`` runs when the body returns or raises, which stops the
processes of a local instance. A process already connected to Ray (the caller ran ``ray.init``)
keeps its connection: the body uses it and the plugin neither starts nor shuts anything.

Inside the body, ``current_context().ray_cluster`` is a :class:`RayCluster` saying which.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import attrs

from flyte_plugin_ray.config import RayJobConfig
from flytecore.plugin import context_attribute

__all__ = ["LOCAL_INSTANCE_ENV", "RayCluster", "local_cpu_count", "ray_cluster"]

LOCAL_INSTANCE_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
"""Environment variables set while a local instance lives (its processes inherit them)."""

# Ray puts Unix sockets under its temporary folder; their paths must stay under 108 bytes.
_MAX_TEMP_BASE = 40


@attrs.define(frozen=True, kw_only=True)
class RayCluster:
    """The Ray a task body is connected to (``current_context().ray_cluster``).

    :ivar address: the cluster's GCS address (``host:port``).
    :ivar started: True when the plugin started a local instance for this task.
    :ivar num_cpus: the CPUs of that local instance; None when not started by the plugin.
    :ivar temp_dir: that local instance's temporary folder (removed when the task ends); None
        when not started by the plugin.
    """

    address: str
    started: bool
    num_cpus: int | None = None
    temp_dir: str | None = None


def local_cpu_count(config: RayJobConfig) -> int:
    """CPUs of the local instance for ``config``: one for the head plus one per worker replica,
    at most the machine's."""
    wanted = 1 + sum(group.replicas for group in config.worker_node_config)
    return max(1, min(wanted, os.cpu_count() or 1))


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _temp_base() -> str:
    base = tempfile.gettempdir()
    return base if len(base) <= _MAX_TEMP_BASE else "/tmp"


@contextlib.contextmanager
def _connected(cluster: RayCluster, task: Any) -> Iterator[RayCluster]:
    if task is None:  # used directly, not around a task body: no task context to give it to
        yield cluster
        return
    with context_attribute("ray_cluster", cluster):
        yield cluster


@contextlib.contextmanager
def ray_cluster(config: RayJobConfig, task: Any = None) -> Iterator[RayCluster]:
    """Connect this process to Ray for ``config`` while inside; yields a :class:`RayCluster`.

    :param task: the task whose body runs inside; when given, the body reads the
        :class:`RayCluster` as ``current_context().ray_cluster``.
    """
    import ray

    if ray.is_initialized():
        # Someone else's connection (the caller's own ray.init): use it, leave it as it is.
        existing = RayCluster(address=ray.get_runtime_context().gcs_address, started=False)
        with _connected(existing, task) as cluster:
            yield cluster
        return

    runtime_env = dict(config.runtime_env) if config.runtime_env else None
    if config.address is not None:
        ray.init(address=config.address, runtime_env=runtime_env)
        try:
            connected = RayCluster(address=ray.get_runtime_context().gcs_address, started=False)
            with _connected(connected, task) as cluster:
                yield cluster
        finally:
            ray.shutdown()  # disconnects; the cluster keeps running
        return

    num_cpus = local_cpu_count(config)
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir=_temp_base())
    try:
        with _environment(LOCAL_INSTANCE_ENV):
            try:
                ray.init(
                    address="local",
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    _temp_dir=temp_dir,
                    runtime_env=runtime_env,
                )
                local = RayCluster(
                    address=ray.get_runtime_context().gcs_address,
                    started=True,
                    num_cpus=num_cpus,
                    temp_dir=temp_dir,
                )
                with _connected(local, task) as cluster:
                    yield cluster
            finally:
                ray.shutdown()  # stops the instance's processes
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
