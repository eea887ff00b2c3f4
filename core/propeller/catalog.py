"""The task cache: outputs of cached tasks by task, cache version, interface and inputs
(Flyte's datacatalog, as FlytePropeller uses it).

A task with ``cache=True`` is looked up by a :class:`CatalogKey`: the task's project, domain
and name, its cache version, a hash of its interface and a hash of its inputs. A hit gives the
outputs an earlier execution computed, and the node succeeds without running the task. With
``cache_serialize=True`` executions computing the same key take turns: one holds a
:class:`Reservation` (datacatalog's ``GetOrExtendReservation``: an owner and an expiry that the
owner extends while it works), the others wait and look the key up again once it is released
or expired.

Hashes, as Flyte computes them (``catalog.HashLiteralMap``):

- interface hash: sha256 of the deterministic flyteidl bytes of the task's ``TypedInterface``,
  its ignored inputs left out (adding or removing an ignored input keeps the entries valid);
- inputs hash: sha256 of the deterministic bytes of a flyteidl ``LiteralMap`` of the inputs
  (map keys sorted by the serializer), the ``cache_ignore_input_vars`` left out, and every
  literal that carries a ``hash`` (a FlyteFile, an offloaded literal) replaced by just that hash,
  in collections and maps too, so the same file content under another URI still hits.

:class:`SqlCatalog` keeps entries and reservations in the propeller's store database (tables
``propeller_catalog_entries`` and ``propeller_catalog_reservations``, created by the store's
migrations), so every propeller sharing a store shares its cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from typing import Any, Protocol

import attrs
from sqlalchemy import Engine, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from flytecore.propeller.store._engine import WRITE, make_engine
from flytecore.propeller.store.migrate import ensure_schema
from flytecore.propeller.store.tables import CATALOG_KEY_COLUMNS, catalog_entries, catalog_reservations
from flytecore.spec.idl import literal_map_from_bytes, literal_map_to_bytes, to_idl
from flytecore.spec.interface import TypedInterface
from flytecore.spec.literals import LiteralMap
from flytecore.spec.tasks import TaskTemplate

__all__ = [
    "Catalog",
    "CatalogEntry",
    "CatalogKey",
    "Reservation",
    "SqlCatalog",
    "catalog_key",
    "inputs_hash",
    "interface_hash",
]

GRACE_MULTIPLIER = 3.0
"""A reservation expires this many heartbeat intervals after its last extension
(datacatalog's ``heartbeat-grace-period-multiplier``): a slow round does not lose it."""


@attrs.frozen
class CatalogKey:
    """What a cached result is stored under.

    :ivar project: the task's project.
    :ivar domain: the task's domain.
    :ivar task_name: the task's name.
    :ivar cache_version: the task's ``cache_version`` (a bump invalidates every entry).
    :ivar interface_hash: :func:`interface_hash` of the task's interface.
    :ivar inputs_hash: :func:`inputs_hash` of the inputs.
    """

    project: str
    domain: str
    task_name: str
    cache_version: str
    interface_hash: str
    inputs_hash: str

    def columns(self) -> dict[str, str]:
        """The key as column values of the catalog tables."""
        return {name: getattr(self, name) for name in CATALOG_KEY_COLUMNS}

    def __str__(self) -> str:
        return (
            f"{self.project}/{self.domain}/{self.task_name}@{self.cache_version} "
            f"(interface {self.interface_hash[:12]}, inputs {self.inputs_hash[:12]})"
        )


@attrs.frozen
class CatalogEntry:
    """A cached result.

    :ivar key: where it is stored.
    :ivar outputs: the task's outputs.
    :ivar source_execution: ``project:domain:name`` of the execution that computed them.
    :ivar source_node: the node's unique id in that execution.
    :ivar created_at: when it was stored (epoch seconds).
    """

    key: CatalogKey
    outputs: LiteralMap
    source_execution: str
    source_node: str
    created_at: float


@attrs.frozen
class Reservation:
    """Who may compute a key now (cache serialization).

    :ivar key: the key reserved.
    :ivar owner: the holder (an execution's node: ``project:domain:name/node``).
    :ivar expires_at: after this, another owner may take it over (epoch seconds).
    """

    key: CatalogKey
    owner: str
    expires_at: float

    def held_by(self, owner: str) -> bool:
        """``owner`` holds it."""
        return self.owner == owner


class Catalog(Protocol):
    """The task cache the engine uses (``Services.catalog``)."""

    def get(self, key: CatalogKey) -> CatalogEntry | None:
        """The entry stored under ``key``, or None (a miss)."""
        ...

    def put(
        self,
        key: CatalogKey,
        outputs: LiteralMap,
        *,
        source_execution: str,
        source_node: str,
        overwrite: bool = False,
        now: float | None = None,
    ) -> bool:
        """Store ``outputs`` under ``key``. An existing entry is kept (the first writer wins)
        unless ``overwrite``; returns whether this call stored its outputs."""
        ...

    def get_or_extend_reservation(
        self, key: CatalogKey, owner: str, heartbeat_interval: float, *, now: float | None = None
    ) -> Reservation:
        """Take the reservation of ``key`` for ``owner`` if it is free or expired, extend it if
        ``owner`` holds it already; either way it then expires ``heartbeat_interval`` times
        :data:`GRACE_MULTIPLIER` from ``now``. Otherwise return the other owner's reservation
        unchanged (the caller waits)."""
        ...

    def release_reservation(self, key: CatalogKey, owner: str) -> bool:
        """Give the reservation up if ``owner`` holds it; returns whether it did."""
        ...


# --- hashing ---------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def interface_hash(interface: TypedInterface, ignore: Collection[str] = ()) -> str:
    """sha256 (hex) of the deterministic flyteidl bytes of ``interface``, without the inputs
    named in ``ignore``."""
    if ignore:
        kept = {name: var for name, var in interface.inputs.items() if name not in ignore}
        interface = attrs.evolve(interface, inputs=kept)
    return _sha256(to_idl(interface).SerializeToString(deterministic=True))


def _hashify(literal: Any) -> Any:
    """A flyteidl literal with every value that carries a hash replaced by only that hash."""
    from flyteidl.core import literals_pb2

    if literal.hash:
        return literals_pb2.Literal(hash=literal.hash)
    if literal.HasField("collection"):
        items = [_hashify(item) for item in literal.collection.literals]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if literal.HasField("map"):
        entries = {name: _hashify(item) for name, item in literal.map.literals.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    return literal


def inputs_hash(inputs: LiteralMap, ignore: Collection[str] = ()) -> str:
    """sha256 (hex) of the inputs as the cache sees them (see the module docstring)."""
    from flyteidl.core import literals_pb2

    message = to_idl(inputs)
    kept = {name: _hashify(lit) for name, lit in message.literals.items() if name not in ignore}
    return _sha256(literals_pb2.LiteralMap(literals=kept).SerializeToString(deterministic=True))


def catalog_key(
    template: TaskTemplate,
    inputs: LiteralMap,
    *,
    cache_version: str | None = None,
    ignore: Collection[str] | None = None,
) -> CatalogKey:
    """The key of ``template`` run on ``inputs``.

    :param cache_version: overrides the template's ``discovery_version`` (a node override).
    :param ignore: overrides the template's ``cache_ignore_input_vars``.
    """
    meta = template.metadata
    ignored = tuple(meta.cache_ignore_input_vars if ignore is None else ignore)
    return CatalogKey(
        project=template.id.project,
        domain=template.id.domain,
        task_name=template.id.name,
        cache_version=meta.discovery_version if cache_version is None else cache_version,
        interface_hash=interface_hash(template.interface, ignored),
        inputs_hash=inputs_hash(inputs, ignored),
    )


# --- the SQL catalog -------------------------------------------------------------------------


def _key_matches(table: Any, key: CatalogKey) -> Any:
    return and_(*(table.c[name] == value for name, value in key.columns().items()))


class SqlCatalog:
    """A :class:`Catalog` in the propeller's store database (SQLite or PostgreSQL).

    Thread-safe; any number of propeller processes may share it.

    :param engine: an engine made by :func:`flytecore.propeller.store._engine.make_engine`
        with the store's schema (``SqlWorkflowStore.engine``, or use :meth:`from_url`).
    :param grace_multiplier: how many heartbeat intervals a reservation outlives its last
        extension.
    """

    def __init__(self, engine: Engine, *, grace_multiplier: float = GRACE_MULTIPLIER) -> None:
        self.engine = engine
        self.grace_multiplier = grace_multiplier
        self._owns_engine = False
        self._write_engine = engine.execution_options(**WRITE)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def from_url(cls, url: str, *, grace_multiplier: float = GRACE_MULTIPLIER) -> SqlCatalog:
        """Open the catalog in the store database at ``url``, creating or migrating its schema."""
        engine = make_engine(url)
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        catalog = cls(engine, grace_multiplier=grace_multiplier)
        catalog._owns_engine = True
        return catalog

    def close(self) -> None:
        """Release the engine's connections if :meth:`from_url` made it (a shared one stays)."""
        if self._owns_engine:
            self.engine.dispose()

    # -- entries ------------------------------------------------------------------------------

    def get(self, key: CatalogKey) -> CatalogEntry | None:
        """The entry stored under ``key``, or None."""
        c = catalog_entries.c
        query = select(c.outputs, c.source_execution, c.source_node, c.created_at).where(
            _key_matches(catalog_entries, key)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        return CatalogEntry(
            key=key,
            outputs=literal_map_from_bytes(row.outputs),
            source_execution=row.source_execution,
            source_node=row.source_node,
            created_at=row.created_at,
        )

    def put(
        self,
        key: CatalogKey,
        outputs: LiteralMap,
        *,
        source_execution: str,
        source_node: str,
        overwrite: bool = False,
        now: float | None = None,
    ) -> bool:
        """Store ``outputs`` under ``key`` (see :meth:`Catalog.put`)."""
        values = {
            "outputs": literal_map_to_bytes(outputs),
            "source_execution": source_execution,
            "source_node": source_node,
            "created_at": _now(now),
        }
        statement = self._insert(catalog_entries).values(**key.columns(), **values)
        if overwrite:
            statement = statement.on_conflict_do_update(index_elements=list(CATALOG_KEY_COLUMNS), set_=values)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(CATALOG_KEY_COLUMNS))
        # rowcount of an upsert is not reliable across drivers; a returned row is.
        with self._write_engine.begin() as conn:
            return conn.execute(statement.returning(catalog_entries.c.task_name)).first() is not None

    # -- reservations -------------------------------------------------------------------------

    def get_or_extend_reservation(
        self, key: CatalogKey, owner: str, heartbeat_interval: float, *, now: float | None = None
    ) -> Reservation:
        """Take, extend or report the reservation of ``key`` (see :meth:`Catalog`)."""
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        now = _now(now)
        expires = now + heartbeat_interval * self.grace_multiplier
        table = catalog_reservations
        insert = self._insert(table).values(**key.columns(), owner=owner, expires_at=expires, updated_at=now)
        # One statement: a free key is inserted; a held one is taken over only if it is ours or
        # expired (the conflict's WHERE), so two takers never both win.
        statement = insert.on_conflict_do_update(
            index_elements=list(CATALOG_KEY_COLUMNS),
            set_={"owner": owner, "expires_at": expires, "updated_at": now},
            where=(table.c.owner == owner) | (table.c.expires_at <= now),
        ).returning(table.c.owner, table.c.expires_at)
        with self._write_engine.begin() as conn:
            row = conn.execute(statement).first()
            if row is None:  # another owner holds it: report theirs
                row = conn.execute(
                    select(table.c.owner, table.c.expires_at).where(_key_matches(table, key))
                ).one()
        return Reservation(key=key, owner=row.owner, expires_at=row.expires_at)

    def release_reservation(self, key: CatalogKey, owner: str) -> bool:
        """Give up ``owner``'s reservation of ``key``; False if it did not hold it."""
        table = catalog_reservations
        statement = delete(table).where(_key_matches(table, key), table.c.owner == owner)
        with self._write_engine.begin() as conn:
            return bool(conn.execute(statement).rowcount == 1)


def _now(now: float | None) -> float:
    return time.time() if now is None else now
