"""flytecore.plugin."""
