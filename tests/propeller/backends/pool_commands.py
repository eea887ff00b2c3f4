"""In-process commands for the worker pool tests; the pool's workers import this module by name."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time

# What a job keeps in its worker after it ends: memory for the max_rss_bytes test.
_HOARD: list[bytearray] = []


def echo(argv: list[str]) -> int:
    """Write to fds 1 and 2 in every way a task can; exit with the code given as argv[0]."""
    print(f"args {argv}")
    print(f"env {os.environ.get('JOB_VAR', '<unset>')}")
    print("python stderr", file=sys.stderr)
    os.write(1, b"raw fd 1\n")
    os.write(2, b"raw fd 2\n")
    ctypes.CDLL(None).printf(b"from C printf\n")  # C stdio buffer: flushed by the worker
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; print('subprocess out'); print('subprocess err', file=sys.stderr)",
        ],
        check=True,
    )
    return int(argv[0])


def whoami(argv: list[str]) -> int:
    """Print facts about the worker process running the job."""
    print(f"pid {os.getpid()} pgid {os.getpgrp()} executable {sys.executable}")
    print(f"flytecore imported {'flytecore' in sys.modules}")
    return 0


def show_env(argv: list[str]) -> int:
    """Print the named variables (or <unset>) and the working directory."""
    for name in argv:
        print(f"{name}={os.environ.get(name, '<unset>')}")
    print(f"cwd={os.getcwd()}")
    return 0


def mutate_process(argv: list[str]) -> int:
    """Change what the worker must restore: environment, cwd, sys.stdout."""
    os.environ["LEAKED"] = "yes"
    del os.environ["POOL_VAR"]
    os.chdir(argv[0])
    sys.stdout = open(os.devnull, "w")  # left open on purpose: the worker restores sys.stdout
    return 0


def wait_for(argv: list[str]) -> int:
    """Say "started", then wait until the file argv[0] exists (at most a minute)."""
    print("started", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(argv[0]):
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.01)
    return 0


def sleep(argv: list[str]) -> int:
    """Say "started", then sleep argv[0] seconds."""
    print("started", flush=True)
    time.sleep(float(argv[0]))
    return 0


def segfault(argv: list[str]) -> int:
    """Read address 0."""
    ctypes.string_at(0)
    return 0


def hard_exit(argv: list[str]) -> int:
    """Leave the worker without cleanup, as a task calling os._exit would."""
    os._exit(int(argv[0]))


def boom(argv: list[str]) -> int:
    """Raise: the entrypoint never does, a broken command might."""
    raise RuntimeError("boom from the task")


def sys_exit(argv: list[str]) -> int:
    """Leave through SystemExit."""
    sys.exit(int(argv[0]))


def hoard(argv: list[str]) -> int:
    """Keep argv[0] bytes alive in the worker after the job."""
    _HOARD.append(bytearray(int(argv[0])))
    return 0


def handoff(argv: list[str]) -> int:
    """What flytecore's entrypoint does with a worker's hand-off: read the document handed in
    for URI argv[0] (or say there is none), offer argv[2] as the outputs of prefix argv[1]."""
    from flytecore.sdk import _handoff

    given = _handoff.given(argv[0])
    print(f"given {given!r}")
    print(f"taken {_handoff.take(argv[1], 'outputs.pb', argv[2].encode())}")
    print(f"error taken {_handoff.take(argv[1], 'error.pb', b'no')}")
    return 0


def slow_handoff(argv: list[str]) -> int:
    """Offer outputs after running longer than a short attempt (flytecore.sdk._handoff.SHORT);
    with argv[1] == "load", the time went into loading the task (before _handoff.running())."""
    from flytecore.sdk import _handoff

    time.sleep(_handoff.SHORT + 0.05)
    if argv[1:] == ["load"]:
        _handoff.running()
    print(f"taken {_handoff.take(argv[0], 'outputs.pb', b'late')}")
    return 0
