"""The store's schema: created by its own migrations, with its own version table, beside the admin."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from flytecore.propeller.store import SchemaMismatch, SqlWorkflowStore, migrate
from flytecore.propeller.store._engine import make_engine
from flytecore.propeller.store.tables import VERSION_TABLE, metadata

TABLES = {
    "propeller_workflows",
    "propeller_workflow_objects",
    "propeller_node_states",
    "propeller_event_outbox",
    "propeller_catalog_entries",
    "propeller_catalog_reservations",
}


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_head_constant_is_the_newest_revision() -> None:
    with migrate.alembic_config() as config:
        assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD


def test_opening_an_empty_database_creates_exactly_the_tables_schema(empty_db_url: str) -> None:
    with SqlWorkflowStore.from_url(empty_db_url) as store:
        assert migrate.current_revision(store.engine) == migrate.HEAD
        with store.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES | {VERSION_TABLE}
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            diff = compare_metadata(context, metadata)
    assert diff == []


def test_opening_a_current_store_runs_no_migration(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqlWorkflowStore.from_url(empty_db_url).close()

    def fail(*_args: object) -> None:
        raise AssertionError("migrated again")

    monkeypatch.setattr(migrate, "upgrade", fail)
    SqlWorkflowStore.from_url(empty_db_url).close()


def test_propellers_opening_a_new_database_at_once_all_succeed(empty_db_url: str) -> None:
    # SQLite files are cheap: several fresh ones, since a lost race shows only now and then.
    urls = [empty_db_url]
    if empty_db_url.startswith("sqlite"):
        urls = [empty_db_url.replace("propeller.db", f"propeller{i}.db") for i in range(16)]
    for url in urls:
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def open_store(
            url: str = url, errors: list[BaseException] = errors, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait()
            try:
                SqlWorkflowStore.from_url(url).close()
            except BaseException as exc:  # reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert _table_names(url) == TABLES | {VERSION_TABLE}


def test_the_store_shares_a_database_with_the_admin(empty_db_url: str) -> None:
    from flytecore.admin.db import current_revision, head_revision, upgrade

    upgrade(empty_db_url)
    with SqlWorkflowStore.from_url(empty_db_url) as store:
        store.add("e1", b"o", b"s", "QUEUED")
    # Both version tables, and each side sees only its own revision.
    assert current_revision(empty_db_url) == head_revision()
    assert upgrade(empty_db_url) == head_revision()
    names = _table_names(empty_db_url)
    assert TABLES | {VERSION_TABLE, "alembic_version", "workflows", "executions"} <= names
    with SqlWorkflowStore.from_url(empty_db_url) as store:
        assert [w.execution_id for w in store.list()] == ["e1"]


def test_a_store_migrated_by_a_newer_flytecore_is_refused(empty_db_url: str) -> None:
    with SqlWorkflowStore.from_url(empty_db_url) as store, store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(SchemaMismatch, match="9999.*upgrade flytecore"):
        SqlWorkflowStore.from_url(empty_db_url)


def test_downgrade_to_base_removes_every_store_table(empty_db_url: str) -> None:
    with SqlWorkflowStore.from_url(empty_db_url) as store:
        with store.engine.begin() as conn, migrate.alembic_config(conn) as config:
            command.downgrade(config, "base")
        assert migrate.current_revision(store.engine) is None
    assert _table_names(empty_db_url) <= {VERSION_TABLE}
