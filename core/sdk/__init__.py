"""flytecore.sdk."""
