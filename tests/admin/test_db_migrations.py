"""Migrations: from an empty database to exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from sqlalchemy import MetaData, Table, insert, inspect

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import (
    Repository,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    upgrade,
)
from flytecore.admin.db.migrate import alembic_config
from flytecore.admin.db.models import Base
from flytecore.admin.service import AdminService
from flytecore.admin.storage import MetadataStore
from flytecore.spec.identifiers import NodeExecutionIdentifier, WorkflowExecutionIdentifier
from flytecore.spec.phases import NodeExecutionPhase
from tests.admin.conftest import database_rows
from tests.admin.conftest import execution as _execution_row

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
    assert upgrade(db_url) == head_revision() == "0004"
    assert current_revision(db_url) == "0004"
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
    assert upgrade(db_url) == "0004"
    assert current_revision(db_url) == "0004"


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
        assert upgrade(db_url, "0002") == "0002"
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


T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
_PLAIN = {str: "", int: 0, float: 0.0, bool: False, bytes: b"", dt.datetime: T0, object: {}}  # object: JSON


def _row(table: Table, **given: Any) -> dict[str, Any]:
    """A row for a reflected ``table``: ``given``, and a plain value for every other NOT NULL column."""
    return {
        **{c.name: _PLAIN[c.type.python_type] for c in table.columns if not c.nullable and c.name not in given},
        **given,
    }


def test_inline_inputs_migrate_up_from_0002_keeping_every_row(db_url: str, tmp_path: Path) -> None:
    """0003 adds ``input_data`` (NULL) to the node and task executions a 0002 database holds;
    their rows stay as they were, and events go on being recorded on them."""
    assert upgrade(db_url, "0002") == "0002"
    engine = make_engine(db_url)
    try:
        old = MetaData()
        old.reflect(engine)
        execution = {"execution_project": "flytesnacks", "execution_domain": "development", "execution_name": "e1"}
        with engine.begin() as conn:
            conn.execute(insert(old.tables["executions"]).values(_row(
                old.tables["executions"], project="flytesnacks", domain="development", name="e1", phase=2
            )))  # fmt: skip
            for node_id, input_uri in (("n0", "file:///old/n0/inputs.pb"), ("n1", "")):
                conn.execute(insert(old.tables["node_executions"]).values(_row(
                    old.tables["node_executions"], **execution, node_id=node_id, phase=2, input_uri=input_uri
                )))  # fmt: skip
            conn.execute(insert(old.tables["task_executions"]).values(_row(
                old.tables["task_executions"], **execution, node_id="n0", task_name="t", input_uri="file:///old/n0/inputs.pb"
            )))  # fmt: skip
        before = database_rows(engine)
        assert "input_data" not in {c["name"] for c in inspect(engine).get_columns("node_executions")}

        assert upgrade(db_url, "0003") == "0003"
        after = database_rows(engine)
        for table in ("node_executions", "task_executions"):
            columns = {c["name"]: c for c in inspect(engine).get_columns(table)}
            assert list(columns)[-1] == "input_data" and columns["input_data"]["nullable"]
            # Every row kept as it was, with no inline inputs (NULL) in the new last column.
            assert after[table] == [(*row, None) for row in before[table]]
            assert len(after[table]) == (2 if table == "node_executions" else 1)
        assert {t: rows for t, rows in after.items() if t not in ("node_executions", "task_executions", "alembic_version")} == {
            t: rows for t, rows in before.items() if t not in ("node_executions", "task_executions", "alembic_version")
        }

        # The migrated rows take events: n1 had no inputs yet, so the inline ones are recorded.
        assert upgrade(db_url) == "0004"  # the models' schema
        service = AdminService(
            Repository(make_session_factory(engine)), MetadataStore(str(tmp_path / "store")), AdminConfig(db_url=db_url)
        )
        for node_id in ("n0", "n1"):
            event = event_pb2.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(
                    node_id=node_id,
                    execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="e1"),
                ),
                phase=int(NodeExecutionPhase.SUCCEEDED),
                input_data=literals_pb2.LiteralMap(literals={"a": literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=7)))}),
            )  # fmt: skip
            service.create_node_event(admin_event_pb2.NodeExecutionEventRequest(event=event))
        nid = NodeExecutionIdentifier(node_id="n0", execution_id=WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="e1"))
        n0, n1 = service.repo.get_node_execution(nid), service.repo.get_node_execution(attrs.evolve(nid, node_id="n1"))
        assert (n0.input_uri, n0.input_data) == ("file:///old/n0/inputs.pb", None)  # fixed once recorded
        assert n1.input_uri == "" and literals_pb2.LiteralMap.FromString(n1.input_data).literals["a"].scalar.primitive.integer == 7

        # And back: 0002 drops the column (and the inline inputs with it), keeping the rows.
        with engine.begin() as conn, alembic_config(conn) as config:
            command.downgrade(config, "0002")
        down = database_rows(engine)
        for table in ("node_executions", "task_executions"):  # the same keys (the first four columns)
            assert [row[:4] for row in down[table]] == [row[:4] for row in before[table]]
        assert "input_data" not in {c["name"] for c in inspect(engine).get_columns("task_executions")}
    finally:
        engine.dispose()


def test_inline_execution_inputs_migrate_up_from_0003_keeping_every_row(db_url: str, tmp_path: Path) -> None:
    """0004 adds ``inputs_data`` and ``user_inputs_data`` (NULL) to the executions a 0003 database
    holds; their rows stay as they were, their inputs are still read from their files, and new
    executions keep small inputs in the new columns."""
    assert upgrade(db_url, "0003") == "0003"
    store = MetadataStore(str(tmp_path / "store"))
    e1 = WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="e1")
    given = literals_pb2.LiteralMap(literals={"a": _integer(1)})
    as_run = literals_pb2.LiteralMap(literals={"a": _integer(1), "b": _integer(3)})
    uris = {"inputs_uri": store.execution_inputs_uri(e1), "user_inputs_uri": store.execution_user_inputs_uri(e1)}
    store.write_bytes(uris["inputs_uri"], as_run.SerializeToString(deterministic=True))
    store.write_bytes(uris["user_inputs_uri"], given.SerializeToString(deterministic=True))
    engine = make_engine(db_url)
    try:
        old = MetaData()
        old.reflect(engine)
        with engine.begin() as conn:
            for name, files in (("e1", uris), ("e2", {})):  # e2: no inputs recorded
                conn.execute(insert(old.tables["executions"]).values(_row(
                    old.tables["executions"], project="flytesnacks", domain="development", name=name, phase=1, **files
                )))  # fmt: skip
            conn.execute(insert(old.tables["node_executions"]).values(_row(
                old.tables["node_executions"], execution_project="flytesnacks", execution_domain="development",
                execution_name="e1", node_id="n0", phase=2, input_data=b"",
            )))  # fmt: skip
        before = database_rows(engine)
        assert not {"inputs_data", "user_inputs_data"} & {c["name"] for c in inspect(engine).get_columns("executions")}

        assert upgrade(db_url) == "0004"
        after = database_rows(engine)
        columns = {c["name"]: c for c in inspect(engine).get_columns("executions")}
        assert list(columns)[-2:] == ["inputs_data", "user_inputs_data"]
        assert columns["inputs_data"]["nullable"] and columns["user_inputs_data"]["nullable"]
        # Every execution kept as it was, with no inputs in the new last columns (NULL, NULL).
        assert after["executions"] == [(*row, None, None) for row in before["executions"]]
        assert len(after["executions"]) == 2
        assert {t: rows for t, rows in after.items() if t not in ("executions", "alembic_version")} == {
            t: rows for t, rows in before.items() if t not in ("executions", "alembic_version")
        }

        # The migrated execution's inputs are still read from its file; a new one keeps them in the row.
        service = AdminService(Repository(make_session_factory(engine)), store, AdminConfig(db_url=db_url))
        migrated = _execution_data(service, "e1")
        assert (migrated.full_inputs, migrated.inputs.url) == (as_run, uris["inputs_uri"])
        assert _execution_data(service, "e2").full_inputs == literals_pb2.LiteralMap()  # none recorded: empty
        kept = as_run.SerializeToString(deterministic=True)
        service.repo.create_execution(_execution_row("e3", inputs_uri="", inputs_data=kept))
        new = _execution_data(service, "e3")
        assert (new.full_inputs, new.inputs.url) == (as_run, "")

        # And back: 0003 drops the columns (and the kept inputs with them), keeping the rows.
        with engine.begin() as conn, alembic_config(conn) as config:
            command.downgrade(config, "0003")
        down = database_rows(engine)
        assert [row[:3] for row in down["executions"]] == [("flytesnacks", "development", n) for n in ("e1", "e2", "e3")]
        assert down["executions"][:2] == before["executions"]
        down_columns = {c["name"] for c in inspect(engine).get_columns("executions")}
        assert not {"inputs_data", "user_inputs_data"} & down_columns
    finally:
        engine.dispose()


def _integer(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def _execution_data(service: AdminService, name: str) -> execution_pb2.WorkflowExecutionGetDataResponse:
    eid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    return service.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
