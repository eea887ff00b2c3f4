"""Alembic environment of the workflow store.

Run programmatically by :mod:`flytecore.propeller.store.migrate`, which hands over an open
connection in ``config.attributes["connection"]``. The version table has its own name, so the
store can live in the admin's database. Developers may also run the ``alembic`` command with
``-x db=URL`` to autogenerate a new revision against :mod:`..tables`; review it by hand.
"""

from __future__ import annotations

from typing import Any

from flytecore._db import run_alembic_env
from flytecore.propeller.store._engine import make_engine
from flytecore.propeller.store.tables import VERSION_TABLE, metadata


def _ours(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    # A shared database holds the admin's tables too: autogenerate must not offer to drop them.
    return type_ != "table" or bool(name and name.startswith("propeller_"))


run_alembic_env(metadata, make=make_engine, version_table=VERSION_TABLE, include_object=_ours)
