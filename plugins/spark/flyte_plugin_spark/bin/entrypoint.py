"""The main application file of a flytecore Spark task: spark-submit runs it on the driver.

The SparkApplication runs ``spark-submit <this file> flytecore-execute --inputs ... -- task-module
M task-name N`` (as FlytePropeller does with flytekit's ``entrypoint.py``: the file is the
``mainApplicationFile``, the task's container arguments are the ``arguments``). This script
drops the leading ``flytecore-execute`` and runs flytecore's ``flytecore-execute`` console
script with the rest, so the task runs exactly as in a plain pod, inside the driver that
spark-submit configured (the local face then uses spark-submit's session).

It is run as a file, not imported: Python puts this folder first on ``sys.path``, which is why
it lives in a folder of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

COMMAND = "flytecore-execute"


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``flytecore-execute`` with ``argv`` (default ``sys.argv[1:]``), a leading
    ``flytecore-execute`` left out; exits with its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == COMMAND:
        args = args[1:]
    found = entry_points(group="console_scripts", name=COMMAND)
    if not found:
        sys.exit(
            f"{COMMAND} is not installed in this Python ({sys.executable}): install flytecore in the image"
        )
    run = next(iter(found)).load()
    sys.argv = [COMMAND, *args]
    run()


if __name__ == "__main__":
    main()
