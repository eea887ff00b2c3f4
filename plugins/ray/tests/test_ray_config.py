"""The configuration: flytekit's values in ``custom``, round-tripping through flyteidl."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import ray_tasks
import yaml
from flyte_plugin_ray import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from flyte_plugin_ray.config import from_custom, to_custom
from flyteidl.plugins import ray_pb2
from google.protobuf.json_format import ParseDict

from flytecore import Resources, task
from flytecore.errors import AuthoringError
from flytecore.plugin import PluginHost, make_plugin_host, use_host
from flytecore.testing import idl_round_trip, task_template

# What flytekit 1.16.31 with flytekitplugins-ray 1.16.31 writes (RayFunctionTask.get_custom) for
# the same configurations as ray_tasks.configured / minimal / empty_head / autoscaled.
FLYTEKIT_CUSTOM: dict[str, dict[str, Any]] = {
    "configured": {
        "rayCluster": {
            "enableAutoscaling": True,
            "headGroupSpec": {
                "k8sPod": {
                    "metadata": {},
                    "podSpec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "resources": {
                                    "limits": {"cpu": "1", "memory": "2Gi"},
                                    "requests": {"cpu": "1", "memory": "2Gi"},
                                },
                            }
                        ]
                    },
                    "primaryContainerName": "primary",
                },
                "rayStartParams": {"log-color": "True"},
            },
            "workerGroupSpec": [
                {
                    "groupName": "cpu-group",
                    "k8sPod": {
                        "metadata": {},
                        "podSpec": {
                            "containers": [
                                {
                                    "name": "ray-worker",
                                    "resources": {
                                        "limits": {"cpu": "2", "memory": "4Gi"},
                                        "requests": {"cpu": "2", "memory": "4Gi"},
                                    },
                                }
                            ]
                        },
                        "primaryContainerName": "primary",
                    },
                    "maxReplicas": 4,
                    "minReplicas": 1,
                    "rayStartParams": {"num-cpus": "2"},
                    "replicas": 2,
                },
                {"groupName": "small", "maxReplicas": 1, "minReplicas": 1, "replicas": 1},
            ],
        },
        "runtimeEnv": "eyJwaXAiOiBbIm51bXB5Il0sICJlbnZfdmFycyI6IHsiQSI6ICJiIn19",
        "runtimeEnvYaml": "env_vars:\n  A: b\npip:\n- numpy\n",
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": 120,
    },
    "minimal": {
        "rayCluster": {
            "workerGroupSpec": [{"groupName": "g", "maxReplicas": 1, "minReplicas": 1, "replicas": 1}]
        }
    },
    "empty_head": {
        "rayCluster": {
            "headGroupSpec": {},
            "workerGroupSpec": [{"groupName": "g", "maxReplicas": 3, "minReplicas": 3, "replicas": 3}],
        }
    },
    "autoscaled": {
        "rayCluster": {
            "autoscalerOptions": {
                "env": [{"key": "K", "value": "v"}],
                "idleTimeoutSeconds": 30,
                "image": "img:1",
                "resources": {
                    "limits": [{"name": "CPU", "value": "1"}, {"name": "MEMORY", "value": "1Gi"}],
                    "requests": [{"name": "CPU", "value": "500m"}],
                },
                "upscalingMode": "UPSCALING_MODE_CONSERVATIVE",
            },
            "workerGroupSpec": [{"groupName": "g", "maxReplicas": 1, "minReplicas": 1, "replicas": 1}],
        }
    },
}


def test_the_plugin_registers_the_ray_type_through_its_entry_point(strict_host: PluginHost) -> None:
    assert strict_host.task_types.owner("ray") == "ray"
    info = next(p for p in strict_host.plugins if p.name == "ray")
    assert (info.distribution, info.error) == ("flyte-plugin-ray", None)
    ray_type = strict_host.task_types.for_config(RayJobConfig(worker_node_config=[]))
    assert ray_type is not None and ray_type.name == "ray"
    assert ray_type.kubernetes is not None and ray_type.local_context is not None


@pytest.mark.parametrize("name", sorted(FLYTEKIT_CUSTOM))
def test_custom_is_what_flytekit_writes(name: str) -> None:
    template = task_template(getattr(ray_tasks, name))
    assert template.type == "ray"
    assert template.custom == FLYTEKIT_CUSTOM[name]


def test_the_runtime_env_travels_as_base64_json_and_as_yaml() -> None:
    custom = task_template(ray_tasks.configured).custom or {}
    expected = {"pip": ["numpy"], "env_vars": {"A": "b"}}
    assert json.loads(base64.b64decode(custom["runtimeEnv"])) == expected
    assert yaml.safe_load(custom["runtimeEnvYaml"]) == expected


@pytest.mark.parametrize(
    ("group", "bounds"),
    [
        (WorkerNodeConfig(group_name="g", replicas=3), (3, 3)),
        (WorkerNodeConfig(group_name="g", replicas=3, min_replicas=5, max_replicas=8), (3, 8)),
        (WorkerNodeConfig(group_name="g", replicas=3, max_replicas=1), (3, 3)),
        (WorkerNodeConfig(group_name="g", replicas=3, min_replicas=0, max_replicas=10), (0, 10)),
    ],
)
def test_worker_bounds_default_to_and_never_exclude_replicas(
    group: WorkerNodeConfig, bounds: tuple[int, int]
) -> None:
    [spec] = from_custom(to_custom(RayJobConfig(worker_node_config=[group]))).ray_cluster.worker_group_spec
    assert (spec.min_replicas, spec.max_replicas) == bounds


def test_template_round_trips_through_flyteidl() -> None:
    template = task_template(ray_tasks.configured)
    back = idl_round_trip(template)
    assert back == template
    job = ParseDict(dict(back.custom or {}), ray_pb2.RayJob())
    assert [g.group_name for g in job.ray_cluster.worker_group_spec] == ["cpu-group", "small"]
    assert dict(job.ray_cluster.head_group_spec.ray_start_params) == {"log-color": "True"}
    assert job.ray_cluster.enable_autoscaling is True
    assert (job.shutdown_after_job_finishes, job.ttl_seconds_after_finished) == (True, 120)


def test_from_custom_rejects_fields_flyteidl_does_not_have() -> None:
    with pytest.raises(Exception, match="workerGroups"):
        from_custom({"rayCluster": {"workerGroups": []}})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: WorkerNodeConfig(group_name="g", replicas=-1), ValueError, "replicas"),
        (lambda: WorkerNodeConfig(group_name="g", replicas=True), ValueError, "replicas"),
        (lambda: WorkerNodeConfig(group_name="", replicas=1), ValueError, "group_name"),
        (
            lambda: WorkerNodeConfig(group_name="g", replicas=1, min_replicas=3, max_replicas=2),
            ValueError,
            "min_replicas=3",
        ),
        (lambda: WorkerNodeConfig(group_name="g", replicas=1, max_replicas=-2), ValueError, "max_replicas"),
        (
            lambda: WorkerNodeConfig(group_name="g", replicas=1, ray_start_params={"num-cpus": 2}),
            TypeError,
            "'num-cpus'",
        ),
        (lambda: HeadNodeConfig(requests={"cpu": "1"}), TypeError, "flytecore.Resources"),
        (
            lambda: RayJobConfig(worker_node_config=WorkerNodeConfig(group_name="g", replicas=1)),
            TypeError,
            "a list",
        ),
        (
            lambda: RayJobConfig(
                worker_node_config=[
                    WorkerNodeConfig(group_name="g", replicas=1),
                    WorkerNodeConfig(group_name="g", replicas=2),
                ]
            ),
            ValueError,
            "two worker groups are named 'g'",
        ),
        (
            lambda: RayJobConfig(worker_node_config=[], runtime_env={"pip": {1, 2}}),
            TypeError,
            "JSON-serializable",
        ),
        (lambda: RayJobConfig(worker_node_config=[], runtime_env="numpy"), TypeError, "runtime_env"),
        (
            lambda: RayJobConfig(worker_node_config=[], ttl_seconds_after_finished=-5),
            ValueError,
            "ttl_seconds",
        ),
        (lambda: RayJobConfig(worker_node_config=[], address=""), ValueError, "address"),
        (lambda: RayJobConfig(worker_node_config=[], head_node_config={}), TypeError, "HeadNodeConfig"),
        (lambda: AutoscalerOptionsConfig(upscaling_mode=7), ValueError, "UpscalingMode.CONSERVATIVE"),
        (lambda: AutoscalerOptionsConfig(env={"K": 1}), TypeError, "env"),
        (lambda: AutoscalerOptionsConfig(env=["K=v"]), TypeError, "env"),
        (lambda: HeadNodeConfig(ray_start_params="--num-cpus=2"), TypeError, "a dict of strings"),
    ],
)
def test_wrong_configurations_fail_when_written(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_a_disabled_plugin_is_named_by_its_distribution() -> None:
    with (
        use_host(make_plugin_host(strict=True, disable=["ray"])),
        pytest.raises(
            AuthoringError, match=r"task_config of type RayJobConfig.*distribution flyte-plugin-ray"
        ),
    ):

        @task(task_config=RayJobConfig(worker_node_config=[]))
        def nothing() -> None: ...


def test_a_gpu_limit_is_the_kubernetes_gpu_resource_in_both_sections() -> None:
    head = HeadNodeConfig(limits=Resources(gpu="1"))
    custom = to_custom(RayJobConfig(worker_node_config=[], head_node_config=head))
    [container] = custom["rayCluster"]["headGroupSpec"]["k8sPod"]["podSpec"]["containers"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}
