"""``flytecore admin``: run and maintain the control plane (FlyteAdmin)."""

from __future__ import annotations

import logging

import click

__all__ = ["admin"]

DB_HELP = "Database URL: sqlite:///path/admin.db or postgresql://user@host:port/db."


@click.group()
def admin() -> None:
    """The control plane (FlyteAdmin): its gRPC and HTTP servers and database migrations."""


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
@click.option("--port", default=30080, show_default=True, type=click.IntRange(0, 65535), help="gRPC port; 0 picks a free one.")
@click.option(
    "--http-port",
    default=30081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTP port (/healthcheck, /metrics, signed upload and download URLs); 0 picks a free one.",
)
@click.option(
    "--http-base-url",
    default=None,
    metavar="URL",
    help="The URL clients reach the HTTP server at, which signed URLs start with "
    "(e.g. behind a proxy).  [default: http://HOST:HTTP_PORT]",
)
@click.option(
    "--auth-token-file",
    default=None,
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Require 'Authorization: Bearer <token>' on every gRPC call and HTTP request (signed data "
    "URLs excepted), with the tokens in this file: one per line, '#' comments.  [default: no authentication]",
)
@click.option(
    "--workflow-store",
    default=None,
    metavar="URL",
    help="Hand accepted executions to a propeller through this workflow store (sqlite:///path/propeller.db "
    "or postgresql://...), which `flytecore propeller run --store URL` runs.  [default: none; executions wait as QUEUED]",
)
@click.option(
    "--max-parallelism",
    type=click.IntRange(min=0),
    default=None,
    help="Tasks of one execution running at once when neither the execution nor its launch plan "
    "sets it (FlyteAdmin's maxParallelism; 0: no limit).  [default: 25]",
)
@click.option(
    "--inline-data-bytes",
    type=click.IntRange(min=0),
    default=None,
    metavar="BYTES",
    help="Keep an execution's inputs and a node or task event's inputs and outputs of at most this size "
    "(serialized) in the database; write larger ones to metadata storage (0: always write them, "
    "FlyteAdmin's default policy for event data).  [default: 65536]",
)
def serve(
    db_url: str | None,
    storage_prefix: str | None,
    raw_data_prefix: str | None,
    host: str,
    port: int,
    http_port: int,
    http_base_url: str | None,
    auth_token_file: str | None,
    workflow_store: str | None,
    max_parallelism: int | None,
    inline_data_bytes: int | None,
) -> None:
    """Serve FlyteAdmin's gRPC API and the admin's HTTP server.

    gRPC: flyteidl's AdminService, DataProxyService and SignalService; RPCs not implemented yet
    answer UNIMPLEMENTED. HTTP: /healthcheck, /metrics and the data proxy's signed upload and
    download URLs. Migrates the database and creates the configured projects first. With
    --workflow-store, accepted executions go into that store for `flytecore propeller run`.
    Stop with Ctrl-C or SIGTERM.
    """
    # Imported here so that `flytecore --help` does not pay for gRPC, SQLAlchemy and the compiler.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from flytecore.admin.auth import load_tokens
    from flytecore.admin.config import AdminConfig
    from flytecore.admin.grpc import SERVED, ServedAddresses, implemented_rpcs, run_server
    from flytecore.admin.service import AdminService

    # Errors of failing calls are logged with their traceback; give them a time and a source.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Only what was given: AdminConfig's own defaults (under $FLYTECORE_HOME) fill in the rest.
    given = {
        "db_url": db_url,
        "storage_prefix": storage_prefix,
        "raw_data_prefix": raw_data_prefix,
        "http_base_url": http_base_url,
        "max_parallelism": max_parallelism,
        "inline_data_bytes": inline_data_bytes,
    }
    config = AdminConfig(**{k: v for k, v in given.items() if v is not None})
    try:
        shown_db = make_url(config.db_url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        raise click.BadParameter(f"{config.db_url!r} is not a database URL; {DB_HELP}", param_hint="--db") from None
    click.echo(f"database: {shown_db}")
    click.echo(f"storage:  {config.storage_prefix} (raw data: {config.raw_data_prefix or config.storage_prefix + '/raw'})")
    # A missing or empty token file is an error (AuthConfigError, printed by the root command):
    # silently running without authentication would be the worst reading of it.
    tokens = load_tokens(auth_token_file) if auth_token_file is not None else None
    if tokens is not None:
        click.echo(f"auth:     bearer tokens from {auth_token_file} ({len(tokens)} accepted)")
    else:
        click.echo("auth:     none (--auth-token-file enables bearer tokens)")
        if host in ("0.0.0.0", "::", ""):
            click.secho(
                f"warning: listening on every interface ({host}) without --auth-token-file: anyone who can "
                "reach this machine can register, run and read everything in this admin",
                fg="yellow",
                err=True,
            )

    launcher = None
    if workflow_store is not None:
        # The CLI joins the planes: the admin only sees an object with launch() and abort().
        from flytecore.propeller.runner import StoreLauncher
        from flytecore.propeller.store import SqlWorkflowStore

        try:
            launcher = StoreLauncher(SqlWorkflowStore.from_url(workflow_store))
        except (SQLAlchemyError, ValueError, OSError, ImportError) as exc:
            raise click.ClickException(f"cannot open --workflow-store {workflow_store}: {type(exc).__name__}: {exc}") from None
        click.echo(f"executions: into the workflow store {workflow_store} (run them with `flytecore propeller run --store ...`)")
    else:
        click.echo("executions: recorded as QUEUED (--workflow-store hands them to a propeller)")

    def started(addresses: ServedAddresses) -> None:
        counts = ", ".join(
            f"{entry.descriptor.name} {len(implemented_rpcs(AdminService, entry))}/{len(entry.descriptor.methods)}"
            for entry in SERVED
        )
        click.echo(f"gRPC: listening on {addresses.grpc_address} (RPCs implemented: {counts}; the others answer UNIMPLEMENTED)")
        click.echo(f"HTTP: listening on {addresses.http_url} (/healthcheck, /metrics, signed upload and download URLs)")
        if config.http_base_url:
            click.echo(f"signed URLs start with {config.http_base_url}")
        click.echo("Stop with Ctrl-C.")

    from flytecore import _gc

    _gc.hold()  # this process is the admin until it stops
    try:
        run_server(
            config, host=host, port=port, http_port=http_port, auth_tokens=tokens, on_started=started, launcher=launcher
        )
    except (SQLAlchemyError, ValueError, OSError, ImportError) as exc:
        # Unreachable database, unsupported URL, unusable storage, a missing extra (s3fs,
        # psycopg): a message, not a traceback. ServerStartError is a FlyteCoreError, which
        # the root command already prints as a message.
        raise click.ClickException(f"cannot start the admin: {type(exc).__name__}: {exc}") from None
    finally:
        if launcher is not None:
            launcher.close()
    click.echo("admin stopped")
