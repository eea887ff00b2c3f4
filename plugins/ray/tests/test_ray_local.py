"""The local face with the real engine: task bodies run ``@ray.remote`` functions.

Each test here starts one Ray instance (~2 s, ~700 MB): keep them few.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
import ray_tasks
from flyte_plugin_ray import RayJobConfig, WorkerNodeConfig
from flyte_plugin_ray.local import local_cpu_count, ray_cluster

pytestmark = pytest.mark.timeout(180)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_until_gone(pids: list[int], limit: float = 30) -> list[int]:
    """The pids still alive after at most ``limit`` seconds (processes take a moment to exit)."""
    deadline = time.monotonic() + limit
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_a_task_body_runs_ray_remote_functions() -> None:
    assert ray_tasks.sum_of_squares(n=10) == sum(i * i for i in range(10))
    assert not ray.is_initialized()  # the connection ended with the body


def test_the_task_gets_its_own_instance_and_nothing_is_left_after_it() -> None:
    auth_before = os.environ.get("RAY_AUTH_MODE")
    facts = ray_tasks.cluster_facts()
    cpus = str(min(1 + 3, os.cpu_count() or 1))  # head + 3 worker replicas, capped to the machine
    assert facts["started"] == "True"
    assert (facts["num_cpus"], facts["cluster_cpus"]) == (cpus, cpus)
    assert facts["worker_env"] == "from-runtime-env"  # the config's runtime_env reached the workers
    assert facts["auth_mode"] == "disabled"
    pids = [int(p) for p in facts["pids"].split(",") if p]
    assert int(facts["worker_pid"]) in pids  # the worker descends from the instance's raylet
    # After the task: the instance's processes have ended and its folder is gone.
    assert not ray.is_initialized()
    assert _wait_until_gone(pids) == []
    assert not Path(facts["temp_dir"]).exists()
    assert os.environ.get("RAY_AUTH_MODE") == auth_before


def test_the_instance_is_shut_down_when_the_body_raises() -> None:
    config = RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="w", replicas=1)])
    with pytest.raises(RuntimeError, match="boom"), ray_cluster(config) as cluster:
        assert ray.get(ray_tasks.square.remote(3)) == 9
        assert cluster.temp_dir is not None
        temp_dir, pids = cluster.temp_dir, ray_tasks.processes_under(cluster.temp_dir)
        assert pids
        # Inside, Ray is already connected: a nested use takes that connection and leaves it be.
        with ray_cluster(config) as nested:
            assert (nested.started, nested.address, nested.temp_dir) == (False, cluster.address, None)
        assert ray.is_initialized() and ray.get(ray_tasks.square.remote(4)) == 16
        raise RuntimeError("boom")
    assert not ray.is_initialized()
    assert _wait_until_gone(pids) == []
    assert not Path(temp_dir).exists()


def test_the_cpu_count_is_the_head_plus_the_replicas_capped_to_the_machine() -> None:
    def config(*replicas: int) -> RayJobConfig:
        return RayJobConfig(
            worker_node_config=[
                WorkerNodeConfig(group_name=f"g{i}", replicas=r) for i, r in enumerate(replicas)
            ]
        )

    machine = os.cpu_count() or 1
    assert local_cpu_count(config()) == 1
    assert local_cpu_count(config(1)) == min(2, machine)
    assert local_cpu_count(config(5000, 5000)) == machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_head(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """A Ray cluster of its own (``ray start --head --block``, no token auth): its address,
    temporary folder and process. Stopped with SIGTERM, which `ray start` passes on."""
    temp_dir = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")
    port = _free_port()
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    command = [
        os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--head", "--block",
        f"--port={port}", "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={temp_dir}",
        f"--ray-client-server-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
        "--disable-usage-stats",
    ]  # fmt: skip
    head = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    assert head.stdout is not None
    seen = []
    for line in head.stdout:  # pytest-timeout bounds the wait
        seen.append(line)
        if "Ray runtime started" in line:
            break
    else:
        pytest.fail("ray start --head ended: " + "".join(seen[-20:]))
    # The driver in this process talks to a cluster without token auth.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    try:
        yield f"127.0.0.1:{port}", temp_dir, head
    finally:
        pids = ray_tasks.processes_under(temp_dir)
        head.send_signal(signal.SIGTERM)
        try:
            head.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the group of the `ray start` this fixture started
            head.communicate()
        left = _wait_until_gone(pids)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert left == [], f"the test cluster left processes {left}"


def test_an_address_connects_to_that_cluster_and_leaves_it_running(
    ray_head: tuple[str, str, subprocess.Popen[str]],
) -> None:
    address, head_dir, head = ray_head
    with ray_cluster(ray_tasks.at_address(address)) as cluster:
        assert (cluster.started, cluster.temp_dir, cluster.num_cpus) == (False, None, None)
        assert cluster.address.endswith(":" + address.rsplit(":", 1)[1])
        facts = ray.get(ray_tasks.worker_facts.remote())
        assert int(facts["pid"]) in ray_tasks.processes_under(head_dir)  # ran on that cluster's worker
    assert not ray.is_initialized()
    assert head.poll() is None  # the cluster is not the plugin's to stop
