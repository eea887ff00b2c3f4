"""bench/critical_path.py: its segments from timestamps, and a short run of it on the sandbox.
No timing is asserted: the figures are the tool's output."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from bench import critical_path


def test_segments_follow_each_task_around_the_loop() -> None:
    # Three tasks, 10 units apart: round [t, t+6], send [t+2, t+3], job [t+4, t+7],
    # answer read at t+8, the propeller woken at t+8.5, the next round at t+10.
    stamps = critical_path.Stamps()
    jobs = []
    for i in range(3):
        t = 10.0 * i
        stamps.rounds.append((t, t + 6))
        stamps.sends.append((t + 2, t + 3))
        jobs.append((t + 4, t + 7))
        stamps.received.append(t + 8)
        stamps.wakes.append(t + 8.5)
    stamps.rounds.append((30.0, 31.0))  # the round after the last task
    segments = critical_path._segments(stamps, jobs, skip=0)
    assert segments["pre-submit"] == [2, 2, 2]
    assert segments["send"] == [1, 1, 1]
    assert segments["dispatch"] == [2, 2, 2]
    assert segments["job"] == [3, 3, 3]
    assert segments["return"] == [1, 1, 1]
    assert segments["recv->wake"] == [0.5, 0.5, 0.5]
    assert segments["wake->round"] == [1.5, 1.5, 1.5]
    assert segments["post-submit"] == [3, 3, 3]
    assert segments["trip"] == [10, 10]
    # A task whose answer never came (the chain ended) is left out, not guessed.
    assert critical_path._segments(stamps, jobs[:2], skip=0)["job"] == [3, 3]


@pytest.mark.timeout(600)
def test_a_short_chain_prints_every_segment_and_the_cpu_per_task(capsys: pytest.CaptureFixture[str]) -> None:
    before = os.environ.get("PYTHONPATH")
    folders = set(Path(tempfile.gettempdir()).glob("flytecore-critical-path-*"))
    assert critical_path.main(["--tasks", "60"]) == 0
    assert os.environ.get("PYTHONPATH") == before  # the workers' hook is not left for others
    out = capsys.readouterr().out
    assert "chain of 60 tasks on the sandbox" in out
    for segment in ("pre-submit", "send", "dispatch", "job", "return", "recv->wake", "wake->round", "post-submit", "trip"):
        assert re.search(rf"^\| {re.escape(segment)} \| \d+ \| \d+ \| \d+ \|$", out, re.MULTILINE), segment
    timed = int(re.search(r"\((\d+) tasks timed\)", out).group(1))  # type: ignore[union-attr]
    assert 35 <= timed <= 40  # 20 warm-up tasks and 60 measured, less the first 40
    assert re.search(r"^\| flytecore-propeller \| \d+ \|$", out, re.MULTILINE)
    assert re.search(r"^\| worker \d+ \| \d+ \|$", out, re.MULTILINE)
    assert set(Path(tempfile.gettempdir()).glob("flytecore-critical-path-*")) == folders  # its own removed
