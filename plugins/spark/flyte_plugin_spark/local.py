"""The local face: the task body runs with a Spark session, ``current_context().spark_session``.

Two situations, told apart by whether a JVM gateway was handed to this process:

- **on this machine** (a local run, or the ``flytecore-execute`` worker of the sandbox): a new
  session with master ``local[N]`` (N: ``spark.executor.instances`` x ``spark.executor.cores``
  when the configuration sets either, else every CPU; at most the machine's CPUs), the
  configuration's ``spark_conf`` and ``hadoop_conf`` (as ``spark.hadoop.<key>``), then what
  makes it a quiet single-machine session: no web UI, no console progress bar, driver bound
  to 127.0.0.1, the Python workers run by this interpreter with this process's ``sys.path``, so
  functions of the task's module can be shipped to them. While the session is created,
  ``SPARK_LOCAL_IP`` (read when the JVM starts) and ``PYSPARK_PYTHON`` (the workers'
  interpreter) are set unless the environment sets them already;
- **under spark-submit** (the driver of a SparkApplication on Kubernetes: spark-submit started
  the JVM and set ``PYSPARK_GATEWAY_PORT``): the session spark-submit configured, from the
  SparkApplication's ``sparkConf``; nothing is overridden, as in flytekit.

The session is stopped when the body returns or raises, so the next task gets its own
configuration (the JVM stays: a later session in the same process starts in well under a
second). A session that was already active when the task started (a Spark task called from the
body of another, a notebook's session) is used as it is and left running.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from flyte_plugin_spark.config import Spark
from flytecore import current_context
from flytecore.plugin import context_attribute

__all__ = ["GATEWAY_ENV", "local_core_count", "local_environment", "local_spark_conf", "spark_session"]

GATEWAY_ENV = "PYSPARK_GATEWAY_PORT"
"""Set by spark-submit for the Python driver it starts: the session is spark-submit's."""

LOCAL_HOST = "127.0.0.1"


def local_core_count(config: Spark) -> int:
    """N of the ``local[N]`` master for ``config`` on this machine: the cores the configuration
    asks for (executor instances x executor cores), else every CPU; at most the machine's CPUs."""
    cpus = os.cpu_count() or 1
    conf = config.spark_conf
    if "spark.executor.instances" not in conf and "spark.executor.cores" not in conf:
        return cpus
    try:
        wanted = int(conf.get("spark.executor.instances", "1")) * int(conf.get("spark.executor.cores", "1"))
    except ValueError as exc:
        raise ValueError(
            "Spark(spark_conf=...): spark.executor.instances and spark.executor.cores must be whole "
            f"numbers, got {conf.get('spark.executor.instances')!r} and {conf.get('spark.executor.cores')!r}"
        ) from exc
    return max(1, min(wanted, cpus))


def local_spark_conf(config: Spark) -> dict[str, str]:
    """The properties of a session on this machine for ``config`` (see the module docstring);
    the configuration's own come first, the single-machine settings win over them."""
    conf = dict(config.spark_conf)
    conf.update({f"spark.hadoop.{key}": value for key, value in config.hadoop_conf.items()})
    python_path = os.pathsep.join(p for p in sys.path if p)
    conf.update(
        {
            "spark.master": f"local[{local_core_count(config)}]",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": LOCAL_HOST,
            "spark.driver.bindAddress": LOCAL_HOST,
            "spark.executorEnv.PYTHONPATH": python_path,
        }
    )
    return conf


def local_environment() -> dict[str, str]:
    """The environment a session on this machine is created in: the JVM on 127.0.0.1 only, the
    Python workers run by this interpreter (pyspark reads ``PYSPARK_PYTHON``, not
    ``spark.pyspark.python``, outside spark-submit; the image's ``executor_path`` means nothing
    here)."""
    return {"SPARK_LOCAL_IP": LOCAL_HOST, "PYSPARK_PYTHON": sys.executable}


@contextlib.contextmanager
def _environment_defaults(values: dict[str, str]) -> Iterator[None]:
    """Set the variables of ``values`` the environment does not set, and unset them after."""
    added = [name for name in values if name not in os.environ]
    for name in added:
        os.environ[name] = values[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _app_name(task: Any) -> str:
    name = getattr(task, "name", None) or "task"
    return f"FlyteSpark: {current_context().execution_id.name} {name}"


@contextlib.contextmanager
def spark_session(config: Spark, task: Any = None) -> Iterator[Any]:
    """Give the body a ``SparkSession`` as ``current_context().spark_session``; yields it.

    :param config: the task's configuration.
    :param task: the task whose body runs inside (its name goes into the application name).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # Not ours to configure or stop.
        with context_attribute("spark_session", active):
            yield active
        return

    builder = SparkSession.builder.appName(_app_name(task))
    if GATEWAY_ENV in os.environ:
        session = builder.getOrCreate()
    else:
        for key, value in local_spark_conf(config).items():
            builder = builder.config(key, value)
        with _environment_defaults(local_environment()):
            session = builder.getOrCreate()
    try:
        with context_attribute("spark_session", session):
            yield session
    finally:
        session.stop()
