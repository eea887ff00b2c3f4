"""A cached workflow for the sandbox test of the task cache (imported by worker processes)."""

from __future__ import annotations

from pathlib import Path

from flytecore import task, workflow


@task(cache=True, cache_version="1", cache_ignore_input_vars=("marker",))
def cached_square(x: int, marker: str) -> int:
    """Squares ``x``; writes ``marker`` so a test can see that it ran (the cache ignores it)."""
    Path(marker).write_text(f"squared {x}")
    return x * x


@workflow
def cached_wf(x: int, marker: str) -> int:
    return cached_square(x=x, marker=marker)
