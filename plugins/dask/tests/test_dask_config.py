"""The configuration: flytekit's shape in ``custom``, round-tripping through flyteidl."""

from __future__ import annotations

from typing import Any

import dask_tasks
import pytest
from flyte_plugin_dask import Dask, WorkerGroup
from flyte_plugin_dask.config import to_custom
from flyteidl.core import tasks_pb2
from flyteidl.plugins import dask_pb2
from google.protobuf.json_format import ParseDict

from flytecore import task
from flytecore.errors import AuthoringError
from flytecore.plugin import PluginHost, make_plugin_host, use_host
from flytecore.testing import idl_round_trip, task_template


def test_the_plugin_registers_the_dask_type_through_its_entry_point(strict_host: PluginHost) -> None:
    assert strict_host.task_types.owner("dask") == "dask"
    info = next(p for p in strict_host.plugins if p.name == "dask")
    assert (info.distribution, info.error) == ("flyte-plugin-dask", None)
    assert strict_host.task_types.for_config(Dask()).name == "dask"


def test_custom_has_flytekits_field_names() -> None:
    custom = task_template(dask_tasks.configured).custom
    assert custom == {
        "scheduler": {
            "image": "ghcr.io/dask/dask:2024.1.0",
            "resources": {"requests": [{"name": "CPU", "value": "1"}, {"name": "MEMORY", "value": "2Gi"}]},
        },
        "workers": {
            "numberOfWorkers": 4,
            "resources": {"limits": [{"name": "CPU", "value": "2"}, {"name": "MEMORY", "value": "4Gi"}]},
        },
    }


def test_default_config_is_one_worker() -> None:
    assert to_custom(Dask()) == {"scheduler": {}, "workers": {"numberOfWorkers": 1}}


def test_template_round_trips_through_flyteidl() -> None:
    template = task_template(dask_tasks.configured)
    assert template.type == "dask"
    back = idl_round_trip(template)
    assert back == template
    job = ParseDict(dict(back.custom or {}), dask_pb2.DaskJob())
    assert job.workers.number_of_workers == 4
    assert job.scheduler.image == "ghcr.io/dask/dask:2024.1.0"
    assert [(e.name, e.value) for e in job.workers.resources.limits] == [
        (tasks_pb2.Resources.CPU, "2"),
        (tasks_pb2.Resources.MEMORY, "4Gi"),
    ]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_number_of_workers_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(ValueError, match="number_of_workers"):
        WorkerGroup(number_of_workers=bad)


def test_a_disabled_plugin_is_named_by_its_distribution() -> None:
    with (
        use_host(make_plugin_host(strict=True, disable=["dask"])),
        pytest.raises(AuthoringError, match=r"task_config of type Dask.*distribution flyte-plugin-dask"),
    ):

        @task(task_config=Dask())
        def nothing() -> None: ...
