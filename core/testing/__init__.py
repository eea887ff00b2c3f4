"""flytecore.testing."""
