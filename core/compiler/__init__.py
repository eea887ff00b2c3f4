"""flytecore.compiler."""
