"""The local face with the real engine: the body gets a local Spark session.

Sessions are few on purpose (the JVM starts once per process, ~5 s; a later session takes well
under a second): one task run is observed by several tests through a module-scoped fixture.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
import spark_tasks
from flyte_plugin_spark import Spark
from flyte_plugin_spark.local import local_core_count, local_environment, local_spark_conf, spark_session

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def facts() -> dict[str, str]:
    """One run of ``session_facts``: what its body saw of its session."""
    from flytecore.plugin import make_plugin_host, use_host

    with use_host(make_plugin_host(strict=True)):
        return spark_tasks.session_facts()


def test_a_task_aggregates_a_dataframe_on_its_session() -> None:
    n = 1000
    expected = {str(r): sum(i for i in range(n) if i % 3 == r) for r in range(3)}
    assert spark_tasks.sum_by_remainder(n=n) == expected


def test_the_session_is_local_and_capped_to_the_machines_cpus(facts: dict[str, str]) -> None:
    # spark.executor.instances=1000 asks for 1000 cores: the machine has fewer.
    assert facts["master"] == f"local[{os.cpu_count() or 1}]"


def test_the_session_has_the_configs_spark_and_hadoop_conf(facts: dict[str, str]) -> None:
    assert facts["shuffle_partitions"] == spark_tasks.SHUFFLE_PARTITIONS
    assert facts["hadoop_endpoint"] == "http://127.0.0.1:9000"


def test_the_session_is_quiet_and_on_localhost(facts: dict[str, str]) -> None:
    assert (facts["ui"], facts["progress"]) == ("false", "false")
    assert (facts["driver_host"], facts["bind_address"]) == ("127.0.0.1", "127.0.0.1")
    assert facts["app_name"].startswith("FlyteSpark: ")
    assert facts["app_name"].endswith("spark_tasks.session_facts")


def test_python_workers_run_this_interpreter_and_import_the_tasks_module(facts: dict[str, str]) -> None:
    assert facts["squares"] == ",".join(str(i * i) for i in range(10))
    assert facts["worker_python"] == sys.executable


def test_the_session_is_stopped_after_the_body_even_when_it_raises() -> None:
    from pyspark.sql import SparkSession

    with pytest.raises(RuntimeError, match="boom"), spark_session(Spark()) as session:
        assert SparkSession.getActiveSession() is session
        raise RuntimeError("boom")
    assert SparkSession.getActiveSession() is None
    assert session.sparkContext._jsc is None  # a stopped SparkContext lets go of its JVM side


def test_an_active_session_is_used_as_it_is_and_left_running() -> None:
    from pyspark.sql import SparkSession

    with spark_session(Spark()) as outer:
        # A Spark task called from a body that already has a session: the same session.
        assert spark_tasks.application_id() == outer.sparkContext.applicationId
        assert SparkSession.getActiveSession() is outer
        assert outer.range(3).count() == 3
    assert SparkSession.getActiveSession() is None


def test_another_tasks_body_has_no_spark_session() -> None:
    assert spark_tasks.plain() is False


@pytest.mark.parametrize(
    ("conf", "cores"),
    [
        ({}, os.cpu_count() or 1),
        ({"spark.executor.instances": "1"}, 1),
        ({"spark.executor.cores": "1"}, 1),
        ({"spark.executor.instances": "2", "spark.executor.cores": "64"}, os.cpu_count() or 1),
    ],
)
def test_local_cores(conf: dict[str, str], cores: int) -> None:
    assert local_core_count(Spark(spark_conf=conf)) == cores


def test_local_cores_must_be_whole_numbers() -> None:
    with pytest.raises(
        ValueError, match=r"spark.executor.instances and spark.executor.cores must be whole numbers"
    ):
        local_core_count(Spark(spark_conf={"spark.executor.instances": "two"}))


def test_single_machine_settings_win_over_the_config() -> None:
    conf: dict[str, Any] = local_spark_conf(
        Spark(
            spark_conf={
                "spark.master": "k8s://https://kubernetes",
                "spark.ui.enabled": "true",
                "spark.sql.ansi.enabled": "true",
            },
            executor_path="/opt/venv/bin/python3",
        )
    )
    assert conf["spark.master"] == f"local[{os.cpu_count() or 1}]"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.ansi.enabled"] == "true"
    assert "/opt/venv/bin/python3" not in conf.values()  # the image's interpreter means nothing here
    assert local_environment()["PYSPARK_PYTHON"] == sys.executable
