"""The sandbox's event process: the propeller's events reach the admin from a process of its
own; stopping delivers what is pending; if the process dies, the sandbox delivers them itself."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import execution_pb2

from flytecore.admin.config import AdminConfig
from flytecore.cli import sandbox_events
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.spec.phases import NodeExecutionPhase, WorkflowExecutionPhase
from tests.propeller import sandbox_tasks
from tests.propeller.test_sandbox import register, wait
from tests.propeller.test_sandbox_paths import node_executions, start


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)) as box:
        yield box


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox with its admin's database and its workflow store on SQLite files (the default),
    or both in one PostgreSQL database."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        config = SandboxConfig(home=home, workers=2)
        with Sandbox(config) as box:
            yield box
        return
    server = request.getfixturevalue("postgres_server")
    name = f"sandbox_events_{os.getpid()}_{next(_databases)}"
    server.admin_sql(f"CREATE DATABASE {name}")
    url = server.url(name)
    admin = AdminConfig(db_url=url, storage_prefix=str(home / "storage"))
    try:
        with Sandbox(SandboxConfig(home=home, workers=2, admin=admin, store_url=url)) as box:
            yield box
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def eventually(predicate: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.02)


def delivered(box: Sandbox) -> float:
    return float(box.propeller.metrics.events_delivered._value.get())


def phase(box: Sandbox, eid: object) -> WorkflowExecutionPhase:
    got = box.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid))
    return WorkflowExecutionPhase(got.closure.phase)


def handed_over(box: Sandbox) -> None:
    """Until the event process is ready, the propeller's loop delivers; then it hands over."""
    eventually(lambda: box.propeller.sink is None, "the event process delivers")


@contextlib.contextmanager
def delivering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: float) -> Iterator[Sandbox]:
    """A sandbox whose event process delivers, with ``settings`` (INTERVAL, QUIET, ACK_INTERVAL of
    :mod:`flytecore.cli.sandbox_events`, sent to the process when it starts); stopped after."""
    for name, value in settings.items():
        monkeypatch.setattr(sandbox_events, name, value)
    box = Sandbox(SandboxConfig(home=tmp_path / "home", workers=2)).start()
    try:
        handed_over(box)
        yield box
    finally:
        box.stop()


def launched(box: Sandbox, wf: Any, name: str, **inputs: object) -> Any:
    """Register ``wf`` and launch it; its execution id."""
    register(box, wf)
    return start(box, wf.name, name, **inputs)


def test_a_runs_events_reach_the_admin_from_the_event_process(any_sandbox: Sandbox) -> None:
    sandbox = any_sandbox
    assert sandbox.events is not None
    handed_over(sandbox)
    assert sandbox.events.pid != os.getpid() and sandbox.events.proc.poll() is None
    register(sandbox, sandbox_tasks.talk)
    eid = start(sandbox, sandbox_tasks.talk.name, "events1", x=1)
    assert wait(sandbox, eid).closure.phase == WorkflowExecutionPhase.SUCCEEDED
    assert NodeExecutionPhase(node_executions(sandbox, eid)["n0"].closure.phase) == NodeExecutionPhase.SUCCEEDED
    eventually(lambda: not sandbox.store.pending_events(10), "the outbox is empty")

    # Its counts are the sandbox's metrics (they arrive after the pass that delivered them).
    eventually(lambda: delivered(sandbox) >= 5, "the delivered events are counted")
    assert sandbox.propeller.metrics.outbox._value.get() == 0


def test_stopping_the_sandbox_delivers_what_is_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One pass when the sandbox starts, the next not for an hour (nor when kicks stop): the
    # run's events wait.
    with delivering(tmp_path, monkeypatch, INTERVAL=3600.0, QUIET=3600.0) as box:
        eid = launched(box, sandbox_tasks.talk, "events2", x=1)
        eventually(lambda: all(info.finished for info in box.store.list()), "the propeller finished the run")
        assert box.store.pending_events(100), "its events wait in the outbox"
        assert phase(box, eid) == WorkflowExecutionPhase.QUEUED  # the admin has not heard yet
        started = time.monotonic()
    assert time.monotonic() - started < 60  # the stop cut the hour's wait short
    assert phase(box, eid) == WorkflowExecutionPhase.SUCCEEDED
    # Its store is closed now: opened again, the outbox is empty.
    reopened = Sandbox(SandboxConfig(home=tmp_path / "home", workers=1, event_process=False))
    try:
        assert reopened.store.pending_events(10) == []
    finally:
        reopened.stop()


def test_the_last_events_of_a_burst_go_without_waiting_for_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Passes an hour apart while kicks keep coming; once they stop for QUIET seconds (the run
    # ended), the events go.
    with delivering(tmp_path, monkeypatch, INTERVAL=3600.0) as box:
        eid = launched(box, sandbox_tasks.doubling, "events5", x=1)
        assert wait(box, eid, timeout=30).closure.phase == WorkflowExecutionPhase.SUCCEEDED


def test_delivered_events_leave_the_outbox_once_a_pass_finds_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deleting delivered events takes the store's write lock the rounds wait for: the process
    # holds the deletion back (here: until a pass finds nothing new, a second after the last
    # delivery) and reads past what it delivered, so nothing is delivered twice.
    with delivering(tmp_path, monkeypatch, ACK_INTERVAL=3600.0) as box:
        eid = launched(box, sandbox_tasks.doubling, "events4", x=1)  # 30 tasks: many passes' worth
        assert wait(box, eid).closure.phase == WorkflowExecutionPhase.SUCCEEDED
        held = box.store.pending_events(1000)
        assert len(held) > 30, "the run's events, delivered, still wait in the outbox"
        eventually(lambda: not box.store.pending_events(10), "the outbox is empty")
        eventually(lambda: delivered(box) >= len(held), "the delivered events are counted")
        time.sleep(0.5)
        assert delivered(box) == len(held)  # each once
    assert "dropping it" not in (tmp_path / "home" / "logs" / "events.log").read_text()


def test_a_dead_event_process_leaves_delivery_to_the_sandbox(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    assert sandbox.events is not None
    handed_over(sandbox)
    pid = sandbox.events.pid
    with caplog.at_level(logging.ERROR, logger="flytecore.cli.sandbox_app"):
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: sandbox.propeller.sink is not None, "the sandbox takes over the delivery")
    assert f"the event process {pid} ended (exit code -9" in caplog.text
    assert "the sandbox's own process delivers events from now on" in caplog.text
    register(sandbox, sandbox_tasks.talk)
    eid = start(sandbox, sandbox_tasks.talk.name, "events3", x=2)
    assert wait(sandbox, eid).closure.phase == WorkflowExecutionPhase.SUCCEEDED
    eventually(lambda: not sandbox.store.pending_events(10), "the outbox is empty")


def test_a_sandbox_stopped_before_its_event_process_is_ready_ends_it(tmp_path: Path) -> None:
    box = Sandbox(SandboxConfig(home=tmp_path / "home", workers=1)).start()
    assert box.events is not None
    events = box.events
    box.stop()  # at once: its imports are not done; the loop delivered whatever there was
    assert events.proc.poll() is not None
    assert box.propeller.sink is not None


def test_the_event_process_logs_database_urls_without_their_passwords() -> None:
    assert sandbox_events._shown("postgresql://flyte:s3cret@db:5432/admin") == "postgresql://flyte:***@db:5432/admin"
    assert sandbox_events._shown("sqlite:////home/me/admin.db") == "sqlite:////home/me/admin.db"
