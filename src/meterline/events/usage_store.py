"""Where an installation keeps its usage: in its own database (the default: `usage_rollups`, `usage_daily`) or in
ClickHouse (docs/clickhouse.md). The choice is a row of the database itself (`installation.usage_store`), not a
setting of each process: every process that opens the database (server, worker, CLI, jobs) reads it there, so no
entry point can forget it and count usage where the others do not look. `meterline usage-store` makes the choice
(and moves the usage already counted: events/moves.py); processes read it once, when they first need it, so they
are restarted after a change (docs/scaling.md).
"""

from __future__ import annotations

import json
import threading
import weakref
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from meterline.events.clickhouse import ClickHouseUsage
from meterline.events.models import Installation

USAGE_STORE = "usage_store"
EPOCH = "usage_epoch"  # the epoch shippers tag their rows with (events/compaction.py): str(int)
COMPACTION = "usage_compaction"  # {"through": epoch, "job": the generation being written or null, ...} (ibid.)
# A read of ClickHouse may take this long at most (events/store.py); compaction deletes the rows it replaced only
# after twice as long (events/compaction.py), so no read misses rows it stood on.
READ_LIMIT = timedelta(minutes=1)

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


def compacted_through(session: Session) -> int:
    """The last compacted generation recorded (events/compaction.py); 0 before the first."""
    state = session.scalar(select(Installation.value).where(Installation.name == COMPACTION))
    return int(json.loads(state)["through"]) if state else 0


def choose_clickhouse(session: Session, url: str, now: datetime) -> ClickHouseUsage:
    """Record that usage is kept in the ClickHouse at `url` (checked: its schema is created first, and it must hold
    no usage yet: rows left there by an earlier move would count twice)."""
    store = ClickHouseUsage(url)
    store.create_schema()
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
    forget(session)
    return store


def choose_database(session: Session) -> None:
    """Record that usage is kept in the database itself (the default)."""
    session.execute(delete(Installation).where(Installation.name == USAGE_STORE))
    _start_epochs_again(session)
    forget(session)


def _start_epochs_again(session: Session) -> None:
    session.execute(delete(Installation).where(Installation.name.in_([EPOCH, COMPACTION])))


def forget(session: Session) -> None:
    """Read the choice again at the next use (in this process)."""
    with _lock:
        _chosen.pop(_engine(session), None)
