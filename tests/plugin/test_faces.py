"""The public types of a task plugin's faces and the table of well-known plugin distributions."""

from __future__ import annotations

import pytest

from flytecore.errors import PluginError, UnknownTaskTypeError
from flytecore.plugin import (
    KNOWN_PLUGIN_DISTRIBUTIONS,
    KubernetesFace,
    TaskStatus,
    TaskType,
    TaskTypeRegistry,
    distribution_for,
    k8s_resources,
    missing_plugin_hint,
)
from flytecore.spec import ResourceEntry, ResourceName, Resources, TaskExecutionPhase


@pytest.mark.parametrize(
    ("task_type", "distribution"),
    [("spark", "flyte-plugin-spark"), ("ray", "flyte-plugin-ray"), ("pytorch", "flyte-plugin-pytorch"), ("dask", "flyte-plugin-dask")],
)
def test_well_known_task_types_name_their_distribution(task_type: str, distribution: str) -> None:
    assert distribution_for(task_type) == distribution
    assert f"pip install {distribution}" in missing_plugin_hint(task_type)


def test_an_unknown_type_gets_the_list_of_plugins() -> None:
    assert distribution_for("sidecar") is None
    hint = missing_plugin_hint("sidecar")
    assert "'sidecar'" in hint
    assert all(d in hint for d in KNOWN_PLUGIN_DISTRIBUTIONS.values())


def test_require_names_the_missing_distribution() -> None:
    registry = TaskTypeRegistry()
    registry.register(TaskType(name="python-task"))
    assert registry.require("python-task").name == "python-task"
    with pytest.raises(UnknownTaskTypeError, match=r"task type 'dask'.*python-task.*flyte-plugin-dask"):
        registry.require("dask")


def test_a_kubernetes_face_must_be_a_kubernetes_face() -> None:
    registry = TaskTypeRegistry()
    registry.current_plugin = "sloppy"
    with pytest.raises(PluginError, match=r"plugin 'sloppy'.*'k'.*KubernetesFace"):
        registry.register(TaskType(name="k", kubernetes={"build_resource": None}))
    face = KubernetesFace(build_resource=lambda ctx: {}, phase_of=lambda r: TaskStatus(phase=TaskExecutionPhase.RUNNING))
    assert registry.register(TaskType(name="k", kubernetes=face)).kubernetes is face


def test_k8s_resources_uses_kubernetes_names() -> None:
    spec = Resources(
        requests=(ResourceEntry(name=ResourceName.CPU, value="500m"), ResourceEntry(name=ResourceName.MEMORY, value="1Gi")),
        limits=(ResourceEntry(name=ResourceName.GPU, value="1"), ResourceEntry(name=ResourceName.EPHEMERAL_STORAGE, value="5Gi")),
    )
    assert k8s_resources(spec) == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"nvidia.com/gpu": "1", "ephemeral-storage": "5Gi"},
    }
    assert k8s_resources(None) == {}
    assert k8s_resources(Resources(requests=(ResourceEntry(name=ResourceName.CPU, value="1"),))) == {"requests": {"cpu": "1"}}
