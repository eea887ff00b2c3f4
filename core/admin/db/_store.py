"""The generic half of the repository: transactions, keys, inserts, updates, upserts, pages.

Every public repository call is one transaction: it commits as a whole or leaves nothing
behind. Uniqueness is the database's job (primary keys and unique indexes); a create that hits
one is reported as :class:`AlreadyExists`, so two admins racing to create the same row are
safe without a check-then-insert.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, Literal, NamedTuple, Protocol, TypeVar

from sqlalchemy import ColumnElement, Engine, Select, bindparam, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flytecore.admin.db import models as m
from flytecore.admin.db.engine import WRITE
from flytecore.admin.db.errors import AlreadyExists, ConcurrentUpdate, InvalidPageToken, NotFound
from flytecore.admin.db.filters import Sort, order_by, parse_filters

__all__ = ["MAX_LIMIT", "Page", "NamedEntityId", "Key", "describe"]

T = TypeVar("T")
M = TypeVar("M", bound=m.Base)

Key = dict[str, Any]
"""A primary key as column name -> value."""


class Page(NamedTuple, Generic[T]):
    """One page of a list: the rows and the token of the next page ("" on the last page)."""

    rows: list[T]
    next_token: str


class NamedEntityId(NamedTuple):
    """A task, workflow or launch plan without its version (flyteidl NamedEntityIdentifier)."""

    project: str
    domain: str
    name: str


def describe(model: type[m.Base], key: Mapping[str, Any]) -> str:
    """A row's id as people read it, for error messages."""
    if model is m.Project:
        return str(key["id"])
    if model in (m.Task, m.Workflow, m.LaunchPlan):
        return f"{key['project']}/{key['domain']}/{key['name']}@{key['version']}"
    if model is m.Execution:
        return f"{key['project']}/{key['domain']}/{key['name']}"
    execution = f"{key['execution_project']}/{key['execution_domain']}/{key['execution_name']}"
    if model is m.NodeExecution:
        return f"{execution} node {key['node_id']}"
    if model is m.Signal:
        return f"{key['signal_id']!r} of execution {execution}"
    task = f"{key['task_project']}/{key['task_domain']}/{key['task_name']}@{key['task_version']}"
    return f"{execution} node {key['node_id']} task {task} attempt {key['retry_attempt']}"


