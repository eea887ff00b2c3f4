"""The local face with the real engine: torch elastic workers all-reduce over gloo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytorch_tasks
from flyte_plugin_pytorch import Elastic, PyTorch, WorkerFailedError
from flyte_plugin_pytorch.local import (
    LOCAL_HOST,
    _body_reference,
    _launch_config,
    in_elastic_job,
    in_pytorch_job,
    local_world_size,
)
from processes import alive, children

from flytecore import FlyteRecoverableException
from flytecore.errors import TaskExecutionError

TESTS = Path(__file__).parent


def _our_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("flyte-plugin-pytorch-*")}


@pytest.fixture
def leaves_nothing_behind() -> Iterator[None]:
    """The test's launches leave no worker process and no folder of theirs behind."""
    folders = _our_temp_dirs()
    assert children() == []
    yield
    assert children() == []
    assert _our_temp_dirs() <= folders


# --- with the real engine (each test launches workers: ~2-4 s, ~700 MB) ----------------------


@pytest.mark.timeout(120)
def test_a_pytorch_task_all_reduces_over_two_workers(leaves_nothing_behind: None) -> None:
    result = pytorch_tasks.all_reduce(base=0)
    # Rank 0's return value is the output; each rank contributed rank + 1.
    assert result["rank"] == 0
    assert result["sum"] == 1 + 2
    assert result["world_size"] == result["group_size"] == 2
    assert result["pid"] != os.getpid()  # the body ran in a worker process


@pytest.mark.timeout(120)
def test_an_elastic_task_runs_nproc_per_node_workers(leaves_nothing_behind: None) -> None:
    result = pytorch_tasks.elastic_all_reduce(base=10)
    assert (result["rank"], result["world_size"]) == (0, 2)
    assert result["sum"] == 11 + 12


@pytest.mark.timeout(120)
def test_a_failing_worker_fails_the_task_with_its_message(leaves_nothing_behind: None) -> None:
    with pytest.raises(
        TaskExecutionError, match=r"worker rank 1 of 2 failed .*ValueError: rank one gave up"
    ) as info:
        pytorch_tasks.rank_one_fails(message="rank one gave up")
    error = info.value.cause
    assert isinstance(error, WorkerFailedError)
    assert (error.rank, error.world_size, error.exitcode) == (1, 2, 1)
    assert error.worker_message == "ValueError: rank one gave up"
    # The worker's own traceback, pointing into the task's file.
    assert 'pytorch_tasks.py", line' in error.worker_traceback
    assert "raise ValueError(message)" in str(error)


@pytest.mark.timeout(120)
def test_a_recoverable_error_in_a_worker_stays_recoverable(leaves_nothing_behind: None) -> None:
    with pytest.raises(TaskExecutionError) as info:
        pytorch_tasks.recoverable(message="the GPU fell off the bus")
    assert isinstance(info.value.cause, FlyteRecoverableException)
    assert "the GPU fell off the bus" in str(info.value.cause)


@pytest.mark.timeout(180)
def test_workers_die_with_a_killed_agent(tmp_path: Path) -> None:
    """SIGKILL leaves torch elastic no chance to stop its workers: they notice on their own."""
    pids_dir, temp_dir = tmp_path / "pids", tmp_path / "tmp"
    pids_dir.mkdir()
    temp_dir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(temp_dir),  # the killed agent cannot remove its folder: it stays in tmp_path
    }
    agent = subprocess.Popen(
        [sys.executable, "-c", f"import pytorch_tasks; pytorch_tasks.sleep_in_workers(folder={str(pids_dir)!r})"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(list(pids_dir.iterdir())) < 2:
            assert agent.poll() is None, "the task ended before its workers started"
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        time.sleep(0.2)  # both files are written in full
        pids = [int(p.read_text()) for p in sorted(pids_dir.iterdir())]
        assert all(alive(pid) for pid in pids)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in pids), "a worker outlived its agent"
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# --- without launching ---------------------------------------------------------------------------


def test_local_workers_are_what_the_config_asks_capped_to_the_machine() -> None:
    cap = max(2, os.cpu_count() or 1)
    assert local_world_size(PyTorch(num_workers=2)) == 2
    assert local_world_size(PyTorch(num_workers=1)) == 1
    assert local_world_size(PyTorch(num_workers=10_000)) == cap
    assert local_world_size(Elastic(nproc_per_node=2)) == 2
    assert local_world_size(Elastic(nnodes=4, nproc_per_node=10_000)) == cap


def test_in_a_pytorchjob_replica_the_body_runs_in_the_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    # The training operator set the rank: this process is one member of the job, no launch.
    for name, value in {
        "RANK": "3",
        "WORLD_SIZE": "5",
        "MASTER_ADDR": "job-master-0",
        "MASTER_PORT": "23456",
    }.items():
        monkeypatch.setenv(name, value)
    assert pytorch_tasks.process_id() == os.getpid()


def test_operator_environments_are_recognised() -> None:
    assert in_pytorch_job({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "m"})
    assert not in_pytorch_job({"RANK": "0", "WORLD_SIZE": "2"})
    assert in_elastic_job({"PET_NNODES": "2:4"})
    assert not in_elastic_job({})


def test_a_local_launch_is_one_node_with_its_own_rendezvous_on_localhost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PET_NNODES", raising=False)
    config = Elastic(
        nnodes=4, nproc_per_node=2, max_restarts=2, monitor_interval=3, rdzv_configs={"timeout": 60}
    )
    launch = _launch_config(config, 2, str(tmp_path))
    assert (launch.min_nodes, launch.max_nodes, launch.nproc_per_node) == (1, 1, 2)
    assert (launch.rdzv_backend, launch.rdzv_endpoint) == ("c10d", f"{LOCAL_HOST}:0")
    assert launch.rdzv_configs == {"timeout": 60, "is_host": True}
    assert (launch.max_restarts, launch.monitor_interval, launch.local_addr) == (2, 3, LOCAL_HOST)
    launch = _launch_config(PyTorch(num_workers=3), 3, str(tmp_path))
    assert (launch.nproc_per_node, launch.max_restarts, launch.start_method) == (3, 0, "spawn")


def test_in_an_elastic_pytorchjob_the_agent_joins_the_jobs_rendezvous(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What the training operator sets in each pod of an elastic PyTorchJob.
    monkeypatch.setenv("PET_NNODES", "2:4")
    monkeypatch.setenv("PET_RDZV_ENDPOINT", "e1-n0-0-worker-0:29400")
    monkeypatch.setenv("PET_RDZV_ID", "e1-n0-0")
    launch = _launch_config(Elastic(nnodes="2:4", nproc_per_node=8), 2, str(tmp_path))
    assert (launch.min_nodes, launch.max_nodes, launch.nproc_per_node) == (2, 4, 8)
    assert (launch.rdzv_endpoint, launch.run_id) == ("e1-n0-0-worker-0:29400", "e1-n0-0")
    assert "is_host" not in launch.rdzv_configs


def test_a_body_travels_by_name_when_its_module_gives_it_back() -> None:
    reference = _body_reference(pytorch_tasks.all_reduce.fn)
    assert reference is not None
    assert reference.resolve() is pytorch_tasks.all_reduce.fn

    def nested() -> None: ...

    assert _body_reference(nested) is None  # travels by value (cloudpickle)
