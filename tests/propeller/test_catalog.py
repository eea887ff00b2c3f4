"""The task cache: the SQL catalog on SQLite and PostgreSQL, and the hashing rules of its keys."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from flyteidl.core import literals_pb2
from sqlalchemy import inspect, select

from flytecore.propeller.catalog import CatalogKey, SqlCatalog, catalog_key, inputs_hash, interface_hash
from flytecore.propeller.store import SqlWorkflowStore
from flytecore.propeller.store.tables import catalog_entries, catalog_reservations
from flytecore.spec.identifiers import Identifier, ResourceType
from flytecore.spec.interface import TypedInterface, Variable
from flytecore.spec.literals import Literal, LiteralMap, Primitive, Scalar
from flytecore.spec.tasks import TaskMetadata, TaskTemplate
from flytecore.spec.types import LiteralType, SimpleType
from tests.conftest import PostgresServer
from tests.propeller.store.conftest import new_postgres_database


def integer(value: int, **kw: object) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(integer=value)), **kw)  # type: ignore[arg-type]


def text(value: str, **kw: object) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(string_value=value)), **kw)  # type: ignore[arg-type]


def key(**changes: str) -> CatalogKey:
    base = CatalogKey("p", "development", "wf.square", "1", "i" * 64, "a" * 64)
    return attrs.evolve(base, **changes)


OUTPUTS = LiteralMap(literals={"o0": integer(9), "note": text("nine")})


# --- the SQL catalog, on both databases --------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_catalog_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """One PostgreSQL database with the store schema for this module."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = new_postgres_database(server)
    try:
        SqlCatalog.from_url(server.url(name)).close()
        yield server.url(name)
    finally:
        server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlCatalog]:
    """An empty catalog of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'propeller.db'}"
    else:
        url = request.getfixturevalue("postgres_catalog_url")
    opened = SqlCatalog.from_url(url)
    with opened.engine.begin() as conn:
        conn.execute(catalog_entries.delete())
        conn.execute(catalog_reservations.delete())
    try:
        yield opened
    finally:
        opened.close()


def test_a_stored_entry_is_found_under_its_key_only(catalog: SqlCatalog) -> None:
    assert catalog.get(key()) is None
    assert catalog.put(key(), OUTPUTS, source_execution="p:development:e1", source_node="n0", now=100.0)
    entry = catalog.get(key())
    assert entry is not None
    assert entry.outputs == OUTPUTS
    assert (entry.source_execution, entry.source_node, entry.created_at) == ("p:development:e1", "n0", 100.0)
    # Every part of the key matters.
    for field, other in [
        ("project", "q"),
        ("domain", "production"),
        ("task_name", "wf.cube"),
        ("cache_version", "2"),
        ("interface_hash", "j" * 64),
        ("inputs_hash", "b" * 64),
    ]:
        assert catalog.get(key(**{field: other})) is None, field


def test_outputs_are_stored_as_flyteidl_literal_map_bytes(catalog: SqlCatalog) -> None:
    catalog.put(key(), OUTPUTS, source_execution="e1", source_node="n0")
    with catalog.engine.connect() as conn:
        raw = conn.execute(select(catalog_entries.c.outputs)).scalar_one()
    message = literals_pb2.LiteralMap.FromString(raw)
    assert message.literals["o0"].scalar.primitive.integer == 9
    assert message.literals["note"].scalar.primitive.string_value == "nine"


def test_the_first_writer_wins_unless_overwriting(catalog: SqlCatalog) -> None:
    other = LiteralMap(literals={"o0": integer(10), "note": text("ten")})
    assert catalog.put(key(), OUTPUTS, source_execution="e1", source_node="n0")
    assert not catalog.put(key(), other, source_execution="e2", source_node="n0")
    entry = catalog.get(key())
    assert entry is not None and entry.outputs == OUTPUTS and entry.source_execution == "e1"
    assert catalog.put(key(), other, source_execution="e3", source_node="n4", overwrite=True, now=200.0)
    entry = catalog.get(key())
    assert entry is not None and entry.outputs == other
    assert (entry.source_execution, entry.source_node, entry.created_at) == ("e3", "n4", 200.0)


def test_a_reservation_is_held_extended_expired_and_released(catalog: SqlCatalog) -> None:
    mine = catalog.get_or_extend_reservation(key(), "e1/n0", 10.0, now=1000.0)
    assert mine.held_by("e1/n0") and mine.expires_at == 1000.0 + 10.0 * catalog.grace_multiplier
    # Someone else is shown the holder's reservation, unchanged.
    theirs = catalog.get_or_extend_reservation(key(), "e2/n0", 10.0, now=1001.0)
    assert theirs.owner == "e1/n0" and not theirs.held_by("e2/n0") and theirs.expires_at == mine.expires_at
    # The holder extends it.
    extended = catalog.get_or_extend_reservation(key(), "e1/n0", 10.0, now=1020.0)
    assert extended.held_by("e1/n0") and extended.expires_at == 1020.0 + 30.0
    # Other keys are free.
    assert catalog.get_or_extend_reservation(key(inputs_hash="b" * 64), "e2/n0", 10.0, now=1021.0).held_by(
        "e2/n0"
    )
    # Only the holder can release it.
    assert not catalog.release_reservation(key(), "e2/n0")
    assert catalog.get_or_extend_reservation(key(), "e2/n0", 10.0, now=1022.0).owner == "e1/n0"
    # Once it expires, another owner takes it over.
    taken = catalog.get_or_extend_reservation(key(), "e2/n0", 10.0, now=extended.expires_at)
    assert taken.held_by("e2/n0")
    assert not catalog.release_reservation(key(), "e1/n0")
    assert catalog.release_reservation(key(), "e2/n0")
    assert catalog.get_or_extend_reservation(key(), "e3/n0", 10.0, now=1100.0).held_by("e3/n0")


def test_concurrent_takers_of_a_free_reservation_agree_on_one_owner(catalog: SqlCatalog) -> None:
    barrier = threading.Barrier(8)
    owners: list[str] = []
    errors: list[BaseException] = []

    def take(name: str) -> None:
        barrier.wait()
        try:
            owners.append(catalog.get_or_extend_reservation(key(), name, 10.0, now=500.0).owner)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(f"e{i}/n0",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(owners) == 8 and len(set(owners)) == 1


def test_a_bad_heartbeat_interval_is_refused(catalog: SqlCatalog) -> None:
    with pytest.raises(ValueError, match="heartbeat_interval"):
        catalog.get_or_extend_reservation(key(), "e1/n0", 0.0)


def test_the_catalog_lives_in_the_store_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'propeller.db'}"
    with SqlWorkflowStore.from_url(url) as store:
        names = set(inspect(store.engine).get_table_names())
        assert {"propeller_catalog_entries", "propeller_catalog_reservations"} <= names
        SqlCatalog(store.engine).put(key(), OUTPUTS, source_execution="e1", source_node="n0")
    own = SqlCatalog.from_url(url)
    try:
        entry = own.get(key())
        assert entry is not None and entry.outputs == OUTPUTS
    finally:
        own.close()


# --- hashing -----------------------------------------------------------------------------------


INT = LiteralType(simple=SimpleType.INTEGER)
STR = LiteralType(simple=SimpleType.STRING)


def template(**metadata: object) -> TaskTemplate:
    return TaskTemplate(
        id=Identifier(
            resource_type=ResourceType.TASK, project="p", domain="development", name="wf.square", version="v1"
        ),
        type="python-task",
        metadata=TaskMetadata(discoverable=True, discovery_version="1", **metadata),  # type: ignore[arg-type]
        interface=TypedInterface(
            inputs={"x": Variable(type=INT), "log": Variable(type=STR)}, outputs={"o0": Variable(type=INT)}
        ),
    )


def test_no_inputs_hash_to_the_sha256_of_an_empty_literal_map() -> None:
    assert inputs_hash(LiteralMap()) == hashlib.sha256(b"").hexdigest()


def test_the_inputs_hash_does_not_depend_on_the_order_of_the_inputs() -> None:
    forward = LiteralMap(literals={"a": integer(1), "b": text("x"), "c": integer(3)})
    backward = LiteralMap(literals={"c": integer(3), "b": text("x"), "a": integer(1)})
    assert list(forward.literals) != list(backward.literals)
    assert inputs_hash(forward) == inputs_hash(backward)
    assert inputs_hash(forward) != inputs_hash(
        LiteralMap(literals={"a": integer(1), "b": text("x"), "c": integer(4)})
    )
    # Names are part of the hash, not only the values.
    assert inputs_hash(LiteralMap(literals={"a": integer(1)})) != inputs_hash(
        LiteralMap(literals={"b": integer(1)})
    )


def test_ignored_inputs_do_not_change_the_inputs_hash() -> None:
    one = LiteralMap(literals={"x": integer(3), "log": text("/tmp/a")})
    two = LiteralMap(literals={"x": integer(3), "log": text("/tmp/b")})
    assert inputs_hash(one) != inputs_hash(two)
    assert inputs_hash(one, ignore=["log"]) == inputs_hash(two, ignore=["log"])
    assert inputs_hash(one, ignore=["log"]) == inputs_hash(LiteralMap(literals={"x": integer(3)}))
    three = LiteralMap(literals={"x": integer(4), "log": text("/tmp/a")})
    assert inputs_hash(one, ignore=["log"]) != inputs_hash(three, ignore=["log"])


def test_a_literal_with_a_hash_counts_by_its_hash_alone() -> None:
    # Two files with the same content at different places: the same hash, the same key.
    a = LiteralMap(literals={"f": text("s3://bucket/one", hash="abc123")})
    b = LiteralMap(literals={"f": text("s3://bucket/two", hash="abc123")})
    assert inputs_hash(a) == inputs_hash(b)
    assert inputs_hash(a) != inputs_hash(LiteralMap(literals={"f": text("s3://bucket/one", hash="def456")}))
    assert inputs_hash(a) != inputs_hash(LiteralMap(literals={"f": text("s3://bucket/one")}))
    # Inside collections and maps too.
    nested = [
        LiteralMap(literals={"fs": Literal(collection=(integer(1), text(uri, hash="h1")))})
        for uri in ("/data/x", "/data/y")
    ]
    assert inputs_hash(nested[0]) == inputs_hash(nested[1])
    mapped = [
        LiteralMap(literals={"m": Literal(map={"k": text(uri, hash="h2")})}) for uri in ("/data/x", "/data/y")
    ]
    assert inputs_hash(mapped[0]) == inputs_hash(mapped[1])
    assert inputs_hash(mapped[0]) != inputs_hash(
        LiteralMap(literals={"m": Literal(map={"k": text("/data/x", hash="h3")})})
    )


def test_the_interface_hash_covers_the_interface_without_ignored_inputs() -> None:
    base = template().interface
    assert interface_hash(base) == interface_hash(attrs.evolve(base))
    more_outputs = attrs.evolve(base, outputs={**base.outputs, "o1": Variable(type=STR)})
    retyped = attrs.evolve(base, inputs={**base.inputs, "x": Variable(type=STR)})
    assert len({interface_hash(base), interface_hash(more_outputs), interface_hash(retyped)}) == 3
    without_log = attrs.evolve(base, inputs={"x": base.inputs["x"]})
    assert interface_hash(base, ignore=["log"]) == interface_hash(without_log)
    assert interface_hash(base) != interface_hash(without_log)


def test_the_key_of_a_task_run() -> None:
    inputs = LiteralMap(literals={"x": integer(3), "log": text("/tmp/a")})
    k = catalog_key(template(), inputs)
    assert (k.project, k.domain, k.task_name, k.cache_version) == ("p", "development", "wf.square", "1")
    assert k.inputs_hash == inputs_hash(inputs) and k.interface_hash == interface_hash(template().interface)
    assert catalog_key(template(), inputs, cache_version="2").cache_version == "2"
    assert catalog_key(attrs.evolve(template(), metadata=TaskMetadata(discovery_version="2")), inputs) != k
    # The task's ignored inputs leave both hashes.
    ignoring = template(cache_ignore_input_vars=("log",))
    other_log = LiteralMap(literals={"x": integer(3), "log": text("/tmp/b")})
    assert catalog_key(ignoring, inputs) == catalog_key(ignoring, other_log)
    assert catalog_key(template(), inputs) != catalog_key(template(), other_log)
