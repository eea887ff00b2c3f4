"""flytecore.sdk.types."""
