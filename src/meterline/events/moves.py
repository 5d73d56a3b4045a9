"""Moving an installation's usage between its own database and ClickHouse (`meterline usage-store`,
docs/scaling.md), both ways, each in one transaction of the relational database, with the app processes stopped.
Neither loses or doubles a quantity: into ClickHouse, only an empty database is taken, and a move that fails empties
it again (so that running it again starts from nothing); back into the
database, ClickHouse is only read (each batch once, as every read does) and the database's transaction either
commits the whole move, the outbox's waiting batches included, or nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.orm import Session

from meterline.events.clickhouse import EPOCH, ClickHouseError, ClickHouseUsage, from_micros, micros
from meterline.events.compaction import hold
from meterline.events.models import UsageDaily, UsageOutbox, UsageRollup
from meterline.events.store import EventStore, UsageKey
from meterline.events.usage_store import (
    choose_clickhouse,
    choose_database,
    clickhouse_of,
    forget,
)
from meterline.tenancy.models import Organization

log = logging.getLogger(__name__)

MOVE_CHUNK = 50_000
WINDOW = timedelta(days=31)  # usage moved back a month of buckets at a time, per organization


def move_to_clickhouse(session: Session, url: str, now: datetime, progress: Callable[[int], None]) -> int:
    """Keep the installation's usage in the ClickHouse at `url` from now on, moving the usage counted so far (the
    15-minute rollups of every organization) there first; returns how many rollup rows moved.

    One transaction: the rollups are read, written to ClickHouse, deleted, and the choice recorded, then committed by
    the caller. ClickHouse's database must hold no usage yet (rows left there by an earlier life would count twice);
    a move that fails after ClickHouse took some rows empties it again, so that running it again starts from nothing
    (if ClickHouse cannot be reached for that, the next run says the database holds usage). The app
    processes are stopped meanwhile (docs/scaling.md): a process that still believed usage was in the database would
    write rollups there.
    """
    store = choose_clickhouse(session, url, now)
    try:
        return _copy_rollups(session, store, progress)
    except BaseException:
        try:
            store.empty()
        except ClickHouseError as exc:  # the move's own error is the one to raise; the next run refuses the database
            log.warning("usage move: the rows it wrote to ClickHouse are still there: %s", exc)
        raise


def _copy_rollups(session: Session, store: ClickHouseUsage, progress: Callable[[int], None]) -> int:
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


def move_to_database(session: Session, now: datetime, progress: Callable[[int], None]) -> int:
    """Keep the installation's usage in its own database from now on, moving the usage kept in ClickHouse (and the
    outbox's batches not shipped yet) into the 15-minute rollups and the organizations' local days, as ingestion
    writes them; returns how many buckets were written. ClickHouse keeps its copy (drop its database once the move
    is checked). Raises ValueError when usage is already in the database."""
    forget(session)  # read the choice from the database, not from what this process believed
    store = clickhouse_of(session)
    if store is None:
        raise ValueError("usage is already kept in the database itself")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE usage_outbox, usage_rollups, usage_daily IN EXCLUSIVE MODE"))
    waiting = session.execute(select(UsageOutbox.org_id, UsageOutbox.id, UsageOutbox.payload)).all()
    leave_out = [batch for _, batch, _ in waiting]
    compacted = hold(session)  # a compactor left running elsewhere waits: no row this move reads is deleted
    spans = store.spans()
    choose_database(session)  # from here on, EventStore.add_usage writes the rollups
    moved = 0
    for org_id, timezone in session.execute(select(Organization.id, Organization.timezone).order_by(Organization.id)):
        usage = EventStore(session, org_id)
        tz = ZoneInfo(timezone)
        if org_id in spans:
            low, high = spans[org_id]
            start = from_micros(low)
            while start <= from_micros(high):
                end = start + WINDOW
                increments: dict[UsageKey, tuple[Decimal, int]] = {
                    (account, meter, from_micros(bucket)): (quantity, events)
                    for account, meter, bucket, quantity, events in store.bucket_sums(
                        org_id, start, end, leave_out=leave_out, compacted=compacted
                    )
                }
                usage.add_usage(increments, tz, now)
                moved += len(increments)
                progress(moved)
                start = end
        for payload in (p for o, _, p in waiting if o == org_id):
            rows: dict[UsageKey, tuple[Decimal, int]] = {}
            for account, meter, bucket, quantity, events in json.loads(payload):
                rows[(account, meter, from_micros(bucket))] = (Decimal(quantity), int(events))
            usage.add_usage(rows, tz, now)
            moved += len(rows)
    session.execute(delete(UsageOutbox))
    return moved
