"""Migrations: from an empty database to exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from flytecore.admin.db import current_revision, head_revision, make_engine, upgrade
from flytecore.admin.db.migrate import alembic_config
from flytecore.admin.db.models import Base

TABLES = {
    "projects",
    "tasks",
    "workflows",
    "launch_plans",
    "executions",
    "node_executions",
    "task_executions",
}


def test_upgrade_from_empty_creates_exactly_the_models_schema(db_url: str) -> None:
    assert current_revision(db_url) is None
    assert upgrade(db_url) == head_revision() == "0001"
    assert current_revision(db_url) == "0001"
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES | {"alembic_version"}
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    upgrade(db_url)
    assert upgrade(db_url) == "0001"
    assert current_revision(db_url) == "0001"


def test_downgrade_to_base_removes_every_table(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn, alembic_config(conn) as config:
            command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert current_revision(db_url) is None


def test_one_active_launch_plan_index_is_partial_and_unique(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            indexes = {ix["name"]: ix for ix in inspect(conn).get_indexes("launch_plans")}
    finally:
        engine.dispose()
    one_active = indexes["uq_launch_plans_one_active"]
    assert one_active["unique"]
    assert one_active["column_names"] == ["project", "domain", "name"]
    where = one_active.get("dialect_options", {})
    assert any("state = 1" in str(v) for v in where.values()), where
