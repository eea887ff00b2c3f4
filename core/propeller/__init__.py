"""flytecore.propeller."""
