"""Scripts spark-submit runs: :mod:`flyte_plugin_spark.bin.entrypoint`."""
