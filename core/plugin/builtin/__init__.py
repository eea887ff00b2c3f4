"""flytecore.plugin.builtin."""
