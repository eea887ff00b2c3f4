"""Settings shared by the whole test suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI machines are shared and slow at times: no per-example deadline there, same examples each run.
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
