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
    "signals",
}


def test_upgrade_from_empty_creates_exactly_the_models_schema(db_url: str) -> None:
    assert current_revision(db_url) is None
    assert upgrade(db_url) == head_revision() == "0002"
    assert current_revision(db_url) == "0002"
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
    assert upgrade(db_url) == "0002"
    assert current_revision(db_url) == "0002"


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


def test_signals_migrate_down_and_up_keeping_the_other_tables_rows(db_url: str) -> None:
    from sqlalchemy import text

    assert upgrade(db_url, "0001") == "0001"
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert "signals" not in inspect(conn).get_table_names()
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, description, labels, state, created_at, updated_at) "
                    "VALUES ('kept', 'kept', '', '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        assert upgrade(db_url) == "0002"
        with engine.connect() as conn:
            columns = {c["name"]: c for c in inspect(conn).get_columns("signals")}
            keys = inspect(conn).get_pk_constraint("signals")["constrained_columns"]
            foreign = inspect(conn).get_foreign_keys("signals")
        assert keys == ["execution_project", "execution_domain", "execution_name", "signal_id"]
        assert columns["value"]["nullable"] and not columns["type"]["nullable"]
        assert [(f["referred_table"], f["options"].get("ondelete")) for f in foreign] == [("executions", "CASCADE")]
        with engine.begin() as conn, alembic_config(conn) as config:
            command.downgrade(config, "0001")
        with engine.connect() as conn:
            assert "signals" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT id FROM projects")).scalars().all() == ["kept"]
    finally:
        engine.dispose()
    assert current_revision(db_url) == "0001"
