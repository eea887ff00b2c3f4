"""PyTorch tasks and a workflow for the plugin's tests (imported by the sandbox's worker processes)."""

from __future__ import annotations

import os

from flyte_plugin_pytorch import (
    CleanPodPolicy,
    Elastic,
    Master,
    PyTorch,
    RestartPolicy,
    RunPolicy,
    Worker,
)

from flytecore import FlyteRecoverableException, Resources, task, workflow


def _all_reduce_sum(base: int) -> dict[str, int]:
    """Each rank contributes ``base + rank + 1``; every rank gets the sum over the group (gloo)."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        rank = dist.get_rank()
        tensor = torch.tensor([float(base + rank + 1)])
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return {
            "rank": rank,
            "sum": int(tensor.item()),
            "world_size": int(os.environ["WORLD_SIZE"]),
            "group_size": dist.get_world_size(),
            "pid": os.getpid(),
        }
    finally:
        dist.destroy_process_group()


@task(task_config=PyTorch(num_workers=2))
def all_reduce(base: int) -> dict[str, int]:
    """A PyTorch task: rank 0's view of an all-reduce over two workers."""
    return _all_reduce_sum(base)


@task(task_config=Elastic(nproc_per_node=2, monitor_interval=1))
def elastic_all_reduce(base: int) -> dict[str, int]:
    """An Elastic task: the same all-reduce over ``nproc_per_node`` local workers."""
    return _all_reduce_sum(base)


@task(task_config=PyTorch(num_workers=2))
def rank_one_fails(message: str) -> int:
    """Rank 1 raises ``message``; rank 0 would return 0."""
    if os.environ["RANK"] == "1":
        raise ValueError(message)
    return 0


@task(task_config=Elastic(nproc_per_node=1, monitor_interval=1))
def recoverable(message: str) -> int:
    """Raises a recoverable error in its only worker."""
    raise FlyteRecoverableException(message)


@task(
    task_config=PyTorch(
        master=Master(image="registry.local/torch-master:1", restart_policy=RestartPolicy.ALWAYS),
        worker=Worker(
            replicas=4,
            image="registry.local/torch-worker:1",
            requests=Resources(cpu="2", mem="4Gi"),
            limits=Resources(cpu="4", mem="8Gi", gpu="1"),
            restart_policy=RestartPolicy.FAILURE,
        ),
        run_policy=RunPolicy(
            clean_pod_policy=CleanPodPolicy.ALL,
            ttl_seconds_after_finished=600,
            active_deadline_seconds=3600,
            backoff_limit=3,
        ),
    ),
    requests=Resources(cpu="500m", mem="1Gi"),
)
def configured(x: int) -> int:
    """A PyTorch task with every field of the configuration set (serialized, not run)."""
    return x


@task(
    task_config=Elastic(
        nnodes="2:4",
        nproc_per_node=8,
        max_restarts=3,
        run_policy=RunPolicy(clean_pod_policy=CleanPodPolicy.RUNNING, backoff_limit=2),
    ),
    requests=Resources(cpu="500m", mem="1Gi"),
)
def elastic_configured(x: int) -> int:
    """A multi-node Elastic task (serialized, not run)."""
    return x


@workflow
def distributed_sum(base: int = 10) -> dict[str, int]:
    """One PyTorch task in a workflow."""
    return all_reduce(base=base)


@task(task_config=PyTorch(num_workers=2))
def process_id() -> int:
    """The id of the process the body runs in."""
    return os.getpid()


@task(task_config=Elastic(nproc_per_node=2, monitor_interval=1))
def sleep_in_workers(folder: str) -> int:
    """Each worker writes its pid to ``folder/RANK``, then sleeps (until it is killed)."""
    import time
    from pathlib import Path

    Path(folder, os.environ["RANK"]).write_text(str(os.getpid()))
    time.sleep(600)
    return 0


@workflow
def failing_worker(message: str = "rank one gave up") -> int:
    """A workflow whose PyTorch task fails in rank 1."""
    return rank_one_fails(message=message)
