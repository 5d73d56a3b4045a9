"""Where an installation keeps its usage and events: in its own database (the default: `usage_rollups`,
`usage_daily`, `events`) or in ClickHouse (docs/clickhouse.md). The choice is a row of the database itself
(`installation.usage_store`), not a setting of each process: every process that opens the database (server, worker,
CLI, jobs) reads it there, so no entry point can forget it and count usage where the others do not look.
`meterline usage-store` makes the choice and moves what was stored so far (events/moves.py).

Each transaction reads the choice once, when it first needs it, so processes left running follow a move:
- on PostgreSQL it is read under a shared advisory lock (`CHOICE_LOCK`) held until the transaction ends, which a
  move takes exclusively (`lock_choice`) before anything else: the move waits for the transactions in flight that
  read the old choice, and the transactions that begin meanwhile wait for the move (up to `CHOICE_WAIT`, then the
  API answers 503 with Retry-After) and read the new choice;
- on SQLite a writer holds the only write lock from its first statement (core/db.py `begin_write`), the move too: a
  writer reads the choice the move left; a reader reads the choice of its snapshot, with the rows of that snapshot.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from meterline.core.errors import Unavailable
from meterline.events.clickhouse import ClickHouseUsage, Compacted
from meterline.events.models import Installation

USAGE_STORE = "usage_store"
INSTALLATION_ID = "installation_id"
EPOCH = "usage_epoch"  # the epoch shippers tag their rows with (events/compaction.py): str(int)
COMPACTION = "usage_compaction"  # {"through": epoch, "job": the generation being written or null, ...} (ibid.)
# A read of ClickHouse may take this long at most (events/store.py); compaction deletes the rows it replaced only
# after twice as long (events/compaction.py), so no read misses rows it stood on.
READ_LIMIT = timedelta(minutes=1)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout reached

# The key of the advisory lock guarding the choice on PostgreSQL (any fixed bigint: "usage_store" in ASCII, cut).
CHOICE_LOCK = 0x75736167655F7374
CHOICE_WAIT = "30s"  # how long a transaction waits for a move before it is answered 503
MOVE_WAIT = "10s"  # how long a move waits for the transactions in flight (requests queue behind it meanwhile)
_READ = f"SELECT value FROM installation WHERE name = '{USAGE_STORE}'"  # noqa: S608  # nosec B608 - constants only
_SHARED_READ = f"SELECT pg_try_advisory_xact_lock_shared({CHOICE_LOCK}); {_READ}"
_CHOICE = "meterline_usage_store"  # session.info: (the transaction it was read in, the store)

_stores: dict[str, ClickHouseUsage] = {}  # one per URL, each with its connections (one per thread)
_lock = threading.Lock()


def _store(url: str | None) -> ClickHouseUsage | None:
    if not url:
        return None
    with _lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = ClickHouseUsage(url)
        return store


def _read(session: Session) -> ClickHouseUsage | None:
    """The choice, read through the driver (once per transaction: SQLAlchemy's statement machinery cost ~70 us of a
    ~1.5 ms one-event ingestion on SQLite, bench/choice_read.py)."""
    driver: Any = session.connection().connection.driver_connection
    found = driver.execute(_READ).fetchone()
    store = _store(found[0] if found else None)
    _remember(session, store)
    return store


def _remember(session: Session, store: ClickHouseUsage | None) -> None:
    session.info[_CHOICE] = (session.get_transaction(), store)


def clickhouse_of(session: Session) -> ClickHouseUsage | None:
    """The installation's ClickHouse store, or None when usage and events are kept in the database itself: as this
    session's transaction read it first (module docstring)."""
    transaction = session.get_transaction()
    known = session.info.get(_CHOICE)
    if transaction is not None and known is not None and known[0] is transaction:
        return known[1]
    if session.get_bind().dialect.name == "postgresql":
        return _read_shared(session)
    return _read(session)


def _read_shared(session: Session) -> ClickHouseUsage | None:
    """PostgreSQL: the choice read under the shared lock, in one round trip: two statements in one message (psycopg
    sends a query without parameters as a simple query), the lock first and the choice in a statement of its own
    after it, since a statement reads the data committed when it began, which may be before a move that committed
    while this one took the lock."""
    driver: Any = session.connection().connection.driver_connection
    cursor = driver.cursor()
    cursor.execute(_SHARED_READ)
    took = cursor.fetchone()
    cursor.nextset()
    found = cursor.fetchone()
    if took is not None and took[0]:
        store = _store(found[0] if found else None)
        _remember(session, store)
        return store
    # A move holds the choice, or waits for it: wait for the move, for a while, then read what it left.
    if not _waited(session, func.pg_advisory_xact_lock_shared(CHOICE_LOCK), CHOICE_WAIT):
        raise Unavailable(
            "Usage and events are being moved to another store (meterline usage-store); retry shortly",
            retry_after=5,
        )
    return _read(session)


