"""Where an installation keeps its usage: in its own database (the default: `usage_rollups`, `usage_daily`) or in
ClickHouse (docs/clickhouse.md). The choice is a row of the database itself (`installation.usage_store`), not a
setting of each process: every process that opens the database (server, worker, CLI, jobs) reads it there, so no
entry point can forget it and count usage where the others do not look. `meterline usage-store` makes the choice
(and moves the usage already counted: events/moves.py); processes read it once, when they first need it, so they
are restarted after a change (docs/scaling.md).
"""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from meterline.events.clickhouse import ClickHouseUsage
from meterline.events.models import Installation

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


def choose_database(session: Session) -> None:
    """Record that usage is kept in the database itself (the default)."""
    session.execute(delete(Installation).where(Installation.name == USAGE_STORE))
    forget(session)


def forget(session: Session) -> None:
    """Read the choice again at the next use (in this process)."""
    with _lock:
        _chosen.pop(_engine(session), None)
