"""flytecore.admin."""
