"""``flytecore admin``: run and maintain the control plane (FlyteAdmin)."""

from __future__ import annotations

import click

__all__ = ["admin"]

DB_HELP = "Database URL: sqlite:///path/admin.db or postgresql://user@host:port/db."


@click.group()
def admin() -> None:
    """The control plane: database migrations (and, later, the server)."""


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
