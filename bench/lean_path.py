"""A chain of trivial tasks through the leanest Python path that keeps what the sandbox keeps:
the floor an engine written in Python could reach on this machine, beside the sandbox's chain.

Run from the repository root: ``python bench/lean_path.py`` (``--tasks N``, default 3,000). One
round per task, as the sandbox's propeller does it for a chain, with nothing general in between:

- the task's job goes to a warm worker process over a socket pair (its inputs as a flyteidl
  ``LiteralMap``'s bytes, a dozen environment variables); the worker decodes them, adds one,
  answers with its outputs' bytes;
- each round records what the sandbox records for a chain task: five flyteidl events (node
  QUEUED, RUNNING and SUCCEEDED, task QUEUED and SUCCEEDED, with the inputs and outputs inline),
  two node statuses as JSON (orjson), the workflow's row updated under its lease, all in one SQLite
  WAL transaction (``synchronous=NORMAL``), committed before the next job is sent.

What it leaves out (each a part of the sandbox's cost): the spec's models (only flyteidl
messages here), plugins and handlers, task templates and bindings, log files, the admin and the
event process, metrics. It prints wall time and CPU per task of each process; compare with
``python bench/critical_path.py`` in the same minutes.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from socket import socketpair
from typing import Any

_WORKER = """
import sys
from multiprocessing.connection import Connection
from flyteidl.core import literals_pb2
conn = Connection(int(sys.argv[1]))
while True:
    job = conn.recv()
    if job is None:
        break
    job_id, inputs, env = job
    x = literals_pb2.LiteralMap.FromString(inputs).literals["x"].scalar.primitive.integer
    out = literals_pb2.LiteralMap()
    out.literals["o0"].scalar.primitive.integer = x + 1
    conn.send((0, out.SerializeToString(deterministic=True)))
"""

_SCHEMA = """
CREATE TABLE workflows (id TEXT PRIMARY KEY, version INTEGER, owner TEXT, state BLOB);
CREATE TABLE node_states (id TEXT, node TEXT, state BLOB, updated_at REAL, PRIMARY KEY (id, node));
CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, payload BLOB, created_at REAL);
"""


def _cpu(pid: int) -> float:
    """User + system seconds of process ``pid``."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def run(tasks: int, folder: Path) -> dict[str, float]:
    """The chain of ``tasks``; wall and CPU microseconds per task (this process, the worker)."""
    import orjson
    from flyteidl.core import literals_pb2
    from flyteidl.event import event_pb2
    from google.protobuf import timestamp_pb2

    db = sqlite3.connect(folder / "lean.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    db.execute("INSERT INTO workflows VALUES ('e1', 0, 'me', x'')")
    ours, theirs = socketpair()
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, str(theirs.fileno())], pass_fds=(theirs.fileno(),))
    theirs.close()
    conn = Connection(ours.detach())
    env = {f"FLYTE_INTERNAL_{i}": f"value {i}" for i in range(12)}
    # The parts every event of the run repeats, made once (as the sandbox's memos do).
    node_proto = event_pb2.NodeExecutionEvent(producer_id="lean", node_name="inc")
    node_proto.id.execution_id.project, node_proto.id.execution_id.name = "p", "e1"
    node_proto.task_node_metadata.SetInParent()
    task_proto = event_pb2.TaskExecutionEvent(producer_id="lean", task_type="python-task")
    task_proto.task_id.project, task_proto.task_id.name, task_proto.task_id.version = "p", "inc", "v1"
    task_proto.parent_node_execution_id.CopyFrom(node_proto.id)

    def event(part: Any, node: str, phase: int, stamp: timestamp_pb2.Timestamp, data: str, value: Any) -> bytes:
        """A node's (``part`` = node_proto) or its attempt's (task_proto) event, serialized."""
        msg = type(part)()
        msg.CopyFrom(part)
        if part is node_proto:
            msg.id.node_id = msg.spec_node_id = node
        else:
            msg.parent_node_execution_id.node_id = node
        msg.phase = phase
        msg.occurred_at.CopyFrom(stamp)
        msg.reported_at.CopyFrom(stamp)
        getattr(msg, data).CopyFrom(value)
        return bytes(msg.SerializeToString())

    outputs = literals_pb2.LiteralMap()
    outputs.literals["o0"].scalar.primitive.integer = 0
    version = 0
    cpu_before, worker_before = time.process_time(), _cpu(worker.pid)
    started = time.perf_counter()
    for task in range(tasks + 1):
        now = time.time()
        stamp = timestamp_pb2.Timestamp()
        stamp.FromNanoseconds(int(now * 1e9))
        events: list[bytes] = []
        statuses: dict[str, bytes] = {}
        if task:  # the task before ended: its outputs, its events, its status
            _, data = conn.recv()
            outputs = literals_pb2.LiteralMap.FromString(data)
            node = f"n{task - 1}"
            events += [event(task_proto, node, 3, stamp, "output_data", outputs),
                       event(node_proto, node, 3, stamp, "output_data", outputs)]
            value = outputs.literals["o0"].scalar.primitive.integer
            statuses[node] = bytes(orjson.dumps({"phase": "SUCCEEDED", "attempts": 1, "updated_at": now,
                                                 "outputs": {"literals": {"o0": {"scalar": {"primitive": {"integer": value}}}}}}))
        if task < tasks:  # the next task starts: its inputs are the outputs before, its job goes out
            inputs = literals_pb2.LiteralMap()
            inputs.literals["x"].CopyFrom(outputs.literals["o0"])
            node = f"n{task}"
            conn.send((f"e1-{node}-0", inputs.SerializeToString(deterministic=True), {**env, "NODE": node}))
            events += [event(node_proto, node, 1, stamp, "input_data", inputs),
                       event(node_proto, node, 2, stamp, "input_data", inputs),
                       event(task_proto, node, 1, stamp, "input_data", inputs)]
            statuses[node] = bytes(orjson.dumps({"phase": "RUNNING", "attempts": 1, "queued_at": now, "started_at": now,
                                                 "plugin_state": {"job": f"e1-{node}-0", "wakes": True}}))
        db.execute("BEGIN IMMEDIATE")
        updated = db.execute(
            "UPDATE workflows SET version = version + 1, state = ? WHERE id = 'e1' AND owner = 'me' AND version = ?"
            " RETURNING version", (b'{"phase":"RUNNING"}', version)).fetchone()
        if updated is None:
            raise SystemExit("lost the lease")
        version = updated[0]
        db.executemany("INSERT OR REPLACE INTO node_states VALUES ('e1', ?, ?, ?)", [(k, v, now) for k, v in statuses.items()])
        db.executemany("INSERT INTO outbox (id, payload, created_at) VALUES ('e1', ?, ?)", [(e, now) for e in events])
        db.execute("COMMIT")
    wall = time.perf_counter() - started
    cpu, worker_cpu = time.process_time() - cpu_before, _cpu(worker.pid) - worker_before
    conn.send(None)
    worker.wait(30)
    if outputs.literals["o0"].scalar.primitive.integer != tasks:
        raise SystemExit(f"the chain computed {outputs.literals['o0'].scalar.primitive.integer}, not {tasks}")
    return {"wall": wall / tasks * 1e6, "propeller": cpu / tasks * 1e6, "worker": worker_cpu / tasks * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flytecore-lean-") as folder:
        figures = run(args.tasks, Path(folder))
    print(f"lean chain of {args.tasks:,} tasks: {figures['wall'] / 1000:.3f} ms per task; CPU per task: "
          f"this process {figures['propeller']:.0f} µs, the worker {figures['worker']:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
