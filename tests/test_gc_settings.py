"""flytecore._gc: a running control plane freezes the start-up heap and collects the young
generation less often; the last one to stop restores the process's settings.

Checked in a fresh interpreter: the test process's own sandboxes (module fixtures) may hold the
settings while this runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_hold_and_release_nest_and_restore_the_settings() -> None:
    run_fresh("""
        import gc
        from flytecore import _gc
        before, frozen = gc.get_threshold(), gc.get_freeze_count()
        assert before != _gc.SERVICE_THRESHOLD
        _gc.hold(); _gc.hold()
        assert gc.get_threshold() == _gc.SERVICE_THRESHOLD and gc.get_freeze_count() > frozen
        _gc.release()
        assert gc.get_threshold() == _gc.SERVICE_THRESHOLD  # one holder left
        _gc.release()
        assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
        _gc.release()  # more releases than holds: nothing happens
        assert gc.get_threshold() == before
    """)


def test_a_sandbox_holds_the_settings_while_its_propeller_runs(tmp_path: Path) -> None:
    run_fresh(f"""
        import gc
        from flytecore import _gc
        from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
        before = gc.get_threshold()
        box = Sandbox(SandboxConfig(home={str(tmp_path)!r}, http_port=None, grpc_port=0, workers=1))
        try:
            assert gc.get_threshold() == before  # built, not started
            box.start()
            box.propeller.start()  # already running: no second hold
            assert gc.get_threshold() == _gc.SERVICE_THRESHOLD and _gc._holders == 1
        finally:
            box.stop()
        assert gc.get_threshold() == before and _gc._holders == 0
        box.stop()
        assert gc.get_threshold() == before
    """)
