"""Alembic environment of the workflow store.

Run programmatically by :mod:`flytecore.propeller.store.migrate`, which hands over an open
connection in ``config.attributes["connection"]``. The version table has its own name, so the
store can live in the admin's database. Developers may also run the ``alembic`` command with
``-x db=URL`` to autogenerate a new revision against :mod:`..tables`; review it by hand.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from flytecore.propeller.store._engine import WRITE, make_engine
from flytecore.propeller.store.tables import VERSION_TABLE, metadata

config = context.config


def _ours(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    # A shared database holds the admin's tables too: autogenerate must not offer to drop them.
    return type_ != "table" or bool(name and name.startswith("propeller_"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=_ours,
        compare_type=True,
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
    if not url:
        raise SystemExit("give the database: alembic -x db=URL ...")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn.execution_options(**WRITE))
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
