"""Engine, sessions and the portable column types every model uses.

- SQLite (default, WAL) and PostgreSQL through psycopg 3 (`postgresql+psycopg://`; `postgresql://` is read the same).
- `ExactDecimal`: NUMERIC on PostgreSQL, TEXT on SQLite (SQLite's NUMERIC affinity would turn values into floats).
- `UTCDateTime`: timestamptz on PostgreSQL; on SQLite a fixed-width UTC text that sorts in time order.
  Naive datetimes are refused on the way in; values come back UTC-aware on both engines.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, Numeric, Select, String, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from meterline.core.clock import UTC
from meterline.core.money import to_decimal


def normalize_database_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not pysqlite, opens transactions (see _sqlite_begin), so that writers can take the lock first.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Ingestion rewrites the same index pages batch after batch: a larger page cache and a WAL checkpointed every
    # ~40 MB instead of ~4 MB write each hot page back once per many commits (docs/performance.md).
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Straight to the driver: every request begins a transaction, and SQLAlchemy's statement machinery costs ten
    # times the BEGIN itself. Its errors (a busy database) become SQLAlchemy's, as for any statement.
    statement = "BEGIN IMMEDIATE" if connection.get_execution_options().get(_IMMEDIATE, False) else "BEGIN"
    try:
        connection.connection.driver_connection.execute(statement)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, (), exc, sqlite3.Error, dialect=connection.dialect) from exc


_IMMEDIATE = "meterline_sqlite_immediate"


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_HELD = "meterline_write_lock"
WRITE_LOCK_WAIT = 30  # seconds


_BEGAN = "meterline_transaction_began"


@event.listens_for(Session, "after_begin")
def _stamp_transaction(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[_BEGAN] = time.monotonic()


def snapshot_since(session: Session) -> float | None:
    """When (time.monotonic) the data this session reads dates from, where the whole transaction reads one snapshot
    (a SQLite reader: from its first statement, which comes after the transaction began); None where each statement
    reads afresh (PostgreSQL, READ COMMITTED) or no one else writes meanwhile (a SQLite writer holds the only write
    lock)."""
    if session.get_bind().dialect.name != "sqlite" or session.info.get(_HELD):
        return None
    began = session.info.get(_BEGAN)
    return float(began) if began is not None else None


def queues_writers(session: Session) -> bool:
    """Does `begin_write` do anything for this session's database (SQLite), or nothing (PostgreSQL)?"""
    return session.get_bind().dialect.name == "sqlite"


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer.

    On SQLite a transaction that reads and then writes can fail at once with 'database is locked' when another
    writer committed in between; taking the write lock first (BEGIN IMMEDIATE) makes writers queue instead.
    Writers of one process also queue on a Python lock first: SQLite's own busy handler polls with sleeps of up to
    100 ms, so under load a waiting writer would wake long after the lock was free. PostgreSQL needs nothing.
    Call it before the first statement of a unit of work that writes; the lock goes when the transaction ends.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or session.info.get(_HELD):
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    if not lock.acquire(timeout=WRITE_LOCK_WAIT):
        # As SQLite itself would answer after its busy timeout (the API answers 503, retry).
        raise OperationalError("BEGIN IMMEDIATE", None, Exception(f"database is locked ({WRITE_LOCK_WAIT} s)"))
    session.info[_HELD] = lock
    try:
        session.connection(execution_options={_IMMEDIATE: True})
    except BaseException:
        session.info.pop(_HELD).release()
        raise


@event.listens_for(Session, "after_transaction_end")
def _release_write_lock(session: Session, transaction: Any) -> None:
    if transaction.parent is None and _HELD in session.info:
        session.info.pop(_HELD).release()


