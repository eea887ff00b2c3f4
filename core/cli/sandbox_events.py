"""The sandbox's event delivery, in a process of its own.

The propeller saves each round's events in its workflow store's outbox, in the round's
transaction; something must then deliver them to the admin. Where the propeller runs beside the
admin in one process (the sandbox), its own loop could call the admin's event API in-process --
but the admin's ingestion is a third of that process's work on a chain of short tasks, all of it
under the one interpreter lock that the propeller's rounds and the workers' answers wait for,
while the machine's other cores idle. So the sandbox runs the admin's event API a second time, in
a child process over the same database and storage (FlyteAdmin scales out the same way: replicas
over one database), and that process delivers the outbox: the propeller only tells it, one byte
down a pipe per round that saved events, that there is something to deliver.

- At most one delivery pass per :data:`INTERVAL` seconds while events keep coming, so one admin
  transaction takes the events of many rounds; the first events after a quiet spell go at once,
  and the last of a burst once no kick came for :data:`QUIET` seconds.
- The outbox is the source of truth: a pass reads what is pending and acknowledges (deletes)
  what the admin took (refused events are dropped with a warning in the process's log, as the
  propeller's own delivery does). On SQLite, while rounds keep saving events, it deletes them at
  most once per :data:`ACK_INTERVAL` (each deletion takes the store's write lock, which the
  rounds wait for), reading past those it holds, and once a pass finds nothing new; on
  PostgreSQL (seqs may commit out of order there, and a deletion blocks no round) at once. A
  kick that arrives during a pass brings another pass; nothing waits for one that never comes.
  After a crash, events delivered but not yet deleted are delivered again: the admin takes a
  repeated event as delivered (ALREADY_EXISTS) or refuses it (an older phase), dropped with a
  warning.
- Until the process is ready (its imports take a moment), the propeller's loop delivers
  in-process as before; once it is, the loop hands the delivery over at its next pass and only
  then tells the process to go, so the two never deliver at once.
- Stopping asks for a last pass over everything pending, then the process exits (one that never
  got the delivery is just ended). If the process dies, the sandbox's propeller delivers
  in-process from then on (logged); nothing is lost either way, the events wait in the outbox.
- Its counts come back to the sandbox's metrics (``flytecore_propeller_events_delivered``,
  ``flytecore_propeller_outbox``).

Messages (:mod:`multiprocessing.connection` framing over a socket pair): sandbox -> process
``{"admin": AdminConfig, "store_url": str, "interval": float, "ack_interval": float, "quiet": float}``, then
``"go"`` (deliver from now on) and ``"stop"``; process -> sandbox ``("ready", pid)``, then
``("delivered", count, left)`` after each pass that did something (``left``: events it read but
the admin could not take now), ``("stopped", left)`` last.
Kicks go down a separate pipe, one byte each, never blocking.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flytecore.admin.config import AdminConfig
from flytecore.propeller.metrics import PropellerMetrics

__all__ = ["INTERVAL", "EventProcess", "main"]

log = logging.getLogger(__name__)

INTERVAL = 0.2
"""Seconds between delivery passes while events keep coming (one admin transaction per 500
events). Each pass has fixed costs, and its acknowledgement takes the workflow store's write
lock, which a round's save then waits for (SQLite's busy handler sleeps a millisecond or more):
passes every 0.2 s instead of 0.05 made a chain of 3,000 tasks 7-45% faster in four interleaved
pairs, 0.5 s no faster again. The first events after a quiet spell go at once."""

QUIET = 0.02
"""Seconds without a kick after which the events of a burst go without waiting for the rest of
:data:`INTERVAL` (the last events of a run reach the admin within this long of its end)."""

_BATCH = 500
"""Events per admin transaction."""

ACK_INTERVAL = 1.0
"""Seconds the process may hold back deleting delivered events from the outbox while rounds keep
saving new ones: each deletion takes the workflow store's write lock, which the rounds' saves
then wait for (SQLite's busy handler sleeps a millisecond or more). Held back, they are not
delivered again: passes read past them. Deleted at once by a pass that finds nothing new (one
comes within a second of the last delivery) and when stopping."""

_BOOT = "import sys; from flytecore.cli.sandbox_events import main; main(int(sys.argv[1]), int(sys.argv[2]))"


class EventProcess:
    """The sandbox's side of the delivery process: start it, kick it, stop it.

    :param admin: the admin's settings (its database and storage: the process opens them too).
    :param store_url: the propeller's workflow store, whose outbox it delivers.
    :param metrics: where its counts go.
    :param log_path: its log file (what it writes: refused events, failures).
    :param on_ready: called (from a thread of its own) once the process is ready to deliver; the
        caller stops delivering itself, then calls :meth:`go`.
    :param on_exit: called (from that thread) if the process ends before :meth:`stop`.
    :param interval: seconds between passes while events keep coming (default :data:`INTERVAL`).
    """

    def __init__(
        self,
        admin: AdminConfig,
        store_url: str,
        *,
        metrics: PropellerMetrics,
        log_path: Path,
        on_ready: Callable[[], None],
        on_exit: Callable[[str], None],
        interval: float | None = None,
    ) -> None:
        import socket

        self.metrics = metrics
        self._on_ready = on_ready
        self._on_exit = on_exit
        self._stopping = False
        self._going = False
        self.delivering = threading.Event()
        """Set once the process delivers (:meth:`go`)."""
        self._left: int | None = None
        self._send_lock = threading.Lock()
        parent, child = socket.socketpair()
        kick_read, self._kick = os.pipe()
        os.set_blocking(self._kick, False)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log_path, "ab") as log_file:
                self.proc = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, str(child.fileno()), str(kick_read)],
                    pass_fds=(child.fileno(), kick_read),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    # Away from a terminal's Ctrl-C: the sandbox stops it, after a last pass.
                    start_new_session=True,
                )
        except BaseException:
            parent.close()
            os.close(self._kick)
            raise
        finally:
            child.close()
            os.close(kick_read)
        self.pid = self.proc.pid
        self.log_path = log_path
        self._conn = Connection(parent.detach())
        self._conn.send(
            {
                "admin": admin,
                "store_url": store_url,
                "interval": INTERVAL if interval is None else interval,
                "ack_interval": ACK_INTERVAL,
                "quiet": QUIET,
            }
        )
        self._reader = threading.Thread(target=self._read, name="flytecore-events", daemon=True)
        self._reader.start()

    def kick(self) -> None:
        """New events are in the outbox (called by the propeller after a round's save)."""
        try:
            os.write(self._kick, b"k")
        except BlockingIOError:
            pass  # the pipe is full of kicks it has not read yet: it will pass again anyway
        except OSError:
            pass  # closed: stopped, or dead (the reader thread reports that)

    def go(self) -> None:
        """Start delivering (the caller no longer does)."""
        with self._send_lock:
            self._going = True
            try:
                self._conn.send("go")
            except OSError:
                return  # dead: the reader thread reports it
        self.delivering.set()

    def stop(self, timeout: float = 30.0) -> int | None:
        """Deliver what is pending, then end the process (killed after ``timeout`` seconds);
        returns how many events its last pass could not deliver (at least that many wait in the
        outbox; None: it could not say). A process that
        was never told to go is ended at once: it delivered nothing."""
        if self._stopping:
            return self._left
        with self._send_lock:
            self._stopping = True
            going = self._going
            try:
                if going:
                    self._conn.send("stop")
            except OSError:
                pass
        if not going:
            self.proc.kill()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the event process %d did not stop within %g s; killed it", self.pid, timeout)
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5.0)
        try:
            os.close(self._kick)
        except OSError:
            pass
        return self._left

    def _read(self) -> None:
        """Its messages, until it ends: counts into the metrics; an early end reported."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "ready":
                self._on_ready()
            elif kind == "delivered":
                _, count, left = message
                self.metrics.events_delivered.inc(count)
                self.metrics.outbox.set(left)
            elif kind == "stopped":
                self._left = message[1]
                self.metrics.outbox.set(message[1])
        self._conn.close()
        if not self._stopping:
            code = self.proc.wait()
            self._on_exit(f"the event process {self.pid} ended (exit code {code}; see {self.log_path})")


# --- the process -----------------------------------------------------------------------------


def main(fd: int, kick_fd: int) -> None:
    """The delivery process: serve until told to stop or the sandbox goes away."""
    from flytecore import _gc
    from flytecore.admin.db.repository import Repository
    from flytecore.admin.service import AdminService
    from flytecore.admin.storage import MetadataStore
    from flytecore.propeller.runner import deliver_outbox
    from flytecore.propeller.sink import AdminEventSink
    from flytecore.propeller.store.sql import SqlWorkflowStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    os.set_blocking(kick_fd, False)
    conn = Connection(fd)
    init: dict[str, Any] = conn.recv()
    config: AdminConfig = init["admin"]
    interval: float = init["interval"]
    ack_interval: float = init["ack_interval"]
    quiet: float = init["quiet"]
    # The sandbox created and migrated both databases before starting this process.
    admin = AdminService(
        Repository.from_url(config.db_url), MetadataStore(config.storage_prefix, config.raw_data_prefix), config
    )
    store = SqlWorkflowStore.from_url(init["store_url"])
    sink = AdminEventSink(admin, producer_id="flytecore-sandbox")
    metrics = PropellerMetrics()  # counted here, reported to the sandbox's
    _gc.hold()  # as in the sandbox's process: a control plane's heap, frozen once
    conn.send(("ready", os.getpid()))
    try:
        if conn.recv() != "go":
            return  # stopped before it was handed the delivery
    except (EOFError, OSError):
        return
    log.info("delivering events from %s to %s", _shown(init["store_url"]), _shown(config.db_url))

    acks = _Acks(store)
    # Holding delivered events back needs reading past them, sound where seqs commit in order
    # (SQLite, whose deletions are also what the rounds wait for). Elsewhere (PostgreSQL) a
    # pass deletes what it delivered at once and reads from the start.
    holding = store.outbox_in_commit_order

    def deliver_all() -> tuple[int, int]:
        """One pass: everything pending, in batches; (delivered, read but not delivered)."""
        total = 0
        while True:
            delivered, left = deliver_outbox(
                store, sink, metrics, limit=_BATCH,
                after=acks.high if holding else 0, acknowledge=acks.add if holding else None,
            )  # fmt: skip
            total += delivered
            if left or delivered < _BATCH:
                return total, left

    stop = False
    retry_at: float | None = None  # a pass left events the admin could not take: try again then
    last_pass = -float("inf")
    either = select.poll()
    either.register(fd, select.POLLIN)
    either.register(kick_fd, select.POLLIN)
    told = select.poll()
    told.register(fd, select.POLLIN)

    def stop_told(poller: select.poll, timeout: float | None) -> bool:
        """Wait for a kick or a message (``poller``) up to ``timeout`` s; True if told to stop."""
        events = dict(poller.poll(None if timeout is None else max(timeout, 0.0) * 1000))
        if fd not in events:
            return False
        try:
            return bool(conn.recv() == "stop")
        except (EOFError, OSError):
            return True  # the sandbox went away: a last pass, then out

    left = 0
    first = True  # a pass at once: what is pending already
    while not stop:
        if not first:
            stop = stop_told(either, None if retry_at is None else retry_at - time.monotonic())
        first = False
        # Batch: at most one pass per interval while kicks keep coming; a burst that ended (no
        # kick for QUIET seconds: the run finished or waits for long tasks) or a stop cuts the
        # wait short.
        until = last_pass + interval
        while not stop and (wait := until - time.monotonic()) > 0:
            _drain(kick_fd)
            if not either.poll(min(wait, quiet) * 1000):
                break  # quiet
            stop = stop_told(told, 0)
        _drain(kick_fd)  # kicks from here on bring another pass
        last_pass = time.monotonic()
        try:
            delivered, left = deliver_all()
        except Exception:
            log.exception("event delivery failed; retrying in 1 s")
            delivered, left = 0, 1
        retry_at = time.monotonic() + 1.0 if left else None
        if delivered or left:
            try:
                conn.send(("delivered", delivered, left))
            except OSError:
                stop = True
        # Deleted when a pass found nothing new (the rounds stopped saving events), after
        # ack_interval at the latest, and when stopping.
        if stop or not delivered or acks.held_for() >= ack_interval:
            acks.flush()
        if acks.held and retry_at is None:  # a pass that finds nothing new comes within a second
            retry_at = time.monotonic() + 1.0
    acks.flush()
    try:
        conn.send(("stopped", left if retry_at is not None else 0))
    except OSError:
        pass
    store.close()
    admin.repo.engine.dispose()


def _shown(url: str) -> str:
    """A database URL for the log: its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class _Acks:
    """Delivered events not yet deleted from the outbox (see :data:`ACK_INTERVAL`)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.held: list[int] = []
        self.high = 0
        """The last seq delivered: passes read after it."""
        self._since: float | None = None

    def add(self, seqs: list[int]) -> None:
        if seqs:
            self.held += seqs
            self.high = max(self.high, seqs[-1])
            if self._since is None:
                self._since = time.monotonic()

    def held_for(self) -> float:
        return 0.0 if self._since is None else time.monotonic() - self._since

    def flush(self) -> None:
        """Delete the held events from the outbox (kept for the next try if that fails)."""
        if not self.held:
            return
        try:
            self.store.ack_events(self.held)
        except Exception:
            log.exception("acknowledging %d delivered events failed; retrying later", len(self.held))
            return
        self.held, self._since = [], None


def _drain(fd: int) -> None:
    while True:
        try:
            if len(os.read(fd, 65536)) < 65536:
                return
        except BlockingIOError:
            return
