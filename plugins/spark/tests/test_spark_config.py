"""The configuration: flytekit's shape in ``custom``, round-tripping through flyteidl."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import spark_tasks
from flyte_plugin_spark import Spark
from flyte_plugin_spark.config import ENTRYPOINT_SCRIPT, to_custom
from flyteidl.plugins import spark_pb2
from google.protobuf.json_format import ParseDict

from flytecore import task
from flytecore.errors import AuthoringError
from flytecore.plugin import PluginHost, make_plugin_host, use_host
from flytecore.testing import idl_round_trip, task_template


def test_the_plugin_registers_the_spark_type_through_its_entry_point(strict_host: PluginHost) -> None:
    assert strict_host.task_types.owner("spark") == "spark"
    info = next(p for p in strict_host.plugins if p.name == "spark")
    assert (info.distribution, info.error) == ("flyte-plugin-spark", None)
    assert strict_host.task_types.for_config(Spark()).name == "spark"
    assert strict_host.task_types["spark"].kubernetes is not None


def test_custom_is_flytekits_sparkjob() -> None:
    template = task_template(spark_tasks.configured)
    assert template.type == "spark"
    # applicationType PYTHON is the enum's default: MessageToDict leaves it out, as for flytekit.
    assert template.custom == {
        "mainApplicationFile": "local:///opt/venv/bin/entrypoint.py",
        "sparkConf": {
            "spark.executor.instances": "3",
            "spark.driver.memory": "2g",
            "spark.executor.cores": "2",
        },
        "hadoopConf": {"fs.s3a.endpoint": "http://minio:9000"},
        "executorPath": "/opt/venv/bin/python3",
    }


def test_defaults_are_the_entrypoint_script_and_this_interpreter() -> None:
    custom = to_custom(Spark())
    assert custom == {"mainApplicationFile": "local://" + ENTRYPOINT_SCRIPT, "executorPath": sys.executable}
    job = ParseDict(custom, spark_pb2.SparkJob())
    assert job.applicationType == spark_pb2.SparkApplication.PYTHON
    assert (job.mainClass, dict(job.sparkConf), dict(job.hadoopConf)) == ("", {}, {})


def test_template_round_trips_through_flyteidl() -> None:
    template = task_template(spark_tasks.configured)
    back = idl_round_trip(template)
    assert back == template
    job = ParseDict(dict(back.custom or {}), spark_pb2.SparkJob())
    assert job.applicationType == spark_pb2.SparkApplication.PYTHON
    assert job.mainApplicationFile == "local:///opt/venv/bin/entrypoint.py"
    assert job.executorPath == "/opt/venv/bin/python3"
    assert dict(job.sparkConf)["spark.executor.instances"] == "3"
    assert dict(job.hadoopConf) == {"fs.s3a.endpoint": "http://minio:9000"}


def test_the_config_keeps_its_own_copies_of_the_dicts() -> None:
    conf = {"spark.executor.instances": "2"}
    config = Spark(spark_conf=conf)
    conf["spark.executor.instances"] = "9"
    assert config.spark_conf == {"spark.executor.instances": "2"}
    assert Spark(spark_conf=None, hadoop_conf=None) == Spark()  # flytekit accepts None for both


@pytest.mark.parametrize(
    ("field", "bad"),
    [("spark_conf", {"spark.executor.instances": 2}), ("hadoop_conf", {"fs.s3a.path.style.access": True})],
)
def test_conf_values_must_be_strings(field: str, bad: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=rf"Spark\({field}=\.\.\.\): keys and values must be strings"):
        Spark(**{field: bad})


@pytest.mark.parametrize("field", ["executor_path", "applications_path"])
def test_paths_must_be_non_empty_strings(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Spark(**{field: ""})


def test_a_disabled_plugin_is_named_by_its_distribution() -> None:
    with (
        use_host(make_plugin_host(strict=True, disable=["spark"])),
        pytest.raises(AuthoringError, match=r"task_config of type Spark.*distribution flyte-plugin-spark"),
    ):

        @task(task_config=Spark())
        def nothing() -> None: ...


@pytest.mark.timeout(60)
def test_the_entrypoint_script_runs_flytecore_execute() -> None:
    # What spark-submit does with mainApplicationFile and arguments, without Spark: a Python
    # process running the file; flytecore-execute's --help proves the command line reaches it.
    assert os.path.isfile(ENTRYPOINT_SCRIPT)
    done = subprocess.run(
        [sys.executable, ENTRYPOINT_SCRIPT, "flytecore-execute", "--help"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: flytecore-execute" in done.stdout
    assert "--output-prefix" in done.stdout
    wrong = subprocess.run(
        [sys.executable, ENTRYPOINT_SCRIPT, "flytecore-execute", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert wrong.returncode == 2  # flytecore-execute's exit code for a wrong command line
