"""What the tests know about processes, from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str]:
    # After the command name in parentheses: state, ppid, ...
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie is dead)."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def children() -> list[int]:
    """Live processes whose parent is this one, but multiprocessing's resource tracker: the
    first ``spawn`` starts it and it lives as long as this process."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat_fields(stat.parent.name)
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z" and b"multiprocessing.resource_tracker" not in command:
            found.append(int(stat.parent.name))
    return found
