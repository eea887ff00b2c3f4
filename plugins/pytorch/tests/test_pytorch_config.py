"""The configuration: flytekit's shape in ``custom``, round-tripping through flyteidl."""

from __future__ import annotations

from typing import Any

import pytest
import pytorch_tasks
from flyte_plugin_pytorch import DistributedTraining, Elastic, Master, PyTorch, RunPolicy, Worker
from flyte_plugin_pytorch.config import from_custom, node_range, to_custom
from flyteidl.core import tasks_pb2
from flyteidl.plugins.kubeflow import common_pb2, pytorch_pb2
from google.protobuf.json_format import ParseDict

from flytecore import Resources, task
from flytecore.errors import AuthoringError
from flytecore.plugin import PluginHost, make_plugin_host, use_host
from flytecore.testing import idl_round_trip, task_template


def test_the_plugin_registers_the_pytorch_type_through_its_entry_point(strict_host: PluginHost) -> None:
    assert strict_host.task_types.owner("pytorch") == "pytorch"
    info = next(p for p in strict_host.plugins if p.name == "pytorch")
    assert (info.distribution, info.error) == ("flyte-plugin-pytorch", None)
    assert info.contributions == {"task types": ["pytorch"]}


@pytest.mark.parametrize(
    "config", [PyTorch(num_workers=2), Elastic(nproc_per_node=2)], ids=["PyTorch", "Elastic"]
)
def test_both_configs_select_the_pytorch_type_with_the_local_runner(
    strict_host: PluginHost, config: DistributedTraining
) -> None:
    task_type = strict_host.task_types.for_config(config)
    assert task_type is not None
    assert task_type.name == "pytorch"
    assert task_type.local_runner is not None
    assert task_type.kubernetes is not None
    assert (
        pytorch_tasks.all_reduce.task_type.name
        == pytorch_tasks.elastic_all_reduce.task_type.name
        == "pytorch"
    )


def test_pytorch_custom_has_flytekits_values() -> None:
    template = task_template(pytorch_tasks.configured)
    assert template.type == "pytorch"
    assert template.custom == {
        "workerReplicas": {
            "replicas": 4,
            "image": "registry.local/torch-worker:1",
            "resources": {
                "requests": [{"name": "CPU", "value": "2"}, {"name": "MEMORY", "value": "4Gi"}],
                "limits": [
                    {"name": "CPU", "value": "4"},
                    {"name": "MEMORY", "value": "8Gi"},
                    {"name": "GPU", "value": "1"},
                ],
            },
            "restartPolicy": "RESTART_POLICY_ON_FAILURE",
        },
        "masterReplicas": {
            "replicas": 1,
            "image": "registry.local/torch-master:1",
            "resources": {},
            "restartPolicy": "RESTART_POLICY_ALWAYS",
        },
        "runPolicy": {
            "cleanPodPolicy": "CLEANPOD_POLICY_ALL",
            "ttlSecondsAfterFinished": 600,
            "activeDeadlineSeconds": 3600,
            "backoffLimit": 3,
        },
    }


def test_num_workers_is_written_as_worker_replicas() -> None:
    # flytekit's test_pytorch_task expects exactly this for PyTorch(num_workers=10).
    assert to_custom(PyTorch(num_workers=10)) == {
        "workerReplicas": {"replicas": 10, "resources": {}},
        "masterReplicas": {"replicas": 1, "resources": {}},
    }
    assert to_custom(PyTorch(worker=Worker(replicas=3))) == to_custom(PyTorch(num_workers=3))


def test_elastic_custom_has_flytekits_values() -> None:
    custom = task_template(pytorch_tasks.elastic_configured).custom
    assert custom == {
        "workerReplicas": {"replicas": 4},
        "elasticConfig": {
            "rdzvBackend": "c10d",
            "minReplicas": 2,
            "maxReplicas": 4,
            "nprocPerNode": 8,
            "maxRestarts": 3,
        },
        "runPolicy": {"cleanPodPolicy": "CLEANPOD_POLICY_RUNNING", "backoffLimit": 2},
    }
    # One node: still an elastic config (flytekit writes a plain python-task then, see the README).
    assert to_custom(Elastic(nproc_per_node=2))["elasticConfig"] == {
        "rdzvBackend": "c10d", "minReplicas": 1, "maxReplicas": 1, "nprocPerNode": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    "task", [pytorch_tasks.configured, pytorch_tasks.elastic_configured], ids=["PyTorch", "Elastic"]
)
def test_template_round_trips_through_flyteidl(task: Any) -> None:
    template = task_template(task)
    back = idl_round_trip(template)
    assert back == template
    assert back.task_type_version == 1  # flytekit's version of the custom schema (FlytePropeller reads 0 as the old one)
    job = ParseDict(dict(back.custom or {}), pytorch_pb2.DistributedPyTorchTrainingTask())
    assert job == from_custom(template.custom)
    assert job.worker_replicas.replicas == 4


