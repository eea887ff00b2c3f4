"""The physical floor on this machine: what one durable, process-isolated task can cost at least.

Three measurements, each the median of several timed batches:

- a protobuf ``LiteralMap`` (one integer input) encoded and decoded: a task's inputs crossing a
  process boundary;
- one SQLite WAL commit of a status update (``synchronous=NORMAL``, flytecore's setting: a commit
  survives a crash of the process), alone and batched 100 per commit, and with
  ``synchronous=FULL`` (an fsync per commit) for reference;
- a round trip of a small message to a warm worker process over a pipe.

The floor per task is the sum of the first, the unbatched commit and the round trip. For
reference, not in that sum: creating a small file, and a folder, in a new folder on this disk
(what a task's documents cost wherever a runner keeps them as files: a new inode each, whose cost
moves with the machine's state far more than the rest).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def _per_call_us(fn: Callable[[int], None], calls: int, batches: int = 7) -> float:
    """Median over ``batches`` of the microseconds per call of ``fn(calls)``."""
    fn(max(1, calls // 10))  # warm up
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        fn(calls)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def literal_map_us() -> float:
    from flyteidl.core import literals_pb2

    message = literals_pb2.LiteralMap(
        literals={"x": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=41)))}
    )

    def encode_decode(calls: int) -> None:
        for _ in range(calls):
            literals_pb2.LiteralMap.FromString(message.SerializeToString())

    return _per_call_us(encode_decode, 20_000)


def sqlite_commit_us(folder: Path, *, synchronous: str = "NORMAL", batch: int = 1) -> float:
    """Microseconds per status update, ``batch`` updates per commit."""
    path = folder / f"floor-{synchronous}-{batch}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("CREATE TABLE node (id INTEGER PRIMARY KEY, phase INTEGER, updated_at REAL, state BLOB)")
    db.executemany("INSERT INTO node VALUES (?, 0, 0, ?)", [(i, b"s" * 200) for i in range(1000)])
    counter = 0

    def commits(updates: int) -> None:
        nonlocal counter
        for _ in range(updates // batch):
            db.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                counter += 1
                db.execute("UPDATE node SET phase = ?, updated_at = ? WHERE id = ?", (counter % 7, time.time(), counter % 1000))
            db.execute("COMMIT")

    try:
        return _per_call_us(commits, 2_000 if synchronous == "NORMAL" else 300) if batch == 1 else _per_call_us(commits, 20_000)
    finally:
        db.close()


def _echo(connection: Connection) -> None:
    while True:
        message = connection.recv_bytes()
        if not message:
            return
        connection.send_bytes(message)


def pipe_round_trip_us() -> float:
    ours, theirs = multiprocessing.Pipe()
    worker = multiprocessing.get_context("spawn").Process(target=_echo, args=(theirs,), daemon=True)
    worker.start()
    message = b"j" * 200

    def round_trips(calls: int) -> None:
        for _ in range(calls):
            ours.send_bytes(message)
            ours.recv_bytes()

    try:
        return _per_call_us(round_trips, 5_000)
    finally:
        ours.send_bytes(b"")
        worker.join(5)


def file_create_us(folder: Path, *, folders: bool = False) -> float:
    """Creating (and writing 100 bytes to) a new file in a new folder, or making a new folder."""
    def create(calls: int) -> None:
        base = Path(tempfile.mkdtemp(prefix="create-", dir=folder))
        for i in range(calls):
            if folders:
                (base / str(i)).mkdir()
            else:
                with open(base / str(i), "wb") as f:
                    f.write(b"x" * 100)

    return _per_call_us(create, 500)


def measure() -> dict[str, Any]:
    """Every floor measurement in microseconds, and the floor per task in milliseconds."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as folder:
        where = Path(folder)
        result = {
            "literal_map_encode_decode_us": literal_map_us(),
            "sqlite_wal_commit_us": sqlite_commit_us(where),
            "sqlite_wal_commit_batched_100_us_per_update": sqlite_commit_us(where, batch=100),
            "sqlite_wal_commit_fsync_us": sqlite_commit_us(where, synchronous="FULL"),
            "pipe_round_trip_us": pipe_round_trip_us(),
            "file_create_us": file_create_us(where),
            "folder_create_us": file_create_us(where, folders=True),
        }
    result["floor_ms_per_task"] = (
        result["literal_map_encode_decode_us"] + result["sqlite_wal_commit_us"] + result["pipe_round_trip_us"]
    ) / 1000
    return result


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key:<48} {value:10.3f}")