def lock_choice(session: Session, progress: Callable[[str], None]) -> ClickHouseUsage | None:
    """The choice, read fresh and held for this transaction alone until it ends (a move: events/moves.py). On
    PostgreSQL this waits for every transaction in flight that read the choice, up to MOVE_WAIT (those beginning
    meanwhile queue behind it: a transaction that holds the choice longer, a report or a bill run, is named in the
    error rather than waited for); on SQLite the caller is the writer already, which nobody else is meanwhile."""
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        select(func.pg_try_advisory_xact_lock(CHOICE_LOCK))
    ):
        progress("waiting for the transactions in flight that read where usage and events are kept")
        if not _waited(session, func.pg_advisory_xact_lock(CHOICE_LOCK), MOVE_WAIT):
            raise ValueError(
                f"transactions still read where usage and events are kept after {MOVE_WAIT} ({_holders(session)}): "
                "nothing was moved; run the move again once they end (a report, a bill run), or stop the "
                "processes that run them"
            )
    return _read(session)


def _waited(session: Session, lock: Any, timeout: str) -> bool:
    """Take the advisory `lock` (a `pg_advisory_xact_lock...` call), waiting up to `timeout`; False when it timed
    out (the transaction is then aborted: the caller raises)."""
    session.execute(text(f"SET LOCAL lock_timeout = '{timeout}'"))
    try:
        session.execute(select(lock))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return False
    session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return True


def _holders(session: Session) -> str:
    """The other backends holding the choice (a failed transaction cannot run this: read on a fresh connection)."""
    bind = session.get_bind()
    with (bind if isinstance(bind, Engine) else bind.engine).connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.pid, a.xact_start, left(a.query, 80) FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.objid = :low AND l.classid = :high"
            ),
            {"low": CHOICE_LOCK & 0xFFFFFFFF, "high": CHOICE_LOCK >> 32},
        ).all()
    return "; ".join(f"pid {pid} since {began:%H:%M:%S} ({query})" for pid, began, query in rows) or "none left"


def compacted_through(session: Session) -> Compacted:
    """The compacted generations recorded (events/compaction.py): up to the last (0 before the first), with the
    writers of those taken over."""
    return compacted_of(session.scalar(select(Installation.value).where(Installation.name == COMPACTION)))


def compacted_of(state: str | None) -> Compacted:
    """The compacted generations a read takes, from the recorded state (`installation.usage_compaction`)."""
    recorded = json.loads(state) if state else {}
    writers = {int(generation): str(writer) for generation, writer in recorded.get("writers", {}).items()}
    return Compacted(int(recorded.get("through", 0)), writers)


def choose_clickhouse(session: Session, url: str, now: datetime) -> ClickHouseUsage:
    """Record that usage is kept in the ClickHouse at `url` (checked: its schema is created first, and it must hold
    no usage yet: rows left there by an earlier move would count twice)."""
    store = ClickHouseUsage(url)
    store.create_schema()
    others = store.owned_by(installation_id(session, now))
    if others:
        raise ValueError(
            f"{store.address.without_password()} belongs to another Meterline installation already ({len(others)} "
            "other): each installation keeps its usage and events in a ClickHouse database of its own (their "
            "compactions would count each other's usage). Name another database, or drop this one "
            f"(DROP DATABASE {store.address.database}) once you have checked what it holds"
        )
    if store.holds_usage():
        raise ValueError(
            f"{store.address.without_password()} holds usage or events already (an earlier move into it, or another "
            f"installation's): move into an empty database, e.g. after DROP DATABASE {store.address.database} "
            "once you have checked what it holds (on a cluster, empty the shards' local tables instead: "
            'docs/operations.md, "A cluster")'
        )
    _start_epochs_again(session)
    row = session.get(Installation, USAGE_STORE)
    if row is None:
        session.add(Installation(name=USAGE_STORE, value=url, updated_at=now))
    else:
        row.value, row.updated_at = url, now
    session.flush()
    _remember(session, store)
    return store


def installation_id(session: Session, now: datetime) -> str:
    """This installation's id (`installation.installation_id`): how ClickHouse databases tell installations apart
    (`choose_clickhouse`). Migration 0027 makes it, outside any move (a move that fails rolls back what it wrote, and
    its next run must be the same installation to the database it claimed); made here only if it is missing."""
    row = session.get(Installation, INSTALLATION_ID)
    if row is None:
        row = Installation(name=INSTALLATION_ID, value=secrets.token_hex(16), updated_at=now)
        session.add(row)
        session.flush()
    return row.value


def choose_database(session: Session) -> None:
    """Record that usage is kept in the database itself (the default)."""
    session.execute(delete(Installation).where(Installation.name == USAGE_STORE))
    _start_epochs_again(session)
    _remember(session, None)


def _start_epochs_again(session: Session) -> None:
    session.execute(delete(Installation).where(Installation.name.in_([EPOCH, COMPACTION])))