def test_the_custom_message_holds_every_field_of_the_config() -> None:
    job = from_custom(task_template(pytorch_tasks.configured).custom)
    assert job.worker_replicas.restart_policy == common_pb2.RESTART_POLICY_ON_FAILURE
    assert job.master_replicas.restart_policy == common_pb2.RESTART_POLICY_ALWAYS
    assert [(e.name, e.value) for e in job.worker_replicas.resources.limits] == [
        (tasks_pb2.Resources.CPU, "4"),
        (tasks_pb2.Resources.MEMORY, "8Gi"),
        (tasks_pb2.Resources.GPU, "1"),
    ]
    assert job.run_policy.clean_pod_policy == common_pb2.CLEANPOD_POLICY_ALL
    assert (job.run_policy.ttl_seconds_after_finished, job.run_policy.active_deadline_seconds) == (600, 3600)
    assert job.run_policy.backoff_limit == 3
    assert not job.HasField("elastic_config")


def test_from_custom_names_an_unknown_field() -> None:
    with pytest.raises(Exception, match="workerz"):
        from_custom({"workerz": {"replicas": 1}})


def test_pytorch_needs_the_number_of_workers_exactly_once() -> None:
    with pytest.raises(ValueError, match="not both"):
        PyTorch(num_workers=2, worker=Worker(replicas=2))
    with pytest.raises(ValueError, match="give the number of workers"):
        PyTorch()
    assert PyTorch(worker=Worker(replicas=3)).workers == 3
    assert PyTorch(num_workers=5).workers == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_workers": 0}, "num_workers"),
        ({"num_workers": True}, "num_workers"),
        ({"num_workers": 1.5}, "num_workers"),
    ],
)
def test_bad_pytorch_values_are_rejected_when_the_config_is_made(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PyTorch(**kwargs)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Worker(replicas=0), "replicas"),
        (lambda: RunPolicy(backoff_limit=-1), "backoff_limit"),
        (lambda: RunPolicy(active_deadline_seconds=0), "active_deadline_seconds"),
        (lambda: RunPolicy(ttl_seconds_after_finished=-5), "ttl_seconds_after_finished"),
    ],
)
def test_bad_replica_and_run_policy_values_are_rejected(make: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()


def test_wrong_types_name_the_field() -> None:
    with pytest.raises(TypeError, match="requests="):
        Worker(requests={"cpu": "1"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="restart_policy="):
        Master(restart_policy="Always")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clean_pod_policy="):
        RunPolicy(clean_pod_policy="All")  # type: ignore[arg-type]


@pytest.mark.parametrize(("nnodes", "expected"), [(1, (1, 1)), (3, (3, 3)), ("2", (2, 2)), ("2:4", (2, 4))])
def test_nnodes_is_read_as_torchrun_reads_it(nnodes: int | str, expected: tuple[int, int]) -> None:
    assert node_range(nnodes) == expected
    config = Elastic(nnodes=nnodes)
    assert (config.min_nodes, config.max_nodes) == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"nnodes": 0}, "nnodes"),
        ({"nnodes": "4:2"}, "nnodes"),
        ({"nnodes": "a:b"}, "nnodes"),
        ({"nnodes": "1:2:3"}, "nnodes"),
        ({"nproc_per_node": 0}, "nproc_per_node"),
        ({"start_method": "thread"}, "start_method"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"monitor_interval": 0}, "monitor_interval"),
    ],
)
def test_bad_elastic_values_are_rejected_when_the_config_is_made(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Elastic(**kwargs)


def test_elastic_defaults_are_flytekits() -> None:
    config = Elastic()
    assert (config.nnodes, config.nproc_per_node, config.start_method) == (1, 1, "spawn")
    assert (config.monitor_interval, config.max_restarts, config.increase_shared_mem) == (5, 0, True)
    assert config.rdzv_configs == {"timeout": 900, "join_timeout": 900}
    assert PyTorch(num_workers=1).increase_shared_mem is True


def test_configs_are_hashable_and_compare_by_value() -> None:
    assert hash(Elastic(nproc_per_node=2)) == hash(Elastic(nproc_per_node=2))
    assert Elastic(rdzv_configs={"timeout": 1}) != Elastic()
    assert hash(PyTorch(num_workers=2, run_policy=RunPolicy(backoff_limit=1))) == hash(
        PyTorch(num_workers=2, run_policy=RunPolicy(backoff_limit=1))
    )


def test_a_foreign_config_is_not_turned_into_custom() -> None:
    with pytest.raises(TypeError, match="PyTorch"):
        to_custom(DistributedTraining())


def test_a_disabled_plugin_is_named_by_its_distribution() -> None:
    with (
        use_host(make_plugin_host(strict=True, disable=["pytorch"])),
        pytest.raises(
            AuthoringError, match=r"task_config of type PyTorch.*distribution flyte-plugin-pytorch"
        ),
    ):

        @task(task_config=PyTorch(num_workers=2), requests=Resources(cpu="1"))
        def nothing() -> None: ...
