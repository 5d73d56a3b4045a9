"""Moving an installation's usage between its own database and ClickHouse (`meterline usage-store`,
docs/scaling.md), both ways, each in one transaction of the relational database. App processes left running wait
for the move and then follow it (usage_store.py: each transaction reads the choice, under a lock the move holds).
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
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.orm import Session

from meterline.events.clickhouse import EPOCH, Address, ClickHouseError, ClickHouseUsage, from_micros, micros
from meterline.events.clickhouse_events import ClickHouseEvents, event_of, outbox_row
from meterline.events.compaction import hold
from meterline.events.models import Event, UsageDaily, UsageOutbox, UsageRollup
from meterline.events.store import NAMED_LICENSE, EventStore, UsageKey
from meterline.events.usage_store import (
    choose_clickhouse,
    choose_database,
    lock_choice,
)
from meterline.tenancy.models import Organization

log = logging.getLogger(__name__)

MOVE_CHUNK = 50_000
WINDOW = timedelta(days=31)  # usage moved back a month of buckets at a time, per organization


class Moved(NamedTuple):
    usage: int  # rows of usage: (account, meter, 15-minute bucket) rollups moved, either way
    events: int


def move_to_clickhouse(session: Session, url: str, now: datetime, progress: Callable[[str], None]) -> Moved:
    """Keep the installation's usage and events in the ClickHouse at `url` from now on, moving the usage counted so
    far (the 15-minute rollups of every organization) and the events stored so far there first; returns how many
    rollup rows and events moved. Named-license events stay in the database too (the seats are folded from them).

    One transaction: the rollups are read, written to ClickHouse, deleted, and the choice recorded, then committed by
    the caller. ClickHouse's database must hold no usage yet (rows left there by an earlier life would count twice);
    a move that fails after ClickHouse took some rows empties it again, so that running it again starts from nothing
    (if ClickHouse cannot be reached for that, the next run says the database holds usage). The move holds the
    choice from its first statement (`lock_choice`): no transaction of a process left running writes usage or events
    to the database meanwhile, and each one after it reads the new choice.
    """
    reach(url)  # ClickHouse answers, before the choice is held: a URL that hangs holds nobody up
    current = lock_choice(session, progress)  # processes left running wait, then follow (usage_store.py)
    if current is not None and current.address == Address.parse(url):
        raise ValueError(f"usage and events are already kept in {current.address.without_password()}: nothing to move")
    if current is not None:  # its rollups and events are empty here: moving "them" would orphan what is there
        raise ValueError(
            f"usage and events are already kept in {current.address.without_password()}: to keep them in another "
            "ClickHouse, move them back first (`meterline usage-store --database`), then into the new one"
        )
    store = choose_clickhouse(session, url, now)
    try:
        usage = _copy_rollups(session, store, lambda n: progress(f"moved {n:,} rows of usage"))
        return Moved(usage, _copy_events(session, store, lambda n: progress(f"moved {n:,} events")))
    except BaseException:
        try:
            store.empty()
        except ClickHouseError as exc:  # the move's own error is the one to raise; the next run refuses the database
            log.warning("usage move: the rows it wrote to ClickHouse are still there: %s", exc)
        raise


def reach(url: str) -> None:
    """Connect to the ClickHouse at `url` and create its schema (IF NOT EXISTS): what may hang or fail on a wrong
    URL, done before a move holds anything (the CLI calls it before its transaction begins; SQLite's begins as the
    writer). Raises ClickHouseError with the reason, ValueError for a URL that is not one."""
    ClickHouseUsage(url).create_schema()


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


def _copy_events(session: Session, store: ClickHouseUsage, progress: Callable[[int], None]) -> int:
    """Copy every event to ClickHouse as its version 0, then delete them here but the named-license events."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
    events, moved, after = ClickHouseEvents(store), 0, ("", "")
    while True:
        chunk = list(
            session.scalars(
                select(Event)
                .where(tuple_(Event.org_id, Event.pk) > after)
                .order_by(Event.org_id, Event.pk)
                .limit(MOVE_CHUNK)
            )
        )
        if not chunk:
            break
        events.insert([(e.org_id, "moved", outbox_row(e, 0)) for e in chunk])
        moved += len(chunk)
        progress(moved)
        after = (chunk[-1].org_id, chunk[-1].pk)
        session.expunge_all()  # a million events are not kept in memory
    session.execute(delete(Event).where(Event.schema_name != NAMED_LICENSE))
    return moved


def _events_back(session: Session, store: ClickHouseUsage, progress: Callable[[int], None]) -> int:
    """Write into the database the newest version of every event ClickHouse and the outbox hold (named-license
    events are there already, kept current by every correction)."""
    waiting: dict[tuple[str, str], Event] = {}
    for org_id, payload in session.execute(
        select(UsageOutbox.org_id, UsageOutbox.events).where(UsageOutbox.events.is_not(None))
    ):
        for row in json.loads(payload or "[]"):
            event = event_of(org_id, row)
            held = waiting.get((org_id, event.pk))
            if held is None or held.clickhouse_version < event.clickhouse_version:
                waiting[(org_id, event.pk)] = event
    events, moved, after = ClickHouseEvents(store), 0, ("", "")
    while True:
        chunk = events.all_newest(after, MOVE_CHUNK)
        if not chunk:
            break
        for org_id, event in chunk:
            held = waiting.pop((org_id, event.pk), None)
            newest = held if held is not None and held.clickhouse_version > event.clickhouse_version else event
            if newest.schema_name != NAMED_LICENSE:  # those are here already
                session.add(newest)
                moved += 1
        session.flush()
        session.expunge_all()
        progress(moved)
        after = (chunk[-1][0], chunk[-1][1].pk)
    for event in waiting.values():
        if event.schema_name != NAMED_LICENSE:
            session.add(event)
            moved += 1
    session.flush()
    return moved


def move_to_database(session: Session, now: datetime, progress: Callable[[str], None]) -> Moved:
    """Keep the installation's usage and events in its own database from now on, moving the usage kept in ClickHouse
    (and the outbox's batches not shipped yet) into the 15-minute rollups and the organizations' local days, as
    ingestion writes them, and the events (each one's newest version); returns how many rows of usage and events were
    written. ClickHouse keeps its copy (drop its database once the move
    is checked). Raises ValueError when usage is already in the database."""
    store = lock_choice(session, progress)  # processes left running wait, then follow (usage_store.py)
    if store is None:
        raise ValueError("usage and events are already kept in the database itself")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE usage_outbox, usage_rollups, usage_daily, events IN EXCLUSIVE MODE"))
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
                progress(f"moved {moved:,} rows of usage")
                start = end
        for payload in (p for o, _, p in waiting if o == org_id):
            rows: dict[UsageKey, tuple[Decimal, int]] = {}
            for account, meter, bucket, quantity, events in json.loads(payload):
                rows[(account, meter, from_micros(bucket))] = (Decimal(quantity), int(events))
            usage.add_usage(rows, tz, now)
            moved += len(rows)
    events = _events_back(session, store, lambda n: progress(f"moved {n:,} events"))
    session.execute(delete(UsageOutbox))
    return Moved(moved, events)
