"""The benchmark harness itself (``python -m bench``): it runs workloads in fresh processes,
checks their results, and writes the table, the JSON and the chart. No timing is asserted: the
numbers are the benchmark's output, not a test's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.harness.report import marginal_ms
from bench.harness.tools import TOOLS, Run, Tool, run_workload, skip_reason
from bench.workloads.spec import expected


@pytest.mark.timeout(600)
def test_a_small_run_of_both_flytecore_modes_writes_the_report(tmp_path: Path) -> None:
    code = main(
        [
            "--small",
            "--tools",
            "flytecore,flytecore-sandbox",
            "--workloads",
            "chain,data",
            "--further",
            "",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["tool"], r["workload"]): r for r in doc["rows"]}
    assert set(rows) == {(t, w) for t in ("flytecore", "flytecore-sandbox") for w in ("chain", "data")}
    for row in rows.values():
        assert set(row["seconds"]) == {"10", "100"} and all(v is not None for v in row["seconds"].values())
        assert row["errors"] == {} and row["peak_rss_mib"] > 0
    # The sandbox runs worker processes: its tree is larger than the in-process run's.
    assert rows[("flytecore-sandbox", "chain")]["peak_rss_mib"] > rows[("flytecore", "chain")]["peak_rss_mib"]
    assert doc["floor"]["floor_ms_per_task"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "| flytecore-sandbox | chain |" in table and "floor_ms_per_task" in table
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_wrong_result_fails_the_run() -> None:
    run = run_workload(TOOLS["flytecore"], "chain", 5, expected("chain", 5) + 1, budget=120)
    assert not run.ok and run.error == f"wrong result 5, expected {expected('chain', 5) + 1}"


def test_a_run_past_its_budget_is_killed_and_reported() -> None:
    sleeper = Tool("sleeper", str(Path(__file__).with_name("sleeper.py")))
    run = run_workload(sleeper, "chain", 10, expected("chain", 10), budget=2)
    assert not run.ok and run.error == "over the 2 s budget"


def test_the_marginal_cost_is_the_slope_between_the_two_largest_sizes() -> None:
    runs = [Run("t", "chain", n, ok=True, seconds=s) for n, s in ((10, 1.0), (100, 2.0), (1000, 11.0))]
    assert marginal_ms(runs) == pytest.approx(10.0)  # (11 - 2) s over 900 tasks
    assert marginal_ms(runs[:1]) is None


def test_unknown_tools_are_named() -> None:
    assert main(["--tools", "flytecore,airflow", "--further", ""]) == 2


def test_the_next_size_is_skipped_after_a_run_that_did_not_finish_or_predicts_over_the_budget() -> None:
    assert skip_reason(None, 10, budget=300) is None
    fast = Run("t", "chain", 100, ok=True, seconds=2.0)
    assert skip_reason(fast, 1000, budget=300) is None  # 20 s predicted
    assert skip_reason(fast, 100_000, budget=300) == "skipped: predicted over the 300 s budget from N=100"
    over = Run("t", "chain", 100, ok=False, error="over the 300 s budget")
    assert skip_reason(over, 1000, budget=300) == "skipped: N=100 did not finish"
