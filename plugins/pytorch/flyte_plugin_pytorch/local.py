"""The local face: the task body runs in torch elastic worker processes; rank 0's result is the output.

:func:`run_distributed` is the task type's ``local_runner``: flytecore calls it instead of the
body, wherever the body runs in Python (a local call, a local workflow, the ``flytecore-execute``
worker of the sandbox or of a pod).

- On this machine (no operator around) it starts a torch elastic agent
  (``torch.distributed.launcher.api.elastic_launch``) with a ``c10d`` rendezvous on
  127.0.0.1: one node, :func:`local_world_size` worker processes. Each worker gets ``RANK``,
  ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` from elastic, and
  ``OMP_NUM_THREADS=1`` unless the environment sets it (torchrun's default), so the body just
  calls ``torch.distributed.init_process_group("gloo")``.
- In a pod of a ``PyTorchJob`` (``PyTorch``: the operator set ``RANK``, ``WORLD_SIZE`` and
  ``MASTER_ADDR``) every replica is one process of the job: the body runs as it is.
- In a pod of an elastic ``PyTorchJob`` (``Elastic``: the operator set ``PET_NNODES``) the agent
  joins the job's rendezvous at ``PET_RDZV_ENDPOINT`` with ``nnodes`` nodes, as torchrun would.

The body travels to the workers by name when its module can give it back (the workers import
the module and take the task's ``fn``: tracebacks keep its file and lines), else by value with
cloudpickle (``__main__``, nested functions): the module attribute of a task is the task object,
not the function, so plain pickle cannot name the function. A worker exits when
its agent dies, so no worker outlives a killed task. The worker's exception fails the task: its
type, message and traceback are in the error (:class:`WorkerFailedError`); a
``FlyteRecoverableException`` in a worker stays recoverable.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from flyte_plugin_pytorch.config import RDZV_BACKEND, DistributedTraining, Elastic, PyTorch
from flytecore import FlyteRecoverableException

__all__ = [
    "LOCAL_HOST",
    "WorkerFailedError",
    "in_elastic_job",
    "in_pytorch_job",
    "local_world_size",
    "run_distributed",
]

logger = logging.getLogger(__name__)

LOCAL_HOST = "127.0.0.1"
"""Where the local rendezvous and the workers listen: never another interface."""

# A worker drops a file named after its rank here when its body raised a recoverable error.
_RECOVERABLE_DIR = "FLYTE_PLUGIN_PYTORCH_RECOVERABLE_DIR"


class WorkerFailedError(RuntimeError):
    """A worker process of a distributed task failed.

    :ivar rank: the global rank of the first worker that failed.
    :ivar world_size: the number of workers.
    :ivar exitcode: its exit code (negative: killed by that signal).
    :ivar worker_message: the worker's own error (``"ValueError: ..."``), or why it died.
    :ivar worker_traceback: the worker's traceback text, if it had one.
    """

    def __init__(
        self, *, rank: int, world_size: int, exitcode: int, worker_message: str, worker_traceback: str = ""
    ) -> None:
        self.rank = rank
        self.world_size = world_size
        self.exitcode = exitcode
        self.worker_message = worker_message
        self.worker_traceback = worker_traceback
        text = f"worker rank {rank} of {world_size} failed (exit code {exitcode}): {worker_message}"
        if worker_traceback:
            text += f"\n\nWorker traceback:\n{worker_traceback.rstrip()}"
        super().__init__(text)


def local_world_size(config: DistributedTraining) -> int:
    """Worker processes for ``config`` on this machine: what it asks for (``PyTorch``: the
    number of workers; ``Elastic``: ``nproc_per_node``), at most one per CPU but never fewer
    than two when two or more are asked for, so that distributed code meets a real world of
    several ranks even on a one-CPU machine."""
    wanted = config.local_processes
    cap = max(2, os.cpu_count() or 1)
    return max(1, min(wanted, cap))


def in_pytorch_job(environ: Mapping[str, str] | None = None) -> bool:
    """True in a replica of a ``PyTorchJob``: the training operator set the process's rank."""
    env = os.environ if environ is None else environ
    return all(env.get(name) for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def in_elastic_job(environ: Mapping[str, str] | None = None) -> bool:
    """True in a pod of an elastic ``PyTorchJob``: the training operator set torchrun's ``PET_*``."""
    env = os.environ if environ is None else environ
    return bool(env.get("PET_NNODES"))


def run_distributed(config: DistributedTraining, task: Any, kwargs: dict[str, Any]) -> Any:
    """The ``local_runner`` of the ``pytorch`` task type: run ``task``'s body with ``kwargs``
    where ``config`` says (see the module docstring); returns rank 0's result.

    :raises WorkerFailedError: a worker failed (the first failure's rank, message, traceback).
    :raises FlyteRecoverableException: a worker raised one (the task may be retried).
    """
    if isinstance(config, PyTorch) and in_pytorch_job():
        return task.fn(**kwargs)
    return _launch(config, task.fn, kwargs)


def _launch_config(config: DistributedTraining, world: int, logs_dir: str) -> Any:
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig

    logs = DefaultLogsSpecs(log_dir=logs_dir)
    if isinstance(config, Elastic) and in_elastic_job():
        # A pod of an elastic PyTorchJob: join the job's rendezvous like torchrun does there.
        return LaunchConfig(
            min_nodes=config.min_nodes,
            max_nodes=config.max_nodes,
            nproc_per_node=config.nproc_per_node,
            run_id=os.environ.get("PET_RDZV_ID")
            or os.environ.get("FLYTE_INTERNAL_EXECUTION_ID", "")
            or "none",
            rdzv_backend=RDZV_BACKEND,
            rdzv_endpoint=os.environ.get("PET_RDZV_ENDPOINT", "localhost:0"),
            rdzv_configs=dict(config.rdzv_configs),
            max_restarts=config.max_restarts,
            monitor_interval=config.monitor_interval,
            start_method=config.start_method,
            logs_specs=logs,
        )
    # This machine is the only node: a rendezvous store of our own on a free local port.
    elastic = config if isinstance(config, Elastic) else None
    return LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=world,
        rdzv_backend=RDZV_BACKEND,
        rdzv_endpoint=f"{LOCAL_HOST}:0",
        rdzv_configs={**(elastic.rdzv_configs if elastic else {}), "is_host": True},
        max_restarts=elastic.max_restarts if elastic else 0,
        # PyTorch has no interval of its own; a short one ends a failed local run quickly.
        monitor_interval=elastic.monitor_interval if elastic else 0.1,
        start_method=elastic.start_method if elastic else "spawn",
        local_addr=LOCAL_HOST,
        logs_specs=logs,
    )


