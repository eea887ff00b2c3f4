"""flytecore."""
