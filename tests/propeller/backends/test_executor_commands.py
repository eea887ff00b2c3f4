"""A container command that is not the pool's in-process entrypoint (flytekit's
``pyflyte-fast-execute``, a raw container's program) runs as a subprocess in a working directory
of its own, with the propeller's interpreter's bin folder first on PATH."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import attrs
import pytest

from flytecore.propeller.backends.local import WorkerPool
from flytecore.propeller.backends.local.executor import ContainerExecutor
from flytecore.propeller.data import FsspecDataStore
from flytecore.spec.phases import TaskExecutionPhase
from flytecore.spec.tasks import Container

from .test_template import context

SCRIPT = 'echo "$PATH" > "$OUT/path.txt"; pwd > "$OUT/cwd.txt"; touch left-behind'


def test_a_subprocess_command_gets_the_bin_folder_and_a_fresh_working_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ctx = context()
    woken = threading.Event()
    ctx = attrs.evolve(
        ctx,
        template=attrs.evolve(ctx.template, container=Container(image="cr.example/img:1", command=("sh", "-c", SCRIPT))),
        output_prefix=str(tmp_path / "meta" / "0"),
        environment={"OUT": str(out)},
        wake=woken.set,
    )
    with WorkerPool(1, log_dir=tmp_path / "workers") as pool:
        executor = ContainerExecutor(pool, FsspecDataStore(), tmp_path / "logs", work_dir=tmp_path / "work")
        submitted = executor.handle(ctx)
        assert submitted.phase == TaskExecutionPhase.QUEUED
        assert "image cr.example/img:1 recorded, not pulled" in (submitted.reason or "")
        assert woken.wait(60), "the job did not finish within 60 s"
        finished = executor.handle(ctx)
    assert finished.phase == TaskExecutionPhase.SUCCEEDED, finished.error
    assert (out / "path.txt").read_text().split(os.pathsep)[0] == os.path.dirname(sys.executable)
    work = tmp_path / "work" / ctx.job_id
    assert (out / "cwd.txt").read_text().strip() == str(work)
    assert not work.exists()  # removed with what the command left there


@pytest.mark.parametrize(
    "uri",
    ["/tmp/a/b", "relative/path", "file:///tmp/a", "local:///tmp/a", "s3://bucket/a", "gs://b/a",
     "simplecache::s3://bucket/a", "memory://x", "C:\\\\data\\\\x", "", "a:b/c"],
)
def test_a_local_output_prefix_is_told_as_fsspec_tells_it(uri: str) -> None:
    from fsspec.utils import get_protocol

    from flytecore.sdk.data import is_local

    assert is_local(uri) == (get_protocol(uri) in ("file", "local"))
