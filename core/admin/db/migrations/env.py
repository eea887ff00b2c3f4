"""Alembic environment of the admin database.

Run programmatically by :mod:`flytecore.admin.db.migrate`, which hands over an open connection
in ``config.attributes["connection"]``. Developers may also run the ``alembic`` command with
``-x db=URL`` (or ``sqlalchemy.url``) to autogenerate a new revision against the models;
review every generated file by hand.
"""

from __future__ import annotations

from typing import Any

from flytecore._db import run_alembic_env
from flytecore.admin.db.engine import make_engine
from flytecore.admin.db.models import Base


def _ours(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    # A shared database may hold the propeller's workflow store: autogenerate must leave it be.
    return type_ != "table" or not (name and name.startswith("propeller_"))


run_alembic_env(Base.metadata, make=make_engine, include_object=_ours)
