"""The report of one invocation: a Markdown table, a JSON file and a PNG chart.

Per tool and workload: wall time at each N, marginal milliseconds per task (the slope between
the two largest N that finished), peak RSS of the whole process tree, and the ratios of the
marginal cost to flytekit's in-process run and to the physical floor, all from the same run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness.tools import Run
from bench.workloads.spec import tasks_of

REFERENCE = "flytekit"


def marginal_ms(runs: Sequence[Run]) -> float | None:
    """Milliseconds per added task between the two largest sizes that finished."""
    done = sorted((r for r in runs if r.ok and r.seconds is not None), key=lambda r: r.n)
    if len(done) < 2:
        return None
    small, large = done[-2], done[-1]
    added = tasks_of(large.workload, large.n) - tasks_of(small.workload, small.n)
    if added <= 0:  # the data workload: its task count does not grow with N
        added = large.n - small.n
    return (large.seconds - small.seconds) / added * 1000  # type: ignore[operator]


def summarize(runs: Sequence[Run], floor: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (tool, workload), in the order the runs came."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.tool, run.workload), []).append(run)
    rows = []
    for (tool, workload), group in groups.items():
        rows.append(
            {
                "tool": tool,
                "workload": workload,
                "seconds": {str(r.n): (round(r.seconds, 4) if r.ok and r.seconds is not None else None) for r in group},
                "errors": {str(r.n): r.error for r in group if not r.ok},
                "marginal_ms_per_task": marginal_ms(group),
                "peak_rss_mib": round(max(r.peak_rss_mib for r in group), 1),
            }
        )
    reference = {row["workload"]: row["marginal_ms_per_task"] for row in rows if row["tool"] == REFERENCE}
    for row in rows:
        ms, ref = row["marginal_ms_per_task"], reference.get(row["workload"])
        # A slope at or below zero (a workload whose time does not grow) has no meaningful ratio.
        row["vs_flytekit"] = ms / ref if ms is not None and ms > 0 and ref and ref > 0 else None
        row["vs_floor"] = ms / floor["floor_ms_per_task"] if ms is not None and ms > 0 and floor.get("floor_ms_per_task") else None
    return rows


def _fmt(value: float | None, digits: int = 3, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}{suffix}"


def markdown(rows: Sequence[dict[str, Any]], sizes: Sequence[int], floor: dict[str, Any], header: str) -> str:
    """The table of the report (and the floor), as Markdown."""
    lines = [header, ""]
    size_cols = " | ".join(f"N={n:,} s" for n in sizes)
    lines.append(f"| tool | workload | {size_cols} | ms/task (marginal) | peak RSS MiB | × flytekit | × floor |")
    lines.append("|" + "---|" * (len(sizes) + 6))
    for row in rows:
        cells = []
        for n in sizes:
            value = row["seconds"].get(str(n))
            if value is not None:
                cells.append(f"{value:.3f}")
            elif str(n) in row["errors"]:
                cells.append("over budget" if "budget" in row["errors"][str(n)] else "failed")
            else:
                cells.append("–")
        lines.append(
            f"| {row['tool']} | {row['workload']} | {' | '.join(cells)} | {_fmt(row['marginal_ms_per_task'])} | "
            f"{row['peak_rss_mib']:.0f} | {_fmt(row['vs_flytekit'], 2, '×')} | {_fmt(row['vs_floor'], 1, '×')} |"
        )
    lines += [
        "",
        "The physical floor on this machine (same invocation):",
        "",
        "| measurement | value |",
        "|---|---|",
    ]
    for key, value in floor.items():
        lines.append(f"| {key} | {value:.3f} |")
    failures = [(row["tool"], row["workload"], n, e) for row in rows for n, e in row["errors"].items()]
    if failures:
        lines += ["", "Runs that did not finish:", ""]
        lines += [f"- {tool} {workload} N={n}: {error}" for tool, workload, n, error in failures]
    return "\n".join(lines) + "\n"


def chart(runs: Sequence[Run], floor: dict[str, Any], path: Path) -> None:
    """ms/task against N on log scales, one panel per workload, the floor as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(r.workload for r in runs if r.workload != "data"))
    figure, axes = plt.subplots(1, max(1, len(workloads)), figsize=(5 * max(1, len(workloads)), 4.2), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=False):
        tools = list(dict.fromkeys(r.tool for r in runs if r.workload == workload))
        for tool in tools:
            points = sorted(
                (r.n, r.seconds / tasks_of(workload, r.n) * 1000)
                for r in runs
                if r.tool == tool and r.workload == workload and r.ok and r.seconds
            )
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=tool)
        axis.axhline(floor["floor_ms_per_task"], color="black", linestyle="--", linewidth=1, label="floor")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(workload)
        axis.set_xlabel("N (tasks)")
        axis.set_ylabel("ms per task (wall / tasks)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(out: Path, runs: Sequence[Run], floor: dict[str, Any], sizes: Sequence[int], meta: dict[str, Any], further: dict[str, Any]) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and ``chart.png`` into ``out``."""
    import attrs

    out.mkdir(parents=True, exist_ok=True)
    rows = summarize(runs, floor)
    header = f"Benchmark of {meta['date']} on {meta['machine']} (`{meta['command']}`)"
    table = markdown(rows, sizes, floor, header)
    if further:
        from bench.harness.further import further_markdown

        table += "\n" + further_markdown(further)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "chart": out / "chart.png"}
    paths["json"].write_text(
        json.dumps({"meta": meta, "floor": floor, "rows": rows, "runs": [attrs.asdict(r) for r in runs], "further": further}, indent=2)
    )
    paths["markdown"].write_text(table)
    if runs:
        chart(runs, floor, paths["chart"])
    return paths
