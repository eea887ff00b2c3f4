"""``flytecore propeller run``: the data plane (FlytePropeller) as its own process.

It runs the executions an admin puts into a shared workflow store (``flytecore admin serve
--workflow-store URL``) and reports back to that admin over gRPC: events through
:class:`~flytecore.propeller.sink.AdminEventSink`, child executions of launch plan nodes and
gate signals through the same :class:`~flytecore.propeller.sink.GrpcAdminClient`. Events wait
in the store's outbox while the admin is unreachable and are delivered, in order, once it
answers again.

The tasks' inputs, outputs and logs live where the admin's storage says (the workflow object
names the prefixes), so the propeller must be able to reach that storage: the same folder on
one machine, or the same object store.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

__all__ = ["propeller"]


@click.group()
def propeller() -> None:
    """The data plane (FlytePropeller): runs executions the admin hands over."""


@propeller.command("run")
@click.option(
    "--admin",
    "admin",
    default=None,
    metavar="HOST:PORT",
    help="The admin's gRPC address, for events and child executions.  [default: $FLYTECORE_ADMIN, else 127.0.0.1:30080]",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="The workflow store the admin writes to (its --workflow-store).  [default: sqlite:///$FLYTECORE_HOME/propeller.db]",
)
@click.option("--workers", type=click.IntRange(1), default=None, help="Worker processes for tasks.  [default: CPUs, at least 2]")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for worker and task logs (and the default store).  [default: $FLYTECORE_HOME]",
)
@click.option(
    "--token-file",
    default=None,
    metavar="PATH",
    help="A file with the bearer token the admin requires.  [default: $FLYTECORE_ADMIN_TOKEN, else none]",
)
def run(admin: str | None, store_url: str | None, workers: int | None, home: str | None, token_file: str | None) -> None:
    """Run the executions in the workflow store until Ctrl-C or SIGTERM."""
    import os

    from sqlalchemy.exc import SQLAlchemyError

    from flytecore.admin.config import flytecore_home
    from flytecore.cli.data_plane import build_data_plane
    from flytecore.cli.options import DEFAULT_ADMIN, ENV_ADMIN
    from flytecore.cli.remote import AdminClient, normalize_target, read_token
    from flytecore.propeller.sink import GrpcAdminClient

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    target = normalize_target(admin or os.environ.get(ENV_ADMIN) or DEFAULT_ADMIN)
    token = read_token(token_file)
    folder = Path(home) if home else flytecore_home()
    count = workers or max(2, os.cpu_count() or 2)
    try:
        plane = build_data_plane(home=folder, workers=count, store_url=store_url)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise click.ClickException(f"cannot start the propeller: {type(exc).__name__}: {exc}") from None
    client = GrpcAdminClient(target, token=token)
    plane.connect(client)
    with AdminClient(target, token) as probe:
        if not probe.reachable(timeout=2.0):
            click.secho(
                f"warning: no admin answers at {target} yet; events wait in the store until it does",
                fg="yellow",
                err=True,
            )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        plane.propeller.start()
        click.echo(f"store:   {plane.store.engine.url.render_as_string(hide_password=True)}")
        click.echo(f"admin:   {target} (events, child executions, signals)")
        click.echo(f"workers: {count} (logs under {folder / 'logs'})")
        click.echo("propeller running; stop with Ctrl-C.", nl=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        plane.close()
        client.close()
    click.echo("propeller stopped")
