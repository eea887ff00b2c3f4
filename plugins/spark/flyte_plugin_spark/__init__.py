"""flyte-plugin-spark: ``@task(task_config=Spark(...))`` runs the task body with a Spark session.

The body reads it as ``current_context().spark_session``, as with flytekit. On this machine it is
a ``local[N]`` session; on Kubernetes the task becomes a ``SparkApplication`` of the Spark
operator and the body runs in its driver. The configuration class has the name and fields of
flytekit's ``flytekitplugins.spark.Spark`` (without the pod templates).
"""

from __future__ import annotations

from flyte_plugin_spark.config import TASK_TYPE, Spark

__version__ = "0.1.0"

__all__ = ["TASK_TYPE", "Spark", "__version__"]
