"""The shipper: usage batches (and the events stored with them) from the outbox to ClickHouse (docs/clickhouse.md),
in every `meterline serve` and `meterline worker` of an installation that keeps usage there.

One round, in one transaction: take up to `limit` batches, oldest first (on PostgreSQL `FOR UPDATE SKIP LOCKED`,
so that several processes ship different batches at once; SQLite's writer holds its only write lock), insert their
events in one INSERT and their usage rows in another, tagged with the shipping epoch (read with a share lock that
compaction waits for: events/compaction.py), then delete them and commit. ClickHouse failing leaves the batches where
they are for the next round. A process dying after ClickHouse's acknowledgement and before the commit leaves them
too: the next round ships the same rows under the same names ((batch, seq) for usage, (pk, version) for events),
which every read counts once.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.background import BackgroundLoop
from meterline.core.db import unit_of_work
from meterline.events.clickhouse import ClickHouseUsage, UsageRow
from meterline.events.clickhouse_events import ClickHouseEvents
from meterline.events.compaction import shipping_epoch
from meterline.events.models import UsageOutbox
from meterline.events.usage_store import clickhouse_of

log = logging.getLogger("meterline.shipper")

BATCHES_PER_ROUND = 500


def ship_once(factory: sessionmaker[Session], limit: int = BATCHES_PER_ROUND) -> int:
    """Ship up to `limit` outbox batches in a transaction of their own; returns how many were shipped (0 when
    usage is not in ClickHouse)."""
    with unit_of_work(factory, write=False) as session:  # no write lock (SQLite) where there is nothing to ship
        if clickhouse_of(session) is None:
            return 0
    with unit_of_work(factory) as session:
        clickhouse = clickhouse_of(session)  # read again: a move may have ended in between (usage_store.py)
        return 0 if clickhouse is None else ship(session, clickhouse, limit)


def ship(session: Session, clickhouse: ClickHouseUsage, limit: int) -> int:
    """Ship up to `limit` outbox batches within `session`'s transaction (the caller commits)."""
    stmt = (
        select(UsageOutbox.id, UsageOutbox.org_id, UsageOutbox.payload, UsageOutbox.events)
        .order_by(UsageOutbox.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    batches = [(b.id, b.org_id, b.payload, b.events) for b in session.execute(stmt)]
    if not batches:
        return 0
    ClickHouseEvents(clickhouse).insert(
        [(org_id, batch, row) for batch, org_id, _, events in batches if events for row in json.loads(events)]
    )
    _insert(clickhouse, batches, shipping_epoch(session))
    session.execute(delete(UsageOutbox).where(UsageOutbox.id.in_([b[0] for b in batches])))
    return len(batches)


def _insert(clickhouse: ClickHouseUsage, batches: list[tuple[str, str, str, str | None]], epoch: int) -> None:
    rows: list[UsageRow] = []
    for batch, org_id, payload, _ in batches:
        for seq, (account_pk, meter_id, bucket, quantity, events) in enumerate(json.loads(payload)):
            rows.append((org_id, account_pk, meter_id, bucket, Decimal(quantity), events, batch, seq))
    clickhouse.insert(rows, epoch)


class UsageShipper(BackgroundLoop):
    thread_name = "meterline-shipper"
    what = "usage shipping"
    log: ClassVar[logging.Logger] = log

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval)
        self.factory = factory

    def round(self) -> bool:
        return ship_once(self.factory) == BATCHES_PER_ROUND
