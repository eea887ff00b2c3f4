"""bench/lean_path.py: a short chain through it records what the sandbox records for a chain
task. No timing is asserted: the figures are the tool's output."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flyteidl.event import event_pb2

from bench import lean_path


def test_a_short_chain_records_five_events_and_two_statuses_per_task_in_one_transaction_each(tmp_path: Path) -> None:
    figures = lean_path.run(7, tmp_path)  # raises unless the chain computed 7
    assert set(figures) == {"wall", "propeller", "worker"} and all(v > 0 for v in figures.values())
    db = sqlite3.connect(tmp_path / "lean.db")
    assert db.execute("SELECT version FROM workflows").fetchone() == (8,)  # a round per task, and the last
    assert db.execute("SELECT COUNT(*) FROM node_states").fetchone() == (7,)
    payloads = [row[0] for row in db.execute("SELECT payload FROM outbox ORDER BY seq")]
    assert len(payloads) == 5 * 7
    # The first round starts n0 (node QUEUED, RUNNING, task QUEUED with the inputs); the next
    # ends it (task, then node SUCCEEDED, with its outputs) and starts n1.
    first = [event_pb2.NodeExecutionEvent.FromString(p) for p in payloads[:2]]
    assert [(e.id.node_id, e.phase) for e in first] == [("n0", 1), ("n0", 2)]
    assert first[0].input_data.literals["x"].scalar.primitive.integer == 0
    ended = event_pb2.NodeExecutionEvent.FromString(payloads[4])
    assert (ended.id.node_id, ended.phase) == ("n0", 3)
    assert ended.output_data.literals["o0"].scalar.primitive.integer == 1
