"""The `usage` and `events` sources where usage and events are kept in ClickHouse (docs/clickhouse.md,
docs/reports.md).

What such a report reads is then not in the tables its SQL names. So the report's query runs, unchanged, on a
staging database of its own: an in-memory SQLite holding only what the source reads: for `usage`, the
organization's buckets (from ClickHouse plus the outbox, each batch counted once, as every read of usage) with its
accounts, customers and meters; for `events`, its events (each one's newest version, as every read of events). One
compiler, one meaning of every filter and aggregate (SQLite's exact decimal sums included), whichever store they
are in.

The rows fetched are narrowed by the query's own filters on the source's time (`bucketStart`, `timestamp`: EQ, GT,
GTE, LT, LTE, BETWEEN) and, for usage, `accountId` (EQ, IN): the staging holds a superset of the rows the query
reads, and the query filters them again. At most MAX_STAGED rows: past it the report is refused with what to
narrow."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from meterline.accounts.models import Account
from meterline.core.db import ExactDecimal, UTCDateTime
from meterline.core.errors import BadRequest
from meterline.customers.models import Customer
from meterline.events.clickhouse import EPOCH, ClickHouseUsage
from meterline.events.clickhouse_events import EventFilter
from meterline.events.store import EventStore
from meterline.metering.models import UsageMeter
from meterline.reports.query import argument
from meterline.reports.schemas import QueryInput
from meterline.reports.sources import TIME

MAX_STAGED = 1_000_000
FAR = datetime.max.replace(tzinfo=timezone.utc)  # no end: after every instant ingestion accepts (END_OF_TIME)
TICK = timedelta(microseconds=1)


def _just_after(at: datetime) -> datetime:
    """The end of a window that holds `at` (FAR at the end of time: no overflow)."""
    return FAR if at >= FAR - TICK else at + TICK


_metadata = MetaData()
_usage = Table(
    "usage_rollups",
    _metadata,
    Column("org_id", String),
    Column("account_pk", String),
    Column("meter_id", String),
    Column("bucket_start", UTCDateTime()),
    Column("quantity", ExactDecimal()),
    Column("events", Integer),
)
_events = Table(
    "events",
    _metadata,
    Column("org_id", String),
    Column("pk", String),
    Column("event_id", String),
    Column("schema_name", String),
    Column("account_ref", String),
    Column("status", String),
    Column("status_description", String),
    Column("timestamp", UTCDateTime()),
    Column("created_at", UTCDateTime()),
)
_accounts = Table("accounts", _metadata, Column("pk", String), Column("id", String), Column("customer_pk", String))
_customers = Table("customers", _metadata, Column("pk", String), Column("id", String))
_meters = Table("usage_meters", _metadata, Column("org_id", String), Column("id", String), Column("name", String))


def _window(query: QueryInput, time: str = "bucketStart") -> tuple[datetime, datetime, set[str] | None]:
    """[start, end) of the source's `time` column and the accounts (ids) the query's filters leave; None: every
    account."""
    start, end, accounts = EPOCH, FAR, None
    for n, found in enumerate(query.query_filters or []):
        name, op, args = found.column.column_name, found.operator.upper(), found.args
        where = f"queryInput.queryFilters[{n}].args"
        if name == time and args:
            at = [argument(TIME, a, where) for a in args]
            if op in ("EQ", "=", "==", "BETWEEN"):
                start, end = max(start, at[0]), min(end, _just_after(at[-1]))
            elif op in ("GT", ">", "GTE", ">="):
                start = max(start, at[0])
            elif op in ("LT", "<"):
                end = min(end, at[0])
            elif op in ("LTE", "<="):
                end = min(end, _just_after(at[0]))
        elif name == "accountId" and op in ("EQ", "=", "==", "IN"):
            accounts = set(args) if accounts is None else accounts & set(args)
    return start, end, accounts


def staged_usage(session: Session, clickhouse: ClickHouseUsage, org_id: str, query: QueryInput) -> Session:
    """A session on an in-memory database holding what `query` (over the `usage` source) reads of `org_id`."""
    start, end, account_ids = _window(query)
    pks = None
    if account_ids is not None:
        stmt = select(Account.pk).where(Account.org_id == org_id, Account.id.in_(sorted(account_ids)))
        pks = set(session.scalars(stmt))
    buckets = (
        []
        if start >= end or pks == set()
        else EventStore(session, org_id).usage_buckets(clickhouse, start, end, account_pks=pks)
    )
    if len(buckets) > MAX_STAGED:
        raise BadRequest(
            f"queryInput.queryFilters: the usage source reads at most {MAX_STAGED:,} 15-minute buckets where usage "
            f"is kept in ClickHouse; this query reads {len(buckets):,}: narrow it with a filter on bucketStart or "
            "accountId"
        )
    engine = _staging()
    with engine.begin() as connection:
        _insert(
            connection,
            _usage,
            (
                {"org_id": org_id, "account_pk": a, "meter_id": m, "bucket_start": b, "quantity": q, "events": n}
                for a, m, b, q, n in buckets
            ),
        )
        accounts = session.execute(
            select(Account.pk, Account.id, Account.customer_pk).where(Account.org_id == org_id)
        ).all()
        _insert(connection, _accounts, ({"pk": p, "id": i, "customer_pk": c} for p, i, c in accounts))
        customers = session.execute(select(Customer.pk, Customer.id).where(Customer.org_id == org_id)).all()
        _insert(connection, _customers, ({"pk": p, "id": i} for p, i in customers))
        meters = session.execute(select(UsageMeter.id, UsageMeter.name).where(UsageMeter.org_id == org_id)).all()
        _insert(connection, _meters, ({"org_id": org_id, "id": i, "name": name} for i, name in meters))
    return Session(engine)


def staged_events(session: Session, clickhouse: ClickHouseUsage, org_id: str, query: QueryInput) -> Session:
    """A session on an in-memory database holding what `query` (over the `events` source) reads of `org_id`."""
    start, end, _ = _window(query, "timestamp")
    store = EventStore(session, org_id)
    wanted = EventFilter(start=None if start == EPOCH else start, end=None if end == FAR else end)
    found = [] if start >= end else store.events_within(clickhouse, wanted, MAX_STAGED)
    if found is None:
        raise BadRequest(
            f"queryInput.queryFilters: the events source reads at most {MAX_STAGED:,} events where events are kept "
            "in ClickHouse; this query reads more: narrow it with a filter on timestamp"
        )
    engine = _staging()
    with engine.begin() as connection:
        _insert(
            connection,
            _events,
            (
                {
                    "org_id": org_id,
                    "pk": e.pk,
                    "event_id": e.event_id,
                    "schema_name": e.schema_name,
                    "account_ref": e.account_ref,
                    "status": e.status,
                    "status_description": e.status_description,
                    "timestamp": e.timestamp,
                    "created_at": e.created_at,
                }
                for e in found
            ),
        )
    return Session(engine)


def _staging() -> Engine:
    """An in-memory database of the staged tables, one connection shared by the report's session."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    _metadata.create_all(engine)
    return engine


def _insert(connection: Any, table: Table, rows: Iterable[dict[str, Any]], chunk: int = 10_000) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == chunk:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
