"""Alembic environment of the admin database.

Run programmatically by :mod:`flytecore.admin.db.migrate`, which hands over an open connection
in ``config.attributes["connection"]``. Developers may also run the ``alembic`` command with
``-x db=URL`` (or ``sqlalchemy.url``) to autogenerate a new revision against the models;
review every generated file by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from flytecore.admin.db.engine import WRITE, make_engine
from flytecore.admin.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode (copy and move) is how later revisions do it.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the caller's connection, or over a new one for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn.execution_options(**WRITE))
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
