"""The task configuration: flytekit's ``Spark``.

``TaskTemplate.custom`` is flyteidl's ``flyteidl.plugins.SparkJob`` message as a JSON dict
(``MessageToDict``), with the values flytekit's plugin writes (application type PYTHON, which
as the enum's default does not appear in the dict; ``mainApplicationFile`` and ``executorPath``
defaulting to the entrypoint script and the Python interpreter), so a template round-trips
through flyteidl and FlytePropeller's Spark plugin reads it.

flytekit's ``driver_pod`` and ``executor_pod`` (pod templates) are not here: flytecore has no
``PodTemplate`` type yet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import attrs
from flyteidl.plugins import spark_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

__all__ = ["ENTRYPOINT_SCRIPT", "TASK_TYPE", "Spark", "from_custom", "to_custom"]

TASK_TYPE = "spark"
"""The task type string (flytekit's too)."""

ENTRYPOINT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "entrypoint.py")
"""The Python file spark-submit runs on the driver (the SparkApplication's ``mainApplicationFile``
unless ``applications_path`` says otherwise): it runs the ``flytecore-execute`` command line it is
given as arguments (:mod:`flyte_plugin_spark.bin.entrypoint`)."""


def _str_dict(value: Mapping[str, str] | None) -> dict[str, str]:
    return dict(value or {})


def _check_conf(instance: Spark, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    bad = {k: v for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        key, item = next(iter(bad.items()))
        raise TypeError(
            f"Spark({attribute.name}=...): keys and values must be strings, got {key!r}: {item!r} "
            f'({type(item).__name__}); write numbers and booleans as Spark does, e.g. "2" or "true"'
        )


def _check_path(instance: Spark, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"Spark({attribute.name}=...) must be a non-empty string or None, got {value!r}")


@attrs.define(frozen=True, kw_only=True)
class Spark:
    """``@task(task_config=Spark(...))``: run the task with a Spark session.

    The body reads the session as ``current_context().spark_session``, as in flytekit.

    :ivar spark_conf: Spark properties (``{"spark.executor.instances": "2", ...}``): applied to the
        local session, and the SparkApplication's ``sparkConf`` on Kubernetes.
    :ivar hadoop_conf: Hadoop properties: the SparkApplication's ``hadoopConf`` (the operator
        prefixes them with ``spark.hadoop.``); locally set as ``spark.hadoop.<key>``.
    :ivar executor_path: the Python interpreter of the driver and the executors in the image
        (``spark.pyspark.python``); None: the interpreter registering the task, as in flytekit.
    :ivar applications_path: the main application file spark-submit runs in the image; None:
        ``local://`` + :data:`ENTRYPOINT_SCRIPT` (the image has this plugin installed at the
        same place as the machine registering the task, as flytekit assumes for its entrypoint).
    """

    spark_conf: dict[str, str] = attrs.field(factory=dict, converter=_str_dict, validator=_check_conf)
    hadoop_conf: dict[str, str] = attrs.field(factory=dict, converter=_str_dict, validator=_check_conf)
    executor_path: str | None = attrs.field(default=None, validator=_check_path)
    applications_path: str | None = attrs.field(default=None, validator=_check_path)


def to_custom(config: Spark) -> dict[str, Any]:
    """``TaskTemplate.custom`` for ``config``: flyteidl's ``SparkJob`` as a JSON dict."""
    job = spark_pb2.SparkJob(
        applicationType=spark_pb2.SparkApplication.PYTHON,
        mainApplicationFile=config.applications_path or "local://" + ENTRYPOINT_SCRIPT,
        mainClass="",
        sparkConf=config.spark_conf,
        hadoopConf=config.hadoop_conf,
        executorPath=config.executor_path or sys.executable,
    )
    return dict(MessageToDict(job))


def from_custom(custom: dict[str, Any] | None) -> spark_pb2.SparkJob:
    """The ``SparkJob`` message in a template's ``custom`` (an empty one for None); unknown fields
    are an error naming them."""
    return ParseDict(dict(custom or {}), spark_pb2.SparkJob())
