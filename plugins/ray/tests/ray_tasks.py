"""Ray tasks and a workflow for the plugin's tests (imported by the sandbox's worker processes)."""

from __future__ import annotations

import os

import ray
from flyte_plugin_ray import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig

from flytecore import Resources, current_context, task, workflow

RUNTIME_ENV_VAR = "FLYTE_PLUGIN_RAY_TEST"


@ray.remote
def square(x: int) -> int:
    """A Ray task: runs in one of the instance's worker processes."""
    return x * x


@ray.remote
def worker_facts() -> dict[str, str]:
    """What a Ray worker process sees: its pid and the runtime environment's variable."""
    return {"pid": str(os.getpid()), "env": os.environ.get(RUNTIME_ENV_VAR, "")}


def processes_under(folder: str) -> list[int]:
    """Pids of the processes whose command line names ``folder`` (a local Ray instance's GCS
    server, raylet, log monitor … all take its session folder) and of all their descendants
    (the Ray worker processes the raylet starts)."""
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if folder in cmdline:
            found.add(int(entry))
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


@task(task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=1)]))
def sum_of_squares(n: int) -> int:
    """Sum of i*i for i < n, each square a ``@ray.remote`` task."""
    return sum(ray.get([square.remote(i) for i in range(n)]))


@task(
    task_config=RayJobConfig(
        worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=3)],
        runtime_env={"env_vars": {RUNTIME_ENV_VAR: "from-runtime-env"}},
    )
)
def cluster_facts() -> dict[str, str]:
    """What the body's Ray is: the instance the plugin started, seen from the body and a worker."""
    cluster = current_context().ray_cluster
    facts = ray.get(worker_facts.remote())
    return {
        "started": str(cluster.started),
        "temp_dir": cluster.temp_dir or "",
        "address": cluster.address,
        "num_cpus": str(cluster.num_cpus),
        "cluster_cpus": str(int(ray.cluster_resources()["CPU"])),
        "worker_env": facts["env"],
        "worker_pid": facts["pid"],
        "auth_mode": os.environ.get("RAY_AUTH_MODE", ""),
        "pids": ",".join(str(p) for p in processes_under(cluster.temp_dir or "/nonexistent")),
    }


def at_address(address: str) -> RayJobConfig:
    """A config that names an existing cluster."""
    return RayJobConfig(worker_node_config=[], address=address)


@task(
    task_config=RayJobConfig(
        head_node_config=HeadNodeConfig(
            ray_start_params={"log-color": "True"}, requests=Resources(cpu="1", mem="2Gi")
        ),
        worker_node_config=[
            WorkerNodeConfig(
                group_name="cpu-group",
                replicas=2,
                min_replicas=1,
                max_replicas=4,
                ray_start_params={"num-cpus": "2"},
                limits=Resources(cpu="2", mem="4Gi"),
            ),
            WorkerNodeConfig(group_name="small", replicas=1),
        ],
        enable_autoscaling=True,
        runtime_env={"pip": ["numpy"], "env_vars": {"A": "b"}},
        shutdown_after_job_finishes=True,
        ttl_seconds_after_finished=120,
    ),
    requests=Resources(cpu="500m", mem="1Gi"),
    environment={"TASK_ENV": "1"},
)
def configured(x: int) -> int:
    """A task with the fields of the configuration set (serialized, not run)."""
    return x


@task(task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="g", replicas=1)]))
def minimal() -> None:
    """Only a worker group (serialized, not run)."""


@task(
    task_config=RayJobConfig(
        worker_node_config=[WorkerNodeConfig(group_name="g", replicas=3)], head_node_config=HeadNodeConfig()
    )
)
def empty_head() -> None:
    """An empty head configuration (serialized, not run)."""


@task(
    task_config=RayJobConfig(
        worker_node_config=[WorkerNodeConfig(group_name="g", replicas=1)],
        autoscaler_options=AutoscalerOptionsConfig(
            upscaling_mode=AutoscalerOptionsConfig.UpscalingMode.CONSERVATIVE,
            idle_timeout_seconds=30,
            env={"K": "v"},
            image="img:1",
            requests=Resources(cpu="500m"),
            limits=Resources(cpu="1", mem="1Gi"),
        ),
    )
)
def autoscaled() -> None:
    """Autoscaler options (serialized, not run)."""


@workflow
def ray_sum(n: int = 10) -> int:
    """One Ray task in a workflow."""
    return sum_of_squares(n=n)
