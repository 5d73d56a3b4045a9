"""Where an installation keeps its usage: in its own database (the default: `usage_rollups`, `usage_daily`) or in
ClickHouse (docs/clickhouse.md). The choice is a row of the database itself (`installation.usage_store`), not a
setting of each process: every process that opens the database (server, worker, CLI, jobs) reads it there, so no
entry point can forget it and count usage where the others do not look. `meterline usage-store` makes the choice
(and moves the usage already counted); processes read it once, when they first need it, so they are restarted
after a change (docs/scaling.md).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, text, tuple_
from sqlalchemy.orm import Session

from meterline.events.clickhouse import EPOCH, ClickHouseUsage, micros
from meterline.events.models import Installation, UsageDaily, UsageRollup

USAGE_STORE = "usage_store"

_chosen: weakref.WeakKeyDictionary[Engine, ClickHouseUsage | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _engine(session: Session) -> Engine:
    bind: Any = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def clickhouse_of(session: Session) -> ClickHouseUsage | None:
    """The installation's ClickHouse usage store, or None when usage is kept in the database itself."""
    engine = _engine(session)
    try:
        return _chosen[engine]
    except KeyError:
        pass
    url = session.scalar(select(Installation.value).where(Installation.name == USAGE_STORE))
    store = ClickHouseUsage(url) if url else None
    with _lock:
        return _chosen.setdefault(engine, store)


def choose_clickhouse(session: Session, url: str, now: datetime) -> ClickHouseUsage:
    """Record that usage is kept in the ClickHouse at `url` (checked: its schema is created first)."""
    store = ClickHouseUsage(url)
    store.create_schema()
    row = session.get(Installation, USAGE_STORE)
    if row is None:
        session.add(Installation(name=USAGE_STORE, value=url, updated_at=now))
    else:
        row.value, row.updated_at = url, now
    session.flush()
    forget(session)
    return store


MOVE_CHUNK = 50_000


def move_to_clickhouse(session: Session, url: str, now: datetime, progress: Callable[[int], None]) -> int:
    """Keep the installation's usage in the ClickHouse at `url` from now on, moving the usage counted so far (the
    15-minute rollups of every organization) there first; returns how many rollup rows moved.

    One transaction: the rollups are read, written to ClickHouse, deleted, and the choice recorded, then committed by
    the caller. Each moved row is named after its own key (batch `moved.<pk>`), so a move that fails after ClickHouse
    took some rows and is run again writes the same names, and reads count them once. The app processes are stopped
    meanwhile (docs/scaling.md): a process that still believed usage was in the database would write rollups there.
    """
    store = choose_clickhouse(session, url, now)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE usage_rollups, usage_daily IN EXCLUSIVE MODE"))
    moved, after = 0, ("", "", "", EPOCH)
    key = (UsageRollup.org_id, UsageRollup.account_pk, UsageRollup.meter_id, UsageRollup.bucket_start)
    while True:
        rows = session.execute(
            select(*key, UsageRollup.quantity, UsageRollup.events)
            .where(tuple_(*key) > tuple_(*after))
            .order_by(*key)
            .limit(MOVE_CHUNK)
        ).all()
        if not rows:
            break
        store.insert(
            [
                (org, account, meter, micros(bucket), quantity, events, f"moved.{account}.{meter}.{micros(bucket)}", 0)
                for org, account, meter, bucket, quantity, events in rows
            ]
        )
        moved += len(rows)
        progress(moved)
        after = tuple(rows[-1][:4])  # type: ignore[assignment]
    session.execute(delete(UsageRollup))
    session.execute(delete(UsageDaily))
    return moved


def forget(session: Session) -> None:
    """Read the choice again at the next use (in this process)."""
    with _lock:
        _chosen.pop(_engine(session), None)
