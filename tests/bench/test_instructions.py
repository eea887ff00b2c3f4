"""bench/instructions.py's arithmetic on callgrind files (running it needs valgrind and minutes:
it is a benchmark, not a test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import instructions

SANDBOX = "/venv/bin/python /tmp/x/chain.py 30"
WORKER = "/venv/bin/python -c import sys; from flytecore.propeller.backends.local.worker import main; main(int(sys.argv[1])) 7"
EVENTS = "/venv/bin/python -c import sys; from flytecore.cli.sandbox_events import main; main(int(sys.argv[1]), int(sys.argv[2])) 9 10"


def _write(folder: Path, pid: int, command: str, total: int, *, complete: bool = True) -> None:
    folder.mkdir(exist_ok=True)
    lines = ["# callgrind format", "version: 1", f"pid: {pid}", f"cmd:  {command}", "events: Ir", "fn=(1) main", f"0 {total}"]
    if complete:
        lines += [f"summary: {total}", f"totals: {total}"]
    (folder / f"callgrind.{pid}").write_text("\n".join(lines) + "\n")


def test_instructions_per_task_by_process(tmp_path: Path) -> None:
    short, long = tmp_path / "30", tmp_path / "130"
    _write(short, 1, SANDBOX, 5_000_000_000)
    _write(short, 2, WORKER, 1_300_000_000)
    _write(short, 3, EVENTS, 3_000_000_000)
    _write(long, 4, SANDBOX, 5_400_000_000)
    _write(long, 5, WORKER, 1_200_000_000)  # a replaced worker: both of its processes count
    _write(long, 6, WORKER, 200_000_000)
    _write(long, 7, EVENTS, 3_150_000_000)
    figures = instructions.per_task(instructions.totals(short), instructions.totals(long), 100)
    assert figures == {"event process": 1_500_000.0, "sandbox process": 4_000_000.0, "worker": 1_000_000.0}


def test_a_process_that_did_not_end_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, 1, SANDBOX, 10, complete=False)
    with pytest.raises(ValueError, match="not a complete callgrind file"):
        instructions.totals(tmp_path)
    with pytest.raises(ValueError, match="no callgrind files"):
        instructions.totals(tmp_path / "missing")


def test_processes_are_told_apart_by_their_command_line() -> None:
    assert [instructions.kind_of(c) for c in (SANDBOX, WORKER, EVENTS)] == ["sandbox process", "worker", "event process"]
