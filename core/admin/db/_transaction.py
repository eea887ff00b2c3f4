"""A write transaction for event ingestion: the reads and writes by key it makes many times a
second, run on the database driver's own connection.

Why not SQLAlchemy's execution: its per-statement work (an ORM session, or even a Core
connection's execution context, events and result objects) costs ~20-30 µs a statement, ten
times what SQLite itself takes. Here SQLAlchemy compiles each statement shape once per engine
for its dialect (the SQL, the parameter order, the types' bind and result processors: UTC
timestamps, JSON), and the statement then runs on the driver's cursor. The connection comes from
the engine's pool (its connect hooks and pre-ping apply); driver errors are raised as
SQLAlchemy's (``sqlalchemy.exc.OperationalError``, ...), constraint violations as the
repository's.

A batch of events touches the same few records many times (a task's node and task execution,
five events on two rows): in :meth:`WriteTransaction.write_back` mode each record is read once,
changed in memory by every event of the batch, and written once when the block ends.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Boolean, Dialect, Engine, Float, Integer, LargeBinary, bindparam, insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from flytecore.admin.db import models as m
from flytecore.admin.db._store import (
    Key,
    Store,
    _columns,
    _primary_key,
    _select_row_by_key,
    describe,
    update_row,
)
from flytecore.admin.db.errors import AlreadyExists, ConcurrentUpdate, NotFound

__all__ = ["Statements", "WriteTransaction"]


class _Prepared:
    """One statement compiled for one dialect."""

    __slots__ = ("_ordered", "binds", "names", "positional", "results", "row_type", "selected", "sql")

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        self.names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self.binds = [(name, p) for name, p in processors.items() if p is not None]
        # The positional parameters in order, read by one C call (a statement runs thousands of
        # times a second during event ingestion).
        self._ordered: Callable[[Mapping[str, Any]], Any] | None = None
        if self.positional and self.names:
            getter = operator.itemgetter(*self.names)
            self._ordered = getter if len(self.names) > 1 else lambda values: (getter(values),)
        self.selected = list(getattr(stmt, "selected_columns", ()))
        # Set from the first result's columns (their driver type codes choose the processors).
        self.row_type: Any = None
        self.results: list[tuple[int, Callable[[Any], Any]]] = []

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = dict(params)
        for name, process in self.binds:
            values[name] = process(values[name])
        if self.positional:
            return self._ordered(values) if self._ordered is not None else ()
        return values

    def make_row(self, values: Any, description: Any, dialect: Dialect) -> Any:
        if self.row_type is None:
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(self.selected, description, strict=True)
            ]
            self.results = [(i, p) for i, p in enumerate(processors) if p is not None]
            self.row_type = namedtuple("Row", [column.name for column in self.selected])  # type: ignore[misc]
        values = list(values)
        for i, process in self.results:
            values[i] = process(values[i])
        return self.row_type._make(values)


class Statements:
    """The statements of one engine, compiled once for its dialect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._prepared: dict[Any, _Prepared] = {}

    def __getitem__(self, stmt: Any) -> _Prepared:
        prepared = self._prepared.get(stmt)
        if prepared is None:
            prepared = self._prepared[stmt] = _Prepared(stmt, self.dialect)
        return prepared


class _Result:
    __slots__ = ("cursor", "prepared", "statements")

    def __init__(self, cursor: Any, prepared: _Prepared, statements: Statements) -> None:
        self.cursor, self.prepared, self.statements = cursor, prepared, statements

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)

    def first(self) -> Any:
        values = self.cursor.fetchone()
        if values is None:
            return None
        return self.prepared.make_row(values, self.cursor.description, self.statements.dialect)


@functools.cache
def _insert_of(model: type[m.Base], names: tuple[str, ...]) -> Any:
    table = m.table_of(model)
    return insert(table).values({n: bindparam(n, type_=table.c[n].type) for n in names})


