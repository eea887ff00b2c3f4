"""Spark tasks and a workflow for the plugin's tests (imported by the sandbox's worker processes
and by the driver spark-submit starts)."""

from __future__ import annotations

import sys

from flyte_plugin_spark import Spark

from flytecore import Resources, current_context, task, workflow

SHUFFLE_PARTITIONS = "3"


def square(x: int) -> int:
    """A module-level function: Spark's Python workers must import this module to run it."""
    return x * x


def interpreter(_: int) -> str:
    """The Python a Spark worker runs."""
    return sys.executable


@task(
    task_config=Spark(
        spark_conf={"spark.executor.instances": "2", "spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS}
    )
)
def sum_by_remainder(n: int, k: int = 3) -> dict[str, int]:
    """Sum 0..n-1 grouped by the remainder mod k: a DataFrame aggregation on the task's session."""
    from pyspark.sql import functions as F

    spark = current_context().spark_session
    df = spark.range(n).withColumn("r", F.col("id") % k)
    rows = df.groupBy("r").agg(F.sum("id").alias("total")).collect()
    return {str(row["r"]): int(row["total"]) for row in rows}


@task(
    task_config=Spark(
        spark_conf={"spark.executor.instances": "1000", "spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS},
        hadoop_conf={"fs.s3a.endpoint": "http://127.0.0.1:9000"},
    )
)
def session_facts() -> dict[str, str]:
    """What the body sees of its session, and a Python function run by Spark's Python workers."""
    spark = current_context().spark_session
    conf = spark.sparkContext.getConf()
    squares = spark.sparkContext.parallelize(range(10), 2).map(square).collect()
    return {
        "master": spark.sparkContext.master,
        "app_name": spark.sparkContext.appName,
        "ui": conf.get("spark.ui.enabled"),
        "progress": conf.get("spark.ui.showConsoleProgress"),
        "driver_host": conf.get("spark.driver.host"),
        "bind_address": conf.get("spark.driver.bindAddress"),
        "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "hadoop_endpoint": spark.sparkContext._jsc.hadoopConfiguration().get("fs.s3a.endpoint"),
        "squares": ",".join(str(s) for s in squares),
        "worker_python": spark.sparkContext.parallelize([0], 1).map(interpreter).first(),
    }


@task(task_config=Spark())
def application_id() -> str:
    """The id of the session the body gets."""
    return str(current_context().spark_session.sparkContext.applicationId)


@task(task_config=Spark(spark_conf={"spark.flytecore.test": "from-the-task"}))
def submitted_session() -> str:
    """What the body sees of the session spark-submit made, for the spark-submit test."""
    spark = current_context().spark_session
    local_face = spark.sparkContext.getConf().contains("spark.executorEnv.PYTHONPATH")
    return f"{spark.sparkContext.master} {spark.conf.get('spark.flytecore.test')} {spark.range(5).count()} {local_face}"


@task
def plain() -> bool:
    """A task of another type: no spark_session for it."""
    try:
        current_context().spark_session  # noqa: B018
    except AttributeError:
        return False
    return True


@task(
    task_config=Spark(
        spark_conf={
            "spark.executor.instances": "3",
            "spark.driver.memory": "2g",
            "spark.executor.cores": "2",
        },
        hadoop_conf={"fs.s3a.endpoint": "http://minio:9000"},
        executor_path="/opt/venv/bin/python3",
        applications_path="local:///opt/venv/bin/entrypoint.py",
    ),
    requests=Resources(cpu="500m", mem="1Gi"),
    limits=Resources(cpu="2", mem="4Gi"),
    retries=2,
)
def configured(x: int) -> int:
    """A task with every field of the configuration set (serialized, not run)."""
    return x


@workflow
def spark_sum(n: int = 100) -> dict[str, int]:
    """One Spark task in a workflow."""
    return sum_by_remainder(n=n)
