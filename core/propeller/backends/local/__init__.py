"""The local backend: tasks run in a pool of warm worker processes on this machine.

A trivial Python task costs a round trip over a pipe, not an interpreter start: each worker has
flytecore imported once and runs the task entrypoint in-process; container tasks (any other
command line) run as a subprocess of a worker. See :class:`WorkerPool`.
"""

from flytecore.propeller.backends.local.jobs import (
    Job,
    JobHandle,
    JobOutcome,
    JobResult,
    PoolClosedError,
)
from flytecore.propeller.backends.local.pool import DEFAULT_IN_PROCESS, WorkerPool

__all__ = [
    "DEFAULT_IN_PROCESS",
    "Job",
    "JobHandle",
    "JobOutcome",
    "JobResult",
    "PoolClosedError",
    "WorkerPool",
]
