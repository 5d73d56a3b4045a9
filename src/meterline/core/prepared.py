"""Statements of the hot read paths, compiled once per dialect and run through the database driver.

Running a statement through SQLAlchemy costs about 0.2 ms of Python on SQLite (0.4 ms on PostgreSQL) besides the
query itself, which for a lookup by key takes a few hundredths of that: building the statement, its cache key,
the execution context, the ORM's loading. The requests a product sends on each of its own requests (an account,
its entitlements, a check: docs/performance.md) make 3 to 5 such lookups, so that overhead was most of their time.

`Prepared` takes a SELECT built once (columns, not entities; parameters as `bindparam`), compiles it for the
session's dialect the first time, and afterwards hands its SQL text straight to the driver's cursor, converting
parameters and results with the column types' own processors, exactly as SQLAlchemy would (UTC date-times, exact
decimals, JSON). Unchanged:
- the unit of work: the statement runs on the session's connection, in its transaction (`session.connection()`
  begins it as any statement would: `BEGIN` on SQLite), after the session flushed what it holds;
- errors: the driver's exceptions become SQLAlchemy's (`OperationalError` -> 503, ...), as for any statement, and
  a lost connection is discarded.
Not supported, to stay simple: IN lists (`expanding` parameters); use one statement per size, or SQLAlchemy.

`PreparedWrite` does the same for an INSERT or UPDATE of a hot write path (`POST /entitled`'s consumption): one
`executemany` of its rows, with the columns' conversions; it marks the transaction as written (core/db.py).

`columns(Model)` and `load(Model, row, start)` select a model's columns and make an instance of them, as a closed
session would have left it: presenters and rules read it like any loaded row.

`json_rows(Model, ...)` (PostgreSQL) is a subquery giving the rows of another table as one JSON value, so that a read
gets what hangs on its row (an account's aliases and settings) in the same statement: on PostgreSQL every statement
is a round trip, which cost more than the lookup (docs/performance.md). `from_json(Model, value)` loads them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Dialect,
    Integer,
    ScalarSelect,
    Select,
    String,
    Text,
    cast,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.sqltypes import NullType

from meterline.core.db import ExactDecimal, UTCDateTime, mark_written

M = TypeVar("M")
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional parameters (SQLite's `?`), in order; None: named (psycopg)
    binds: Mapping[str, Callable[[Any], Any]]
    constants: Mapping[str, Any]  # parameters the statement holds a value for (e.g. `status == ACTIVE`)


class _Statement:
    """A statement built once, compiled per dialect, run through the driver's cursor (see the module's docstring)."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        named = {name: bind for bind, name in compiled.bind_names.items()}  # as the SQL text names them
        if any(bind.expanding for bind in named.values()):
            raise ValueError("Prepared statements take no IN lists (expanding parameters)")
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in named.items()}
        return _Compiled(
            sql=compiled.string,
            names=tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None,
            binds={name: processor for name, processor in binds.items() if processor is not None},
            constants={name: bind.effective_value for name, bind in named.items() if not bind.required},
        )

    def _prepare(self, session: Session) -> tuple[Any, Any, Dialect, _Compiled]:
        """After the session flushed what it holds (as any query of the session would): the driver's connection,
        SQLAlchemy's, the dialect and the compiled statement."""
        if session.autoflush:  # nothing to do when nothing is pending
            session.flush()
        driver, connection, dialect = _driver(session)
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return driver, connection, dialect, compiled

    @staticmethod
    def _values(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        binds = compiled.binds
        if compiled.constants:
            params = {**compiled.constants, **params}
        if binds:
            params = {k: (binds[k](v) if k in binds else v) for k, v in params.items()}
        return tuple(params[name] for name in compiled.names) if compiled.names is not None else params

    @staticmethod
    def _failed(
        session: Session, driver: Any, dialect: Dialect, cursor: Any, compiled: _Compiled, values: Any, exc: Any
    ) -> StatementError:
        lost = dialect.is_disconnect(exc, driver, cursor)
        if lost:  # as SQLAlchemy does for its statements: the pool never hands this connection out again
            session.connection().invalidate(exc)
        error: StatementError = DBAPIError.instance(
            compiled.sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
        )
        return error


class Prepared(_Statement):
    def __init__(self, statement: Select[Any]) -> None:
        super().__init__(statement)
        self._processors: dict[str, tuple[Processor, ...] | None] = {}

    def _results(self, dialect: Dialect, description: Sequence[Sequence[Any]]) -> tuple[Processor, ...] | None:
        """Each column's conversion, as SQLAlchemy chooses it: from the column's type and the type the driver
        reports for it (PostgreSQL's numeric, say); None when no column needs one."""
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(self.statement.selected_columns, description, strict=True)
        )
        return processors if any(processors) else None

    def all(self, session: Session, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """The rows, as tuples of the selected columns' values."""
        driver, _connection, dialect, compiled = self._prepare(session)
        values = self._values(compiled, params)
        cursor = driver.cursor()
        try:
            if dialect.name == "postgresql":
                # Prepared on the server at its first run on a connection, then only bound and run: planning was
                # most of PostgreSQL's work for these lookups. (A read ends with COMMIT to keep it: core/db.py.)
                cursor.execute(compiled.sql, values, prepare=True)
            else:
                cursor.execute(compiled.sql, values)
            rows: list[Sequence[Any]] = cursor.fetchall()
            if dialect.name in self._processors:
                processors = self._processors[dialect.name]
            else:
                processors = self._processors[dialect.name] = self._results(dialect, cursor.description)
        except dialect.loaded_dbapi.Error as exc:
            raise self._failed(session, driver, dialect, cursor, compiled, values, exc) from exc
        finally:
            cursor.close()
        if processors is None:
            return rows
        return [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in rows]

    def first(self, session: Session, params: Mapping[str, Any]) -> Sequence[Any] | None:
        rows = self.all(session, params)
        return rows[0] if rows else None


class PreparedWrite(_Statement):
    """An INSERT, UPDATE or DELETE built once (values as `bindparam`), run through the driver like `Prepared`, in the
    session's transaction. The transaction then counts as written: a read request's unit of work that ran one ends
    with ROLLBACK (core/db.py `close_read`). The session's identity map is not told: the caller expires what it holds
    of the rows changed (or holds none)."""

    def run(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement once per mapping of parameters (one `executemany`); the rows it touched."""
        if not rows:
            return 0
        driver, connection, dialect, compiled = self._prepare(session)
        mark_written(connection)
        values = [self._values(compiled, params) for params in rows]
        cursor = driver.cursor()
        try:
            if len(values) == 1 and dialect.name == "postgresql":
                cursor.execute(compiled.sql, values[0], prepare=True)
            elif len(values) == 1:
                cursor.execute(compiled.sql, values[0])
            else:
                cursor.executemany(compiled.sql, values)
            count: int = cursor.rowcount
        except dialect.loaded_dbapi.Error as exc:
            raise self._failed(session, driver, dialect, cursor, compiled, values, exc) from exc
        finally:
            cursor.close()
        return count


_DRIVER = "meterline.prepared.driver"


def _driver(session: Session) -> tuple[Any, Any, Dialect]:
    """The driver's connection of the session's transaction (begun as for any statement: `BEGIN` on SQLite),
    SQLAlchemy's, and the dialect; asked of SQLAlchemy once per transaction (asking costs about as much as a lookup
    by key). The transaction is remembered by a weak reference: it refers to the session, so a strong one in the
    session's `info` would make every request's session, transaction and connection a reference cycle, freed only by
    the garbage collector's passes, whose pauses were most of the server's p99 (docs/performance.md, Session 8)."""
    transaction = session.get_transaction()
    known = session.info.get(_DRIVER)
    if transaction is not None and known is not None and known[0]() is transaction:
        return known[1], known[2], known[3]
    connection = session.connection()
    found = (connection.connection.driver_connection, connection, connection.dialect)
    session.info[_DRIVER] = (weakref.ref(session.get_transaction()), *found)
    return found


def columns(model: type[Any]) -> list[Any]:
    """Every mapped column of `model`, in the mapper's order: select them, then `load` the row."""
    return [getattr(model, key) for key in _keys(model)]


def load(model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The instance of `model` whose `columns` start at `row[start]`, as if loaded by a session now closed:
    presenters and rules read it like any loaded row. It is in no session (a read changes nothing). Its values go
    straight into the instance's state, as the ORM's loading does (through the constructor, each attribute would
    fire its events: 7 times slower)."""
    keys = _keys(model)
    instance: M = inspect(model).class_manager.new_instance()
    instance_state(instance).dict.update(zip(keys, row[start : start + len(keys)], strict=True))
    make_transient_to_detached(instance)
    return instance


def loaded(model: type[M], values: Mapping[str, Any]) -> M:
    """`load` from a mapping of attribute names to values (every column of the model)."""
    return load(model, [values[key] for key in _keys(model)])


_KEYS: dict[type[Any], tuple[str, ...]] = {}


def _keys(model: type[Any]) -> tuple[str, ...]:
    keys = _KEYS.get(model)
    if keys is None:
        keys = _KEYS[model] = tuple(attr.key for attr in inspect(model).column_attrs)
    return keys


# -- rows as JSON (PostgreSQL) ---------------------------------------------------------------------------------------
def _from_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _from_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _as_is(value: Any) -> Any:
    return value


def _conversion(model: type[Any], column: Any) -> Callable[[Any], Any]:
    """How a column's value comes back from JSON: decimals travel as text (a JSON number would become a float),
    date-times as ISO text (read back as UTC). Other types are refused: their JSON form is not checked here."""
    kind = column.type
    if isinstance(kind, NullType) and column.foreign_keys:  # a foreign key, typed by the column it refers to
        kind = next(iter(column.foreign_keys)).column.type
    if isinstance(kind, ExactDecimal):
        return _from_decimal
    if isinstance(kind, UTCDateTime):
        return _from_time
    if isinstance(kind, (String, Text, Integer, Boolean)):
        return _as_is
    raise ValueError(f"{model.__name__}.{column.key}: {kind!r} has no JSON form here")


def json_rows(model: type[Any], *where: ColumnElement[bool], order_by: Sequence[Any]) -> ScalarSelect[Any]:
    """PostgreSQL: the rows of `model` matching `where` (correlated to the enclosing statement), in `order_by`, as
    one JSON array of arrays of its columns (NULL when none); `from_json` turns it into instances."""
    values = [cast(c, Text) if isinstance(c.type, ExactDecimal) else c for c in columns(model)]
    aggregated = func.json_agg(aggregate_order_by(func.json_build_array(*values), *order_by))
    return select(aggregated).where(*where).scalar_subquery()


_CONVERSIONS: dict[type[Any], list[Callable[[Any], Any]]] = {}


def from_json(model: type[M], value: Sequence[Sequence[Any]] | None) -> list[M]:
    """The instances of a `json_rows` value, as `load` makes them."""
    if not value:
        return []
    conversions = _CONVERSIONS.get(model)
    if conversions is None:  # (on first use: a foreign key's type is known once every table is)
        conversions = _CONVERSIONS[model] = [_conversion(model, column) for column in columns(model)]
    return [load(model, [convert(v) for convert, v in zip(conversions, row, strict=True)]) for row in value]
