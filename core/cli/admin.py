"""``flytecore admin``: run and maintain the control plane (FlyteAdmin)."""

from __future__ import annotations

import logging

import click

__all__ = ["admin"]

DB_HELP = "Database URL: sqlite:///path/admin.db or postgresql://user@host:port/db."


@click.group()
def admin() -> None:
    """The control plane (FlyteAdmin): its gRPC server and database migrations."""


@admin.command()
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help=DB_HELP + "  [default: sqlite:///$FLYTECORE_HOME/admin.db]",
)
def migrate(db_url: str | None) -> None:
    """Bring the admin database's schema up to date (Alembic migrations shipped with flytecore)."""
    # Imported here so that `flytecore --help` does not pay for SQLAlchemy and Alembic.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from flytecore.admin.db import current_revision, default_db_url, head_revision, upgrade

    url = db_url or default_db_url()
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        before = current_revision(url)
        click.echo(f"database: {shown}")
        click.echo(f"revision before: {before or '(empty database)'}")
        after = upgrade(url)
    except (SQLAlchemyError, ValueError) as exc:
        # Unreachable server, wrong credentials, unsupported URL: a message, not a traceback.
        raise click.ClickException(f"cannot migrate {shown}: {exc}") from None
    click.echo(f"revision after:  {after} (head: {head_revision()})")


@admin.command()
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help=DB_HELP + "  [default: sqlite:///$FLYTECORE_HOME/admin.db]",
)
@click.option(
    "--storage",
    "storage_prefix",
    default=None,
    metavar="URL",
    help="Metadata storage: a folder, file:///path or s3://bucket/prefix.  [default: $FLYTECORE_HOME/storage]",
)
@click.option(
    "--raw-data-prefix",
    default=None,
    metavar="URL",
    help="Where executions write raw data (a folder or fsspec URL).  [default: STORAGE/raw]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 for all interfaces.")
@click.option("--port", default=30080, show_default=True, type=click.IntRange(0, 65535), help="gRPC port.")
@click.option(
    "--http-port",
    default=30081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTP server (console, REST, uploads, metrics): not implemented yet; accepted and ignored.",
)
def serve(
    db_url: str | None,
    storage_prefix: str | None,
    raw_data_prefix: str | None,
    host: str,
    port: int,
    http_port: int,
) -> None:
    """Serve FlyteAdmin's gRPC API.

    flyteidl's AdminService, DataProxyService and SignalService; RPCs not implemented yet answer
    UNIMPLEMENTED. Migrates the database and creates the configured projects first. Stop with
    Ctrl-C or SIGTERM.
    """
    # Imported here so that `flytecore --help` does not pay for gRPC, SQLAlchemy and the compiler.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from flytecore.admin.config import AdminConfig
    from flytecore.admin.grpc import SERVED, implemented_rpcs, run_server
    from flytecore.admin.service import AdminService

    # Errors of failing calls are logged with their traceback; give them a time and a source.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Only what was given: AdminConfig's own defaults (under $FLYTECORE_HOME) fill in the rest.
    given = {"db_url": db_url, "storage_prefix": storage_prefix, "raw_data_prefix": raw_data_prefix}
    config = AdminConfig(**{k: v for k, v in given.items() if v is not None})
    try:
        shown_db = make_url(config.db_url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        raise click.BadParameter(f"{config.db_url!r} is not a database URL; {DB_HELP}", param_hint="--db") from None
    click.echo(f"database: {shown_db}")
    click.echo(f"storage:  {config.storage_prefix} (raw data: {config.raw_data_prefix or config.storage_prefix + '/raw'})")
    click.echo(f"HTTP server: not implemented yet (--http-port {http_port} is ignored)")

    def ready(address: str) -> None:
        counts = ", ".join(
            f"{entry.descriptor.name} {len(implemented_rpcs(AdminService, entry))}/{len(entry.descriptor.methods)}"
            for entry in SERVED
        )
        click.echo(f"gRPC: listening on {address} (RPCs implemented: {counts}; the others answer UNIMPLEMENTED)")
        click.echo("Stop with Ctrl-C.")

    try:
        run_server(config, host=host, port=port, on_ready=ready)
    except (SQLAlchemyError, ValueError, OSError, ImportError) as exc:
        # Unreachable database, unsupported URL, unusable storage, a missing extra (s3fs,
        # psycopg): a message, not a traceback. ServerStartError is a FlyteCoreError, which
        # the root command already prints as a message.
        raise click.ClickException(f"cannot start the admin: {type(exc).__name__}: {exc}") from None
    click.echo("admin stopped")
