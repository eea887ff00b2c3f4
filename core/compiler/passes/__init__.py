"""flytecore.compiler.passes."""
