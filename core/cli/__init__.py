"""flytecore.cli."""
