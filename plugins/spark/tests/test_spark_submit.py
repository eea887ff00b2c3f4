"""The Kubernetes face for real, without Kubernetes: the SparkApplication's main application file
and arguments, submitted with pyspark's own spark-submit as the operator would (a local master in
place of the cluster), run the task in the driver and write its outputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import spark_tasks
from flyteidl.core import literals_pb2

from flytecore.plugin import PluginHost
from flytecore.testing import k8s_task_context, task_template

TESTS = Path(__file__).parent


def _render(args: tuple[str, ...], values: dict[str, str]) -> tuple[str, ...]:
    """The container arguments with Flyte's template variables filled in, as the propeller does."""
    out = []
    for arg in args:
        for name, value in values.items():
            arg = arg.replace("{{." + name + "}}", value)
        out.append(arg)
    return tuple(out)


def _spark_submit(manifest: dict[str, Any], master: str) -> list[str]:
    """The spark-submit command line the operator builds from a SparkApplication (its
    ``sparkConf`` and ``hadoopConf`` as ``--conf``, the main file, the arguments), with a local
    master in client mode in place of the cluster."""
    import pyspark

    spec = manifest["spec"]
    argv = [os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"), "--master", master]
    argv += ["--deploy-mode", "client", "--name", manifest["metadata"]["name"]]
    conf = dict(spec["sparkConf"])
    conf.update({f"spark.hadoop.{k}": v for k, v in spec.get("hadoopConf", {}).items()})
    # Quiet and on localhost, as the tests' sessions are.
    conf.update({"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                 "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})  # fmt: skip
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    main_file = spec["mainApplicationFile"]
    assert main_file.startswith("local://")  # a file in the image: here, this machine
    return [*argv, main_file.removeprefix("local://"), *spec["arguments"]]


@pytest.mark.timeout(300)
def test_spark_submit_of_the_manifest_runs_the_task_in_the_driver(
    strict_host: PluginHost, tmp_path: Path
) -> None:
    task = spark_tasks.submitted_session
    template = task_template(task, image="registry.local/app:1")
    assert template.container is not None
    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(literals_pb2.LiteralMap().SerializeToString())  # the task has no inputs
    output_prefix = tmp_path / "outputs"
    command = _render(
        template.container.args,
        {"input": str(inputs), "outputPrefix": str(output_prefix), "rawOutputDataPrefix": str(tmp_path / "raw"),
         "checkpointOutputPrefix": str(tmp_path / "checkpoint"), "prevCheckpointPrefix": ""},
    )  # fmt: skip
    face = strict_host.task_types["spark"].kubernetes
    assert face is not None
    manifest = face.build_resource(
        k8s_task_context(
            template,
            command,
            env={"FLYTE_ATTEMPT_NUMBER": "0"},
            resources=None,
            namespace="default",
            labels={},
        )
    )
    # A master the local face never picks (it stays within the machine's CPUs): the session is spark-submit's.
    master = f"local[{(os.cpu_count() or 1) + 1}]"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.update({item["name"]: item["value"] for item in manifest["spec"]["driver"]["env"]})
    env.pop("PYSPARK_GATEWAY_PORT", None)
    # The image's working directory holds the user's code: here, this folder.
    done = subprocess.run(
        _spark_submit(manifest, master), cwd=TESTS, env=env, capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stderr[-4000:]
    outputs = output_prefix / "outputs.pb"
    assert outputs.exists(), f"no outputs.pb; the driver's log:\n{done.stderr[-4000:]}"
    literals = literals_pb2.LiteralMap.FromString(outputs.read_bytes()).literals
    # spark-submit's master and sparkConf, a job ran, and the local face left the session alone.
    assert literals["o0"].scalar.primitive.string_value == f"{master} from-the-task 5 False"