def create_db_engine(url: str) -> Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        # A request holds its connection from its first statement to its end. With more requests at once than the
        # pool keeps, the pool opens extra connections and closes them on return: each new one runs the PRAGMAs
        # above (journal mode, cache...), which cost more than a cheap read itself (docs/performance.md). 16 kept
        # (each page cache fills only with what it reads), up to 40 at once: the thread pool's size.
        parsed = make_url(url)
        in_memory = parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
        pooled = {} if in_memory else {"pool_size": 16, "max_overflow": 24}  # (memory: one connection per thread)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooled)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Up to 30 connections, each kept once opened: with 10 kept and 20 more under bursts (as before), every burst
    # past 10 requests at once opened connections and closed them on return, and opening one (a server process
    # forked, authentication) costs more than the requests it serves; under load that churn fed itself.
    engine = create_engine(url, pool_size=30, max_overflow=0)
    event.listen(engine, "checkout", _pinger(engine.dialect))
    event.listen(engine, "checkin", _rested_from)
    event.listen(engine, "begin", _reads_begin)
    event.listen(engine, "before_cursor_execute", _reads_only_while_select)
    return engine


# PostgreSQL: a read's unit of work that ran only SELECTs ends with COMMIT rather than ROLLBACK (`close_read`). Both
# end it alike (nothing was written; a lock a SELECT took is released either way), but psycopg forgets every prepared
# statement of the connection at a ROLLBACK (and deallocates them: a round trip), so the hot reads' statements
# (core/prepared.py, prepared on the server at their first run on a connection) would be parsed and planned again on
# every request: planning was most of PostgreSQL's work for a read (docs/performance.md). What ran is judged as
# SQLAlchemy sends it: only a compiled SELECT keeps the transaction a read; anything else (an INSERT, UPDATE, DELETE,
# a flush, text SQL, driver SQL) makes it end with ROLLBACK, as every read did before. `Prepared` runs SELECTs only;
# `PreparedWrite` (driver SQL that SQLAlchemy does not see) calls `mark_written`.
_READS_ONLY = "meterline_reads_only"


def mark_written(connection: Any) -> None:
    """The connection's transaction ran something other than a SELECT: `close_read` ends it with ROLLBACK."""
    connection.info[_READS_ONLY] = False


def _reads_begin(connection: Any) -> None:
    connection.info[_READS_ONLY] = True


def _reads_only_while_select(
    connection: Any, _cursor: Any, _statement: Any, _parameters: Any, context: Any, _executemany: bool
) -> None:
    if connection.info.get(_READS_ONLY):
        compiled = getattr(context, "compiled", None)
        if compiled is None or not isinstance(compiled.statement, Select):
            connection.info[_READS_ONLY] = False


def close_read(session: Session) -> None:
    """End a unit of work that must write nothing (a read request): rolled back, or on PostgreSQL committed when it
    ran only SELECTs (see above), and the session closed."""
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        changed = session.new or session.dirty or session.deleted  # what a commit would flush: never
        if not changed and session.connection().info.get(_READS_ONLY):
            session.commit()
    session.close()


# PostgreSQL connections are tested before use only when they rested: a connection taken again within a second of
# its last use is handed out as it is. Testing every checkout (SQLAlchemy's pool_pre_ping) cost a round trip to the
# server on every request, besides the read's own (BEGIN, 3 or 4 statements, ROLLBACK; docs/performance.md). A
# connection that rested is one a restart of the server may have broken meanwhile; one in steady use that breaks
# fails its statement (the request answers 503) and is discarded (tests/service/test_connections.py).
PING_AFTER_REST = 1.0  # seconds
_RETURNED_AT = "meterline_returned_at"


def _rested_from(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _pinger(dialect: Any) -> Any:
    def ping_if_rested(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned < PING_AFTER_REST:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError(f"connection lost: {exc}") from exc  # the pool opens another (3 tries)
            raise

    return ping_if_rested


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise.

    Only the edges (a request, a job, a CLI command) open one; services and repositories never commit.
    """
    session = factory()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        exact = to_decimal(value)
        if dialect.name == "sqlite":
            return str(exact)
        return exact

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


def sqlite_time(value: datetime) -> str:
    """How `UTCDateTime` stores an aware datetime on SQLite: UTC, fixed width (the year padded to 4 digits,
    microseconds always there), so text order is time order. Also for hot paths that write through the driver."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(sep=" ", timespec="microseconds")[:26]  # without its "+00:00"


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: Meterline stores UTC-aware datetimes only")
        if dialect.name == "sqlite":
            return sqlite_time(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        moment: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}
