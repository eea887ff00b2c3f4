"""``flytecore sandbox``: the admin (gRPC + HTTP) and the propeller in one process.

Flyte's sandbox on one machine: ``flytecore register``, ``flytecore run --remote``, flytekit's
``pyflyte`` and ``FlyteRemote`` all talk to it at ``127.0.0.1:30080``. Everything is kept under
one folder (``$FLYTECORE_HOME``, ``~/.flytecore`` by default), so executions survive a restart.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

__all__ = ["flytekit_config", "sandbox"]


def flytekit_config(grpc_address: str) -> str:
    """The YAML flytekit reads (``Config.auto(config_file=...)``, ``pyflyte --config``) to talk
    to an admin at ``grpc_address`` (``host:port``) without TLS."""
    return f"admin:\n  endpoint: dns:///{grpc_address}\n  insecure: true\n"


def _client_address(host: str, port: int) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the database, the workflow store, storage and logs.  [default: $FLYTECORE_HOME, else ~/.flytecore]",
)
@click.option("--port", default=30080, show_default=True, type=click.IntRange(0, 65535), help="gRPC port; 0 picks a free one.")
@click.option(
    "--http-port", default=30081, show_default=True, type=click.IntRange(0, 65535), help="HTTP port; 0 picks a free one."
)
@click.option("--workers", type=click.IntRange(1), default=None, help="Worker processes for tasks.  [default: CPUs, at least 2]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 for all interfaces.")
@click.option(
    "--auth-token-file",
    default=None,
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Require 'Authorization: Bearer <token>' with the tokens in this file (one a line).  [default: no authentication]",
)
@click.option(
    "--write-flytekit-config",
    default=None,
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Also write flytekit's config file (admin endpoint, insecure) to PATH, e.g. ~/.flyte/config.yaml.",
)
def sandbox(
    home: str | None,
    port: int,
    http_port: int,
    workers: int | None,
    host: str,
    auth_token_file: str | None,
    write_flytekit_config: str | None,
) -> None:
    """Run the admin (gRPC and HTTP) and the propeller in one process, until Ctrl-C or SIGTERM."""
    import logging

    from flytecore.admin.auth import load_tokens
    from flytecore.admin.config import flytecore_home
    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tokens = load_tokens(auth_token_file) if auth_token_file is not None else None
    if tokens is None and host in ("0.0.0.0", "::", ""):
        click.secho(
            f"warning: listening on every interface ({host}) without --auth-token-file: anyone who can reach "
            "this machine can register and run code here",
            fg="yellow",
            err=True,
        )
    config = SandboxConfig(
        home=Path(home) if home else flytecore_home(),
        host=host,
        grpc_port=port,
        http_port=http_port,
        auth_tokens=tokens,
        **({"workers": workers} if workers else {}),
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Before anything starts: a Ctrl-C during start-up stops cleanly too.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    box = None
    try:
        box = Sandbox(config)
        servers = box.serve()
        grpc_address = _client_address(host, servers.grpc_port)
        snippet = flytekit_config(grpc_address)
        click.echo(f"home:    {config.home}")
        click.echo(f"gRPC:    {grpc_address} (flytecore --admin, $FLYTECORE_ADMIN; flytekit's endpoint)")
        click.echo(f"HTTP:    {servers.http_url} (/healthcheck, /metrics, signed upload and download URLs)")
        click.echo(f"workers: {config.workers}")
        click.echo(f"auth:    {f'bearer tokens from {auth_token_file}' if tokens else 'none'}")
        if write_flytekit_config:
            path = Path(write_flytekit_config).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet)
            click.echo(f"flytekit config written to {path}")
        click.echo("flytekit config (~/.flyte/config.yaml, or pyflyte --config FILE):")
        click.echo("  " + snippet.rstrip("\n").replace("\n", "\n  "))
        click.echo("sandbox ready; stop with Ctrl-C.")
        while not stop.wait(0.5):
            pass
    finally:
        if box is not None:
            box.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("sandbox stopped")