def constraint_violated(exc: IntegrityError) -> Literal["unique", "foreign_key"] | None:
    """Which constraint a write broke, from the driver's error code (never from the message)."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate == "23505":
        return "unique"
    if sqlstate == "23503":
        return "foreign_key"
    name = getattr(orig, "sqlite_errorname", "")  # sqlite3, Python 3.11+
    if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return "foreign_key"
    return None


@functools.cache
def _columns(model: type[m.Base]) -> tuple[str, ...]:
    return tuple(c.name for c in m.table_of(model).columns)


@functools.cache
def _primary_key(model: type[m.Base]) -> tuple[str, ...]:
    return tuple(c.name for c in m.table_of(model).primary_key.columns)


@functools.cache
def _frozen(model: type[m.Base]) -> frozenset[str]:
    return frozenset({*_primary_key(model), "created_at"})


def key_of(row: m.Base) -> Key:
    """The primary key of a row object."""
    return {name: getattr(row, name) for name in _primary_key(type(row))}


def values_of(row: m.Base) -> dict[str, Any]:
    """The column values set on a row object; unset columns are left to their defaults."""
    state = inspect(row).dict
    return {name: state[name] for name in _columns(type(row)) if name in state}


def where_key(model: type[m.Base], key: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """Conditions selecting exactly the row with ``key`` (on the table's columns: cheaper to
    build than the ORM attributes' and the same SQL)."""
    columns = m.table_of(model).c
    return [columns[name] == value for name, value in key.items()]


# Statements by shape, built once: building one (coercing every clause, computing its cache key)
# costs more than running it on SQLite. Parameters are bound by name: k_<key column>,
# e_<expected column>, v_<changed column>.


@functools.cache
def _select_by_key(model: type[m.Base], names: tuple[str, ...]) -> Select[Any]:
    columns = m.table_of(model).c
    return select(model).where(*(columns[n] == bindparam(f"k_{n}") for n in names))


@functools.cache
def _select_row_by_key(model: type[m.Base], names: tuple[str, ...]) -> Select[Any]:
    """Like :func:`_select_by_key` for a plain connection: the table's columns as a Row."""
    table = m.table_of(model)
    return select(table).where(*(table.c[n] == bindparam(f"k_{n}") for n in names))


@functools.cache
def _insert_into(model: type[m.Base]) -> Any:
    return insert(m.table_of(model))


@functools.cache
def _update_where(
    model: type[m.Base], keys: tuple[str, ...], expect: tuple[str, ...], nulls: tuple[str, ...], values: tuple[str, ...]
) -> Any:
    """``UPDATE .. SET values WHERE keys = .. AND expect = .. AND nulls IS NULL``: an expected
    None is part of the shape (``= NULL`` would match nothing)."""
    columns = m.table_of(model).c
    conditions = [columns[n] == bindparam(f"k_{n}") for n in keys]
    conditions += [columns[n] == bindparam(f"e_{n}") for n in expect]
    conditions += [columns[n].is_(None) for n in nulls]
    return update(m.table_of(model)).where(*conditions).values({n: bindparam(f"v_{n}", type_=columns[n].type) for n in values})


class Executor(Protocol):
    """Runs a statement in a transaction: an ORM session, or the event path's WriteTransaction."""

    def execute(self, statement: Any, params: Any, /) -> Any: ...


def update_row(executor: Executor, model: type[m.Base], key: Key, changes: Mapping[str, Any], expect: Mapping[str, Any]) -> None:
    """Set ``changes`` (and ``updated_at``) on the row ``key`` if its columns equal ``expect``,
    in the caller's transaction.

    :raises NotFound: no such row. :raises ConcurrentUpdate: ``expect`` did not hold.
    """
    values = dict(changes)
    if "updated_at" in _columns(model):
        values.setdefault("updated_at", m.utcnow())
    equal = {name: value for name, value in expect.items() if value is not None}
    nulls = tuple(name for name, value in expect.items() if value is None)
    stmt = _update_where(model, tuple(key), tuple(equal), nulls, tuple(values))
    params = {**_params("k", key), **_params("e", equal), **_params("v", values)}
    if executor.execute(stmt, params).rowcount == 0:
        if executor.execute(_select_row_by_key(model, tuple(key)), _params("k", key)).first() is None:
            raise NotFound(model.ENTITY, describe(model, key))
        raise ConcurrentUpdate(model.ENTITY, describe(model, key), expected=dict(expect))


def _params(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{name}": value for name, value in values.items()}


MAX_LIMIT = 10_000
"""Most rows one page may hold; more are paged with the token."""
# Offsets the databases can take (a signed 64-bit OFFSET); any token this repository hands out is
# far below it.
_MAX_OFFSET = 2**63 - 1


def _parse_token(token: str, limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidPageToken(f"limit must be a number from 1 to {MAX_LIMIT}, got {limit}; page through more with the token")
    if token == "":
        return 0
    # ASCII digits only: str.isdigit() also accepts digits int() cannot read ("²").
    if not (token.isascii() and token.isdigit()) or len(token) > 19 or int(token) > _MAX_OFFSET:
        shown = token if len(token) <= 40 else token[:40] + "…"
        raise InvalidPageToken(f"invalid page token {shown!r}: pass the next_token of the previous page")
    return int(token)


_PARENT: dict[type[m.Base], tuple[type[m.Base], list[str]]] = {
    m.NodeExecution: (m.Execution, ["execution_project", "execution_domain", "execution_name"]),
    m.Signal: (m.Execution, ["execution_project", "execution_domain", "execution_name"]),
    m.TaskExecution: (
        m.NodeExecution,
        ["execution_project", "execution_domain", "execution_name", "node_id"],
    ),
}


def _missing_parent(model: type[m.Base], values: Mapping[str, Any]) -> NotFound:
    parent, columns = _PARENT[model]
    key = dict(zip(_primary_key(parent), (values[c] for c in columns), strict=True))
    return NotFound(parent.ENTITY, describe(parent, key))


def check_updatable(model: type[m.Base], changes: Mapping[str, Any], expect: Mapping[str, Any]) -> None:
    """:raises TypeError: a name in ``changes``/``expect`` is not an updatable column of ``model``."""
    columns = _columns(model)
    unknown = {name for name in (*changes, *expect) if name not in columns}
    frozen = _frozen(model).intersection(changes)
    if unknown or frozen:
        raise TypeError(f"cannot update {model.__name__} columns {sorted(unknown | frozen)}")


class Store:
    """Transactions and the generic row operations the typed :class:`Repository` builds on."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        bind = sessions.kw["bind"]
        assert isinstance(bind, Engine), "the repository's sessions are bound to one engine"
        self._engine = bind

    @property
    def engine(self) -> Engine:
        """The engine the sessions are bound to."""
        return self._engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options=WRITE)
            yield session

    def insert(self, row: M, *, load: bool = True) -> M:
        """Insert ``row`` and return it as stored (None without ``load``: spares reading it back).

        :raises AlreadyExists: a row with its key exists (left unchanged).
        :raises NotFound: the execution / node execution it belongs to does not exist.
        """
        model, values = type(row), values_of(row)
        try:
            with self.write() as session:
                if not load:
                    session.execute(_insert_into(model), values)
                    return None  # type: ignore[return-value]
                return self.insert_in(session, model, values)
        except IntegrityError as exc:
            raise self.translate(exc, model, values) from None

    def insert_in(self, session: Session, model: type[M], values: Mapping[str, Any]) -> M:
        """Insert a row of ``values`` within the caller's transaction and return it as stored.

        A plain INSERT, never an ORM merge: a row object that was read earlier must still be
        reported as a duplicate, not silently turned into an update.
        """
        session.execute(_insert_into(model), dict(values))
        return self.one(session, model, {name: values[name] for name in _primary_key(model)})

    def upsert(self, row: M) -> M:
        """Insert ``row``, or replace every column of the stored row but ``created_at``.

        Atomic (``INSERT .. ON CONFLICT DO UPDATE``): concurrent upserts of one key never fail.
        """
        model, values = type(row), values_of(row)
        if "updated_at" in _columns(model):
            values["updated_at"] = m.utcnow()
        keep = {*_primary_key(model), "created_at"}
        try:
            with self.write() as session:
                make_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
                stmt = make_insert(m.table_of(model)).values(**values)
                stmt = stmt.on_conflict_do_update(
                    index_elements=_primary_key(model),
                    set_={name: stmt.excluded[name] for name in _columns(model) if name not in keep},
                )
                session.execute(stmt)
                return self.one(session, model, key_of(row))
        except IntegrityError as exc:
            raise self.translate(exc, model, values) from None

    def update(
        self,
        model: type[M],
        key: Key,
        changes: Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
        before: Callable[[Session, Key], None] | None = None,
        *,
        load: bool = True,
    ) -> M:
        """Set ``changes`` on the row ``key`` if its columns currently equal ``expect``; returns
        the row as stored (None without ``load``: spares reading it back).

        ``expect`` makes read-check-write safe against a concurrent writer (e.g. two events for
        one execution): the update happens only if the row still looks as the caller read it.
        ``before`` runs first in the same transaction (e.g. deactivating other versions).

        :raises NotFound: no such row. :raises ConcurrentUpdate: ``expect`` did not hold.
        :raises TypeError: a name in ``changes``/``expect`` is not an updatable column.
        """
        expect = expect or {}
        check_updatable(model, changes, expect)
        with self.write() as session:
            if before is not None:
                before(session, key)
            update_row(session, model, key, changes, expect)
            return self.one(session, model, key) if load else None  # type: ignore[return-value]

    def get(self, model: type[M], key: Key) -> M:
        """The row with ``key``. :raises NotFound: there is none."""
        with self.read() as session:
            return self.one(session, model, key)

    def exists(self, model: type[m.Base], key: Key) -> bool:
        """Whether a row with ``key`` exists (a fresh read, outside any write)."""
        with self.read() as session:
            return session.execute(select(1).where(*where_key(model, key))).first() is not None

    @staticmethod
    def one(session: Session, model: type[M], key: Key) -> M:
        """Load the row with ``key`` in ``session``. :raises NotFound: there is none."""
        row = session.execute(_select_by_key(model, tuple(key)), _params("k", key)).scalar_one_or_none()
        if row is None:
            raise NotFound(model.ENTITY, describe(model, key))
        return row

    @staticmethod
    def translate(exc: IntegrityError, model: type[m.Base], values: Mapping[str, Any]) -> Exception:
        """The repository error for a failed insert, or ``exc`` itself if it is another fault."""
        kind = constraint_violated(exc)
        key = {name: values.get(name) for name in _primary_key(model)}
        if kind == "unique":
            return AlreadyExists(model.ENTITY, describe(model, key))
        if kind == "foreign_key" and model in _PARENT:
            return _missing_parent(model, values)
        return exc

    def page(
        self,
        model: type[M],
        conditions: list[ColumnElement[bool]],
        filters: str,
        sort: Sort | None,
        default_sort: Sort,
        limit: int,
        token: str,
    ) -> Page[M]:
        """One page of ``model`` rows matching ``conditions`` and the ``filters`` string.

        Filters, sort key and token are checked before the database is asked anything.
        """
        stmt = select(model).where(*conditions, *parse_filters(filters, model))
        stmt = stmt.order_by(*order_by(model, sort, default_sort))
        offset = _parse_token(token, limit)
        with self.read() as session:
            # One row more than asked tells whether there is a next page without a COUNT.
            rows = list(session.execute(stmt.offset(offset).limit(limit + 1)).scalars())
        more = len(rows) > limit
        return Page(rows[:limit], str(offset + limit) if more else "")

    def page_of_tuples(self, stmt: Select[*tuple[Any, ...]], limit: int, token: str) -> Page[Any]:
        """Like :meth:`page` for a ready-made, ordered select of tuples."""
        offset = _parse_token(token, limit)
        with self.read() as session:
            rows = list(session.execute(stmt.offset(offset).limit(limit + 1)))
        more = len(rows) > limit
        return Page(rows[:limit], str(offset + limit) if more else "")
