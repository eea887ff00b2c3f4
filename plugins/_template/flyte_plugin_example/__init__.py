"""flyte-plugin-example: the ``example`` task type, a template for new plugins."""

from __future__ import annotations

from flyte_plugin_example.config import Example, current_greeting

__version__ = "0.1.0"

__all__ = ["Example", "__version__", "current_greeting"]