@functools.cache
def _defaults(model: type[m.Base]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """The Python-side column defaults of ``model`` (what SQLAlchemy would fill in on insert)."""
    found = []
    for column in m.table_of(model).columns:
        default = column.default
        if default is None:
            continue
        if getattr(default, "is_callable", False):
            found.append((column.name, functools.partial(default.arg, None)))  # type: ignore[attr-defined]
        elif getattr(default, "is_scalar", False):
            found.append((column.name, functools.partial(lambda value: value, default.arg)))  # type: ignore[attr-defined]
        else:
            raise TypeError(
                f"{model.__name__}.{column.name}: only Python-side column defaults are supported here"
            )
    return tuple(found)


def _utc(value: dt.datetime) -> dt.datetime:
    """What models.UTCDateTime reads back (naive values are taken as UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# The first kind a column's type is an instance of decides.
_READ_AS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (m.UTCDateTime, _utc),
    (Boolean, bool),
    (Integer, int),
    (Float, float),
    (LargeBinary, bytes),
)


@functools.cache
def _as_read(model: type[m.Base]) -> dict[str, Callable[[Any], Any]]:
    """Per column of ``model`` whose written value may read back differently: the conversion
    that gives the value as a SELECT would (UTC timestamps; bool, int, float and bytes for the
    driver's own types). JSON values are kept as given."""
    found: dict[str, Callable[[Any], Any]] = {}
    for column in m.table_of(model).columns:
        for kind, convert in _READ_AS:
            if isinstance(column.type, kind):
                found[column.name] = convert
                break
    return found


def _read_back(model: type[m.Base], values: Mapping[str, Any]) -> dict[str, Any]:
    convert = _as_read(model)
    return {
        name: value if value is None or name not in convert else convert[name](value)
        for name, value in values.items()
    }


def _ident(model: type[m.Base], key: Mapping[str, Any]) -> tuple[Any, ...]:
    """A record's identity in a write-back buffer (whatever the order of ``key``'s names)."""
    return (model, _key_values(model)(key))


@functools.cache
def _key_values(model: type[m.Base]) -> Callable[[Mapping[str, Any]], Any]:
    """Reads the primary key's values out of a key or row mapping, in the key's column order."""
    return operator.itemgetter(*_primary_key(model))


@functools.cache
def _row_type(model: type[m.Base]) -> Any:
    """The named tuple of a buffered row: every column, as :meth:`WriteTransaction.row` gives them."""
    return namedtuple("Row", _columns(model))


class _Record:
    """One record in a write-back buffer: as the batch has it now, and what to write."""

    __slots__ = ("changes", "expect", "key", "model", "new", "row")

    def __init__(self, model: type[m.Base], key: Key, row: Any) -> None:
        self.model, self.key = model, key
        self.row: Any = row
        """The batch's current version of the row (a named tuple), None: there is none."""
        self.new = False
        """Inserted in this batch: written with one INSERT of its final values."""
        self.expect: dict[str, Any] | None = None
        """The ``expect`` of the record's first update (of the row as read): the flush's condition."""
        self.changes: dict[str, Any] = {}
        """The columns the batch changed on an existing row, with their final values."""


class WriteTransaction:
    """Reads and writes by primary key within one write transaction (:meth:`open`).

    Rows come back as read-only named tuples whose attributes are the columns (``row.phase``,
    ``row.closure``), with the values SQLAlchemy would give (UTC timestamps, decoded JSON).
    Within :meth:`write_back`, they read and write a buffer written out when the block ends.

    After a statement the database refused (an insert hitting a key or a missing parent),
    PostgreSQL refuses every further statement of the transaction: leave the block with the
    error, which rolls it back, and start a new one.
    """

    def __init__(self, cursor: Any, statements: Statements) -> None:
        self._cursor = cursor
        self._statements = statements
        self._buffer: dict[tuple[Any, ...], _Record] | None = None

    @classmethod
    @contextmanager
    def open(cls, statements: Statements) -> Iterator[WriteTransaction]:
        """A write transaction on a pooled connection: committed when the block ends, rolled
        back if it raises."""
        pooled = statements.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            tx = cls(cursor, statements)
            try:
                if statements.dialect.name == "sqlite":
                    # As flytecore._db begins every write: take the write lock up front (a deferred
                    # transaction that reads first can fail with "database is locked" without waiting).
                    tx._run("BEGIN IMMEDIATE", cursor.execute)
                try:
                    yield tx
                except BaseException:
                    driver.rollback()
                    raise
                tx._run("COMMIT", lambda _: driver.commit())
            finally:
                cursor.close()
        finally:
            pooled.close()  # back to the pool, which resets it

    @classmethod
    @contextmanager
    def open_read(cls, statements: Statements) -> Iterator[WriteTransaction]:
        """Reads by key on a pooled connection, for a single read the API serves often
        (GetExecution, polled by every client waiting for an execution). Only :meth:`row` and
        :meth:`execute` of SELECTs belong in it; whatever the driver began is rolled back."""
        pooled = statements.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            try:
                yield cls(cursor, statements)
            finally:
                cursor.close()
                driver.rollback()
        finally:
            pooled.close()

    def _run(self, sql: str, call: Callable[[str], Any]) -> None:
        try:
            call(sql)
        except self._statements.error as exc:
            raise DBAPIError.instance(sql, None, exc, self._statements.error) from exc

    def execute(self, stmt: Any, params: Mapping[str, Any]) -> _Result:
        """Run a statement (one of the cached shapes) with ``params`` by bind name."""
        prepared = self._statements[stmt]
        try:
            self._cursor.execute(prepared.sql, prepared.parameters(params))
        except self._statements.error as exc:
            raise DBAPIError.instance(prepared.sql, dict(params), exc, self._statements.error) from exc
        return _Result(self._cursor, prepared, self._statements)

    @contextmanager
    def write_back(self) -> Iterator[None]:
        """Within the block, :meth:`row`, :meth:`insert` and :meth:`update` work on a buffer: the
        first :meth:`row` of a key reads it, later ones return the block's current version of the
        row with no statement; inserts and updates change the buffered row (checking ``expect``
        and raising as the database would). When the block ends, each record is written once, in
        the order they were first touched: a new one with one INSERT of its final values, an
        existing one with one UPDATE of all its changes, conditional on the ``expect`` of its first
        update (the values read). A write that fails then (the key taken, the row changed by
        another writer or gone, a missing parent) raises out of the block: leave the transaction
        with it, which rolls everything back. If the block raises, nothing buffered is written.

        :meth:`execute` is not buffered: it neither sees nor writes the buffered rows.
        """
        assert self._buffer is None, "write_back blocks do not nest"
        self._buffer = {}
        try:
            yield
            buffer, self._buffer = self._buffer, None
            assert buffer is not None
            for record in buffer.values():
                if record.new:
                    self._insert(record.model, record.row._asdict())
                elif record.expect is not None:
                    update_row(self, record.model, record.key, record.changes, record.expect)
        finally:
            self._buffer = None

    def _record(self, model: type[m.Base], key: Key) -> _Record:
        """The buffered record of ``key``, read on its first use."""
        assert self._buffer is not None
        ident = _ident(model, key)
        record = self._buffer.get(ident)
        if record is None:
            record = self._buffer[ident] = _Record(model, key, self._select(model, key))
        return record

    def row(self, model: type[m.Base], key: Key) -> Any:
        """The row with ``key`` (a named tuple of its columns), or None."""
        if self._buffer is None:
            return self._select(model, key)
        return self._record(model, key).row

    def _select(self, model: type[m.Base], key: Key) -> Any:
        return self.execute(
            _select_row_by_key(model, tuple(key)), {f"k_{n}": v for n, v in key.items()}
        ).first()

    def insert(self, model: type[m.Base], values: Mapping[str, Any]) -> None:
        """Insert a row of ``values``; unset columns get their defaults.

        :raises AlreadyExists: a row with its key exists.
        :raises NotFound: the execution / node execution it belongs to does not exist.
        """
        if self._buffer is None:
            self._insert(model, values)
            return
        # Buffered: a key already read (or inserted) here is checked now, any other at the flush.
        key = {name: values[name] for name in _primary_key(model)}
        ident = _ident(model, key)
        record = self._buffer.get(ident)
        if record is None:
            record = self._buffer[ident] = _Record(model, key, None)
        elif record.row is not None:
            raise AlreadyExists(model.ENTITY, describe(model, key))
        row = dict.fromkeys(_columns(model))
        row.update(_read_back(model, values))
        for name, default in _defaults(model):
            if name not in values:
                row[name] = default()
        record.row, record.new = _row_type(model)(**row), True

    def _insert(self, model: type[m.Base], values: Mapping[str, Any]) -> None:
        row = dict(values)
        for name, default in _defaults(model):
            if name not in row:
                row[name] = default()
        try:
            self.execute(_insert_of(model, tuple(row)), row)
        except IntegrityError as exc:
            raise Store.translate(exc, model, values) from None

    def update(
        self, model: type[m.Base], key: Key, changes: Mapping[str, Any], expect: Mapping[str, Any]
    ) -> None:
        """Set ``changes`` on the row ``key`` if its columns still equal ``expect`` (``updated_at``
        too, unless given). Column names are the caller's own, not checked.

        :raises NotFound: no such row. :raises ConcurrentUpdate: ``expect`` did not hold.
        """
        if self._buffer is None:
            update_row(self, model, key, changes, expect)
            return
        record = self._record(model, key)
        row = record.row
        if row is None:
            raise NotFound(model.ENTITY, describe(model, key))
        for name, value in expect.items():  # as the UPDATE's WHERE: = value, or IS NULL for None
            current = getattr(row, name)
            if current is not None if value is None else current != value:
                raise ConcurrentUpdate(model.ENTITY, describe(model, key), expected=dict(expect))
        values = _read_back(model, changes)
        if "updated_at" in row._fields:
            values.setdefault("updated_at", m.utcnow())
        record.row = row._replace(**values)
        if not record.new:
            if record.expect is None:
                record.expect = dict(expect)
            record.changes.update(values)
