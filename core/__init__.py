"""flytecore: Flyte's architecture as a plugin-centric Python framework.

The public authoring API, the same names as flytekit's::

    from flytecore import task, workflow, conditional, map_task, LaunchPlan
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