def _launch(config: DistributedTraining, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Run ``fn(**kwargs)`` in torch elastic workers under an agent in this process; returns
    the result of the lowest rank on this node (rank 0 on a single node)."""
    import cloudpickle
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    in_job = isinstance(config, Elastic) and in_elastic_job()
    # A pod of a job has the resources the job asked for; only this machine's share is capped.
    world = config.local_processes if in_job else local_world_size(config)
    if world < config.local_processes:
        logger.warning(
            "%s asks for %d worker processes; running %d on this machine (%d CPUs)",
            type(config).__name__, config.local_processes, world, os.cpu_count() or 1,
        )  # fmt: skip
    payload = cloudpickle.dumps((_body_reference(fn) or fn, kwargs))
    work_dir = tempfile.mkdtemp(prefix="flyte-plugin-pytorch-")
    try:
        recoverable_dir = os.path.join(work_dir, "recoverable")
        os.mkdir(recoverable_dir)
        launch = _launch_config(config, world, os.path.join(work_dir, "logs"))
        env = {_RECOVERABLE_DIR: recoverable_dir}
        if config.local_processes > 1 and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = "1"  # torchrun's default: N workers must not take N x all CPUs
        try:
            with _environment(env):
                results = elastic_launch(launch, _worker_main)(payload, os.getpid())
        except ChildFailedError as exc:
            raise _worker_error(exc, launch.nproc_per_node * launch.max_nodes, recoverable_dir) from None
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    # {global rank: result} of this node's workers. The node that holds rank 0 gives the task's
    # output; another node of a multi-node job gives its lowest rank's (flytecore has no
    # "ignore this pod's outputs" yet, see the README).
    return results[0] if 0 in results else results[min(results)]


@attrs.define(frozen=True)
class _BodyReference:
    """A task body by name (``module``, ``qualname`` of the task object), for a body its
    module can give back: the workers import it and run the real function, so tracebacks name
    its file and lines. Other bodies (``__main__``, nested functions) travel by value."""

    module: str
    qualname: str

    def resolve(self) -> Callable[..., Any]:
        """The function, looked up in its imported module."""
        target: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            target = getattr(target, part)
        return target.fn  # type: ignore[no-any-return]


def _body_reference(fn: Callable[..., Any]) -> _BodyReference | None:
    """A reference to ``fn`` if its module attribute of the same name is a task whose body it is."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or "<locals>" in fn.__qualname__:
        return None
    target: Any = module
    for part in fn.__qualname__.split("."):
        target = getattr(target, part, None)
    if getattr(target, "fn", None) is not fn:
        return None
    return _BodyReference(module.__name__, fn.__qualname__)


def _worker_error(exc: Any, world_size: int, recoverable_dir: str) -> Exception:
    """The task's error for torch elastic's ``ChildFailedError``: the first failure, in words."""
    rank, failure = exc.get_first_failure()
    message: Any = failure.message
    traceback_text = ""
    if isinstance(message, dict):
        traceback_text = str(message.get("extraInfo", {}).get("py_callstack", ""))
        message = message.get("message", "")
    message = str(message or "").strip() or f"the process exited with code {failure.exitcode}"
    error = WorkerFailedError(
        rank=rank,
        world_size=world_size,
        exitcode=failure.exitcode,
        worker_message=message,
        worker_traceback=traceback_text,
    )
    if os.path.exists(os.path.join(recoverable_dir, str(rank))):
        recoverable: Exception = FlyteRecoverableException(str(error))
        recoverable.__cause__ = error
        return recoverable
    return error


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (the workers inherit it) and put the old ones back."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the worker side ------------------------------------------------------------------------------


def _worker_main(payload: bytes, launcher_pid: int) -> Any:
    """Run in each worker process: unpickle the body and its arguments, run it, return its result.

    Module-level so that torch elastic can hand it to ``spawn`` workers by reference.
    """
    import cloudpickle

    _exit_with(launcher_pid)
    body, kwargs = cloudpickle.loads(payload)
    fn = body.resolve() if isinstance(body, _BodyReference) else body
    try:
        return fn(**kwargs)
    except FlyteRecoverableException:
        folder = os.environ.get(_RECOVERABLE_DIR)
        if folder:
            with open(os.path.join(folder, os.environ.get("RANK", "0")), "w"):
                pass
        raise


def _exit_with(agent_pid: int, interval: float = 0.5) -> None:
    """Kill this worker when its agent (``agent_pid``, the parent process) is gone, e.g. after
    SIGKILL: torch elastic stops its workers only when the agent can still run its shutdown."""

    def watch() -> None:
        while os.getppid() == agent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="flyte-plugin-pytorch-agent-watch", daemon=True).start()
