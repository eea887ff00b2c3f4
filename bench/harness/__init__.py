"""The benchmark harness: runs every tool's workloads, the physical floor and the further
benchmarks, and writes the report (see ``python -m bench --help``)."""
