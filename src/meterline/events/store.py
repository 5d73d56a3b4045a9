"""The event store's SQL: events, deduplication claims, usage rollups. Dialect differences stay in here."""

from __future__ import annotations

import json
import time
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import CursorResult, delete, false, func, select, text, update

from meterline.core.db import snapshot_since, sqlite_time
from meterline.core.errors import Unavailable
from meterline.core.ids import new_id
from meterline.core.money import EXACT, exact_sum
from meterline.core.pagination import Counted, Page, PageRequest, Slice, encode_token
from meterline.core.repository import OrgRepository, sort_column, sorted_by
from meterline.events.clickhouse import ClickHouseError, ClickHouseUsage, Compacted, from_micros, micros
from meterline.events.clickhouse_events import ClickHouseEvents, EventFilter, event_of, outbox_row
from meterline.events.models import Event, EventId, UsageDaily, UsageOutbox, UsageRollup
from meterline.events.usage_store import READ_LIMIT, clickhouse_of, compacted_through
from meterline.metering.rules import PREDEFINED_SCHEMAS
from meterline.rating import cycles

NAMED_LICENSE = PREDEFINED_SCHEMAS[1]

UsageKey = tuple[str, str, datetime]  # (account_pk, meter_id, bucket_start)
# An event as ingestion stores it: (pk, event_id, schema_name, schema_version, account_ref, account_pk, timestamp,
# attributes, dimensions, status, status_description, units, meters, enrichments); the JSON columns as Python values.
EventRow = tuple[
    str,
    str | None,
    str,
    int | None,
    str,
    str | None,
    datetime,
    Sequence[Any],
    dict[str, Any],
    str,
    str | None,
    dict[str, Any] | None,
    list[Any] | None,
    dict[str, Any] | None,
]

_EVENT_INSERT_COLUMNS = (
    "pk, event_id, schema_name, schema_version, account_ref, account_pk, timestamp, attributes, dimensions, status, "
    "status_description, units, meters, enrichments, org_id, created_at"
)
_SQLITE_EVENT_INSERT = f"INSERT INTO events ({_EVENT_INSERT_COLUMNS}) VALUES ({', '.join('?' * 16)})"  # noqa: S608  # nosec B608 - constant
_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str | None:
    return None if value is None else _encode(value).decode()


def _usage_json(increments: dict[UsageKey, tuple[Decimal, int]]) -> str:
    """Usage increments as an outbox batch's payload: [[account_pk, meter_id, bucket µs, quantity, events]]."""
    return _encode([(a, m, micros(b), str(q), n) for (a, m, b), (q, n) in sorted(increments.items())]).decode()


def _as_is(value: datetime) -> object:
    return value


def _stored(row: EventRow, org_id: str, created: object, at: Callable[[datetime], object]) -> tuple[object, ...]:
    """An event row as the events table's columns take it (_EVENT_INSERT_COLUMNS' order): JSON columns encoded,
    times written by `at` (as they are for PostgreSQL's COPY, as text for SQLite)."""
    pk, eid, schema, version, ref, account, ts, attributes, dimensions, status, text, units, meters, enriched = row
    return (
        *(pk, eid, schema, version, ref, account, at(ts)),
        *(_json(attributes), _json(dimensions), status, text, _json(units), _json(meters), _json(enriched)),
        *(org_id, created),
    )


# Backpressure (docs/clickhouse.md): while the outbox's oldest batch has waited longer than this for ClickHouse,
# writes of usage are refused (the API answers 503 with Retry-After) instead of growing the outbox without bound.
OUTBOX_MAX_AGE = timedelta(minutes=5)
CLAIM_DAYS = 45  # D6: how long an event id stays claimed (usecases/housekeeping.py ends older claims)


class EventStore(OrgRepository):
    # The writes of ingestion are its hot path: they go through the database driver with prepared SQL (psycopg's
    # COPY on PostgreSQL, executemany on SQLite), converting values the way the column types would. The SQL is
    # fixed text, so nothing is compiled per batch. Reads use SQLAlchemy as everywhere else.

    def _driver(self) -> Any:
        return self.session.connection().connection.driver_connection

    def _is_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # -- writes ----------------------------------------------------------------------------------------------
    def claim_ids(self, event_ids: list[str], now: datetime) -> set[str]:
        """Claim each id for this organization; returns the ids claimed now (the others were already taken).

        Atomic with the rest of the transaction: a concurrent claim of the same id waits for this one to commit or
        roll back, so an id is claimed once whatever the interleaving. Sorted, so that concurrent batches take
        their row locks in one order and cannot deadlock.
        """
        if not event_ids:
            return set()
        ids = sorted(set(event_ids))
        cursor = self._driver().cursor()
        if self._is_postgresql():
            cursor.execute(
                "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT %s, json_array_elements_text(%s::json), "
                "%s ON CONFLICT DO NOTHING RETURNING event_id",
                (self.org_id, _json(ids), now),
            )
        else:
            cursor.execute(
                "INSERT INTO event_ids (org_id, event_id, claimed_at) SELECT ?, value, ? FROM json_each(?) "
                "WHERE true ON CONFLICT DO NOTHING RETURNING event_id",
                (self.org_id, sqlite_time(now), json.dumps(ids)),
            )
        return {row[0] for row in cursor.fetchall()}

    def add_ingested(
        self, rows: list[EventRow], increments: dict[UsageKey, tuple[Decimal, int]], tz: tzinfo, now: datetime
    ) -> None:
        """Store a request's events and the usage they count (`add_events`, `add_usage`). With usage in ClickHouse:
        one outbox batch of both (shipped together: docs/clickhouse.md, "Events"); named-license events are also
        stored here, where the seats are folded from them (licenses/named.py)."""
        if clickhouse_of(self.session) is None:
            self.add_events(rows, now)
            self.add_usage(increments, tz, now)
            return
        if not rows:
            return
        at = micros(now)
        versions = [[*r[:1], 0, *r[1:6], micros(r[6]), *r[7:], at] for r in rows]
        self._to_outbox(_usage_json(increments), _json(versions), now)
        self.add_events([r for r in rows if r[2] == NAMED_LICENSE], now)

    def add_events(self, rows: list[EventRow], now: datetime) -> None:
        """Store events in the database itself, all created at `now`."""
        if not rows:
            return
        if self._is_postgresql():
            with self._driver().cursor().copy(f"COPY events ({_EVENT_INSERT_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(_stored(row, self.org_id, now, _as_is))
            return
        created = sqlite_time(now)
        values = [_stored(row, self.org_id, created, sqlite_time) for row in rows]
        self._driver().executemany(_SQLITE_EVENT_INSERT, values)

    def add_usage(self, increments: dict[UsageKey, tuple[Decimal, int]], tz: tzinfo, now: datetime) -> None:
        """Add quantities and event counts to their 15-minute buckets, and to the organization's local days (`tz`).
        Keys are sorted, for the same reason as the claims. With usage in ClickHouse: one outbox batch instead,
        committed with the events it counts (the shipper takes it on)."""
        if not increments:
            return
        if clickhouse_of(self.session) is not None:
            self._to_outbox(_usage_json(increments), None, now)
            return
        days: dict[UsageKey, tuple[Decimal, int]] = {}
        day_of: dict[datetime, datetime] = {}
        for (account_pk, meter_id, bucket), (qty, n) in increments.items():
            day = day_of.get(bucket)
            if day is None:
                day = day_of[bucket] = cycles.local_start_of_day(cycles.local_day(bucket, tz), tz)
            key = (account_pk, meter_id, day)
            got = days.get(key)
            days[key] = (qty, n) if got is None else (EXACT.add(got[0], qty), got[1] + n)
        self._add("usage_rollups", "bucket_start", increments)
        self._add("usage_daily", "day_start", days)

    def _to_outbox(self, usage: str, events: str | None, now: datetime) -> None:
        """One outbox batch (docs/clickhouse.md), refused (503) while the oldest waiting has waited too long."""
        oldest = self.session.scalar(select(UsageOutbox.created_at).order_by(UsageOutbox.id).limit(1))
        if oldest is not None and now - oldest > OUTBOX_MAX_AGE:
            raise Unavailable(
                f"usage is waiting to reach ClickHouse since {oldest.isoformat()} (it is down or behind): "
                "nothing was stored; send again later",
                retry_after=5,
            )
        batch = UsageOutbox(id=new_id("ub"), org_id=self.org_id, payload=usage, events=events, created_at=now)
        self.session.add(batch)
        self.session.flush()

    def _add(self, table: str, column: str, increments: dict[UsageKey, tuple[Decimal, int]]) -> None:
        keys = sorted(increments)
        cursor = self._driver().cursor()
        if self._is_postgresql():
            # One JSON document of rows (encoded in C) instead of five arrays (dumped element by element in Python);
            # quantities travel as decimal text and become numeric exactly.
            rows = [(a, m, b.isoformat(), str(increments[(a, m, b)][0]), increments[(a, m, b)][1]) for a, m, b in keys]
            cursor.execute(
                f"INSERT INTO {table} (org_id, account_pk, meter_id, {column}, quantity, events) "  # noqa: S608  # nosec B608 - constants
                "SELECT %s, r->>0, r->>1, (r->>2)::timestamptz, (r->>3)::numeric, (r->>4)::int "
                "FROM json_array_elements(%s::json) AS r "
                f"ON CONFLICT (org_id, account_pk, meter_id, {column}) DO UPDATE SET "
                f"quantity = {table}.quantity + excluded.quantity, events = {table}.events + excluded.events",
                (self.org_id, _json(rows)),
            )
            return
        # SQLite keeps decimals as text, which SQL cannot add exactly: read, add in Python, write back. Safe,
        # since a writing transaction holds SQLite's only write lock from its start.
        wanted = {(a, m, sqlite_time(b)): increments[(a, m, b)] for a, m, b in keys}
        cursor.execute(
            f"SELECT account_pk, meter_id, {column}, quantity, events FROM {table} WHERE org_id = ? AND "  # noqa: S608  # nosec B608 - constants
            f"(account_pk, meter_id, {column}) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
            "json_extract(value, '$[2]') FROM json_each(?))",
            (self.org_id, json.dumps(list(wanted))),
        )
        for account_pk, meter_id, bucket, quantity, events in cursor.fetchall():
            qty, n = wanted[(account_pk, meter_id, bucket)]
            wanted[(account_pk, meter_id, bucket)] = (EXACT.add(qty, Decimal(quantity)), n + events)
        cursor.executemany(
            f"INSERT INTO {table} (org_id, account_pk, meter_id, {column}, quantity, events) "  # noqa: S608  # nosec B608 - constants
            f"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, account_pk, meter_id, {column}) DO UPDATE SET "
            "quantity = excluded.quantity, events = excluded.events",
            [(self.org_id, a, m, b, str(q), n) for (a, m, b), (q, n) in wanted.items()],
        )

    def forget_ids_before(self, before: datetime) -> int:
        """End the deduplication window: ids claimed before `before` may be used again."""
        result = self.session.execute(delete(EventId).where(EventId.org_id == self.org_id, EventId.claimed_at < before))
        return int(cast("CursorResult[Any]", result).rowcount or 0)  # a DELETE's result is a CursorResult

    # -- reads -----------------------------------------------------------------------------------------------
    def usage(
        self, account_pk: str, meter_ids: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, tuple[Decimal, int]]:
        """(quantity, events) per meter over whole buckets in [start, end)."""
        meter_ids = list(meter_ids)
        result = {m: (Decimal(0), 0) for m in meter_ids}
        if not meter_ids:
            return result
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            found = self._clickhouse_usage(clickhouse, [account_pk], meter_ids, start, end)
            result.update({meter_id: totals for (_, meter_id), totals in found.items()})
            return result
        if self._is_postgresql():
            stmt = select(UsageRollup.meter_id, func.sum(UsageRollup.quantity), func.sum(UsageRollup.events)).where(
                UsageRollup.org_id == self.org_id,
                UsageRollup.account_pk == account_pk,
                UsageRollup.meter_id.in_(meter_ids),
                UsageRollup.bucket_start >= start,
                UsageRollup.bucket_start < end,
            )
            for meter_id, qty, n in self.session.execute(stmt.group_by(UsageRollup.meter_id)):
                result[meter_id] = (Decimal(qty), int(n))
            return result
        # SQLite: decimals are text, so SQL sums only the counts; the quantities come back as one string per meter
        # and are added exactly here (one round trip, no per-row result processing).
        cursor = self._driver().cursor()
        cursor.execute(
            f"SELECT meter_id, group_concat(quantity, ' '), sum(events) FROM usage_rollups WHERE org_id = ? AND "  # noqa: S608  # nosec B608 - only `?`s are formatted in
            f"account_pk = ? AND meter_id IN ({', '.join('?' * len(meter_ids))}) AND bucket_start >= ? AND "
            f"bucket_start < ? GROUP BY meter_id",
            (self.org_id, account_pk, *meter_ids, sqlite_time(start), sqlite_time(end)),
        )
        for meter_id, quantities, n in cursor.fetchall():
            result[meter_id] = (exact_sum(map(Decimal, quantities.split(" "))), int(n))
        return result

    def usage_of_accounts(
        self, account_pks: Iterable[str], meter_ids: Iterable[str], start: datetime, end: datetime, *, daily: bool
    ) -> dict[tuple[str, str], tuple[Decimal, int]]:
        """(quantity, events) per (account, meter) over [start, end), from the 15-minute buckets or, with `daily`,
        from the local days (then start and end must be local midnights). Pairs without usage are left out."""
        account_pks, meter_ids = sorted(set(account_pks)), list(meter_ids)
        if not account_pks or not meter_ids:
            return {}
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:  # buckets are summed: a local midnight is a bucket's edge in every real zone
            return self._clickhouse_usage(clickhouse, account_pks, meter_ids, start, end)
        table = UsageDaily if daily else UsageRollup
        column = UsageDaily.day_start if daily else UsageRollup.bucket_start
        result: dict[tuple[str, str], tuple[Decimal, int]] = {}
        if self._is_postgresql():
            stmt = (
                select(table.account_pk, table.meter_id, func.sum(table.quantity), func.sum(table.events))
                .where(
                    table.org_id == self.org_id,
                    table.account_pk.in_(account_pks),
                    table.meter_id.in_(meter_ids),
                    column >= start,
                    column < end,
                )
                .group_by(table.account_pk, table.meter_id)
            )
            for account_pk, meter_id, qty, n in self.session.execute(stmt):
                result[(account_pk, meter_id)] = (Decimal(qty), int(n))
            return result
        name, key = ("usage_daily", "day_start") if daily else ("usage_rollups", "bucket_start")
        cursor = self._driver().cursor()
        cursor.execute(
            f"SELECT account_pk, meter_id, group_concat(quantity, ' '), sum(events) FROM {name} WHERE org_id = ? AND "  # noqa: S608  # nosec B608 - constants and `?`s
            f"account_pk IN (SELECT value FROM json_each(?)) AND meter_id IN (SELECT value FROM json_each(?)) AND "
            f"{key} >= ? AND {key} < ? GROUP BY account_pk, meter_id",
            (self.org_id, json.dumps(account_pks), json.dumps(meter_ids), sqlite_time(start), sqlite_time(end)),
        )
        for account_pk, meter_id, quantities, n in cursor.fetchall():
            result[(account_pk, meter_id)] = (exact_sum(map(Decimal, quantities.split(" "))), int(n))
        return result

    def pending_usage(self) -> list[tuple[str, list[list[Any]]]]:
        """The organization's outbox batches not shipped yet: (batch id, rows as `add_usage` wrote them)."""
        stmt = select(UsageOutbox.id, UsageOutbox.payload).where(UsageOutbox.org_id == self.org_id)
        return [(batch, json.loads(payload)) for batch, payload in self.session.execute(stmt)]

    # -- events in ClickHouse (docs/clickhouse.md, "Events") ----------------------------------------------------
    def _pending_events(self, events: ClickHouseEvents, wanted: EventFilter) -> dict[str, Event]:
        """The newest version of each event with a version still in the outbox that `wanted` may take (all but its
        statuses tested: a status is the newest version's), compared with ClickHouse's versions of the same events
        (the outbox is read first: a batch shipped meanwhile is read from both, the same version twice; batches
        ship in any order, so ClickHouse may hold a newer version than the outbox)."""
        stmt = select(UsageOutbox.events).where(UsageOutbox.org_id == self.org_id, UsageOutbox.events.is_not(None))
        fixed = replace(wanted, statuses=None)
        newest: dict[str, Event] = {}
        for payload in self.session.scalars(stmt):
            for row in json.loads(payload or "[]"):
                event = event_of(self.org_id, row)
                if fixed.matches(event):
                    held = newest.get(event.pk)
                    if held is None or held.clickhouse_version < event.clickhouse_version:
                        newest[event.pk] = event
        if newest:
            for event in events.newest(self.org_id, EventFilter(pks=list(newest))):
                if newest[event.pk].clickhouse_version < event.clickhouse_version:
                    newest[event.pk] = event
        return newest

    def _events_read(
        self, clickhouse: ClickHouseUsage, wanted: EventFilter, after: str | None = None, descending: bool = False
    ) -> tuple[ClickHouseEvents, dict[str, Event], list[Event]]:
        """What a read of events from ClickHouse stands on: the pending events `_pending_events` finds, and those
        of them `wanted` takes (after `after` in the read's order)."""
        events = ClickHouseEvents(clickhouse)
        pending = self._pending_events(events, wanted)
        taken = [e for e in pending.values() if wanted.matches(e)]
        if after is not None:
            taken = [e for e in taken if (e.pk < after if descending else e.pk > after)]
        return events, pending, sorted(taken, key=lambda e: e.pk, reverse=descending)

    def _clickhouse_events(
        self,
        clickhouse: ClickHouseUsage,
        wanted: EventFilter,
        *,
        after: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Event]:
        """The newest version of each event `wanted` takes, in pk order (reversed with `descending`), after `after`,
        at most `limit`: from ClickHouse, with the outbox's versions in place of ClickHouse's where newer."""
        events, pending, taken = self._events_read(clickhouse, wanted, after, descending)
        found = events.newest(
            self.org_id, wanted, leave_out=pending.keys(), after=after, descending=descending, limit=limit
        )
        merged = sorted(found + taken, key=lambda e: e.pk, reverse=descending)
        return merged if limit is None else merged[:limit]

    def events_within(self, clickhouse: ClickHouseUsage, wanted: EventFilter, limit: int) -> list[Event] | None:
        """Every event `wanted` takes (each one's newest version, in pk order), or None when there are more than
        `limit` (counted first, so that no more than `limit` are read)."""
        events, pending, taken = self._events_read(clickhouse, wanted)
        if events.count(self.org_id, wanted, leave_out=pending.keys()) + len(taken) > limit:
            return None
        found = events.newest(self.org_id, wanted, leave_out=pending.keys())
        return sorted(found + taken, key=lambda e: e.pk)

    def event_counts(
        self, clickhouse: ClickHouseUsage, wanted: EventFilter, starts: Sequence[datetime], keys: Sequence[str]
    ) -> dict[tuple[int, tuple[Any, ...]], int]:
        """Events per (period index, key values) where events are kept in ClickHouse (metrics/repository.py's
        `event_counts`): the periods start at `starts`, `keys` are Event attributes."""
        events, pending, taken = self._events_read(clickhouse, wanted)
        result: dict[tuple[int, tuple[Any, ...]], int] = {}
        for *head, n in events.counts(self.org_id, wanted, starts, keys, leave_out=pending.keys()):
            key = (int(head[0]), tuple(head[1:]))
            result[key] = result.get(key, 0) + int(n)
        for e in taken:
            key = (bisect_right(starts, e.timestamp) - 1, tuple(getattr(e, k) for k in keys))
            result[key] = result.get(key, 0) + 1
        return result

    def event_groups(self, clickhouse: ClickHouseUsage, wanted: EventFilter, group: str, limit: int) -> int:
        """How many distinct groups (account: its pk or, for events that reached none, the accountId as sent;
        schema; status) the events `wanted` takes fall in, counted up to `limit` + 1."""
        column = {"account": "ifNull(account_pk, account_ref)", "schema": "schema_name", "status": "status"}[group]
        events, pending, taken = self._events_read(clickhouse, wanted)
        found = events.distinct(self.org_id, wanted, column, limit + 1, leave_out=pending.keys())
        for e in taken:
            found.add({"account": e.account_pk or e.account_ref, "schema": e.schema_name, "status": e.status}[group])
        return min(len(found), limit + 1)

    def _clickhouse_usage(
        self, clickhouse: ClickHouseUsage, account_pks: list[str], meter_ids: list[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], tuple[Decimal, int]]:
        """Usage from ClickHouse plus the outbox, each batch counted once (`_clickhouse_read`)."""
        begun, compacted, pending = self._clickhouse_read()
        result = clickhouse.sums(
            self.org_id, account_pks, meter_ids, start, end, leave_out=[b for b, _ in pending], compacted=compacted
        )
        _in_time(begun)
        low, high, accounts, meters = micros(start), micros(end), set(account_pks), set(meter_ids)
        for _, rows in pending:
            for account_pk, meter_id, bucket, quantity, events in rows:
                if account_pk in accounts and meter_id in meters and low <= bucket < high:
                    got = result.get((account_pk, meter_id))
                    qty = Decimal(quantity)
                    result[(account_pk, meter_id)] = (
                        (qty, events) if got is None else (EXACT.add(got[0], qty), got[1] + events)
                    )
        return result

    def _clickhouse_read(self) -> tuple[float, Compacted, list[tuple[str, list[list[Any]]]]]:
        """What a read of ClickHouse stands on (docs/clickhouse.md, "Read-your-writes" and "Compaction"): when it
        began, the last compacted generation recorded, then the organization's outbox batches, read in this order.

        The outbox's batches are counted from there and left out of ClickHouse's rows: a batch leaves the outbox only
        after ClickHouse acknowledged its rows, so a batch missing from the list is in ClickHouse already. Compacted
        sums cannot leave a batch out, so only the generations recorded before the outbox was read are used: each
        of them started (and read its own list of batches to leave out) before, so none holds a batch of this list.
        The rows they replaced are deleted only DELETE_AFTER (twice READ_LIMIT) after a later generation was recorded,
        and a read may not outlast READ_LIMIT (`_in_time`) counted from the snapshot it reads (a SQLite reader's
        whole transaction reads the one its first statement took)."""
        since = snapshot_since(self.session)  # a SQLite reader's snapshot may be older than this read
        begun = time.monotonic() if since is None else since
        compacted = compacted_through(self.session)
        return begun, compacted, self.pending_usage()

    def usage_buckets(
        self,
        clickhouse: ClickHouseUsage,
        start: datetime,
        end: datetime,
        *,
        account_pks: Collection[str] | None = None,
        meter_ids: Collection[str] | None = None,
    ) -> list[tuple[str, str, datetime, Decimal, int]]:
        """(account, meter, bucket start, quantity, events) of every 15-minute bucket with usage in [start, end), from
        ClickHouse plus the outbox, each batch counted once (as `_clickhouse_usage`); a bucket may come twice (once
        from each), which sums the same."""
        begun, compacted, pending = self._clickhouse_read()
        accounts = None if account_pks is None else sorted(set(account_pks))
        meters = None if meter_ids is None else sorted(set(meter_ids))
        found = clickhouse.bucket_sums(
            self.org_id,
            start,
            end,
            account_pks=accounts,
            meter_ids=meters,
            leave_out=[b for b, _ in pending],
            compacted=compacted,
        )
        _in_time(begun)
        rows = [(a, m, from_micros(bucket), quantity, events) for a, m, bucket, quantity, events in found]
        low, high = micros(start), micros(end)
        wanted_accounts, wanted_meters = set(accounts or ()), set(meters or ())
        for _, batch in pending:
            for account_pk, meter_id, bucket, quantity, events in batch:
                if (
                    low <= bucket < high
                    and (accounts is None or account_pk in wanted_accounts)
                    and (meters is None or meter_id in wanted_meters)
                ):
                    rows.append((account_pk, meter_id, from_micros(bucket), Decimal(quantity), int(events)))
        return rows

    def page(
        self,
        request: PageRequest,
        *,
        account_pk: str | None = None,
        status: str | None = None,
        statuses: Collection[str] | None = None,
        schema_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        newest_first: bool = False,
    ) -> Page[Event]:
        """Events in the order they were stored (newest last, or first with `newest_first`); `statuses`: any of."""
        wanted = _wanted(account_pk, status, statuses, schema_name, start, end)
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            if wanted is None:
                return Page(items=[], next_token=None, size=request.size)
            rows = self._clickhouse_events(
                clickhouse, wanted, after=request.after, descending=newest_first, limit=request.size + 1
            )
            token = encode_token(rows[request.size - 1].pk) if len(rows) > request.size else None
            return Page(items=rows[: request.size], next_token=token, size=request.size)
        return self.keyset_page(self._filtered(wanted), Event.pk, request, descending=newest_first)

    # the console's sort: the order events were received (their reference ids are time-ordered)
    SORTS = {"received": Event.pk}

    def listed(
        self,
        request: Slice,
        *,
        account_pk: str | None = None,
        status: str | None = None,
        statuses: Collection[str] | None = None,
        schema_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        count_up_to: int | None = None,
    ) -> Counted[Event]:
        """A slice of the events as `page` filters them, in the order received, and how many there are (counted up
        to `count_up_to`: an organization may have millions)."""
        order = sorted_by(sort_column(self.SORTS, request), request.descending)
        wanted = _wanted(account_pk, status, statuses, schema_name, start, end)
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            if wanted is None:
                return Counted(items=[], total=0)
            events, pending, taken = self._events_read(clickhouse, wanted)
            end_at = request.offset + request.size
            found = events.newest(
                self.org_id, wanted, leave_out=pending.keys(), descending=request.descending, limit=end_at
            )
            items = sorted(found + taken, key=lambda e: e.pk, reverse=request.descending)[request.offset : end_at]
            total = events.count(self.org_id, wanted, leave_out=pending.keys(), up_to=count_up_to) + len(taken)
            if count_up_to is not None and total > count_up_to:
                return Counted(items=items, total=count_up_to, more=True)
            return Counted(items=items, total=total)
        return self.counted_page(self._filtered(wanted), order, request, cap=count_up_to)

    def _filtered(self, wanted: EventFilter | None) -> Any:
        """The events `wanted` takes, in the database itself (None: none)."""
        stmt = self.scoped(Event)
        if wanted is None:
            return stmt.where(false())
        if wanted.account_pk is not None:
            stmt = stmt.where(Event.account_pk == wanted.account_pk)
        if wanted.statuses is not None:
            stmt = stmt.where(Event.status.in_(sorted(wanted.statuses)))
        if wanted.schema_names is not None:
            stmt = stmt.where(Event.schema_name.in_(sorted(wanted.schema_names)))
        if wanted.start is not None:
            stmt = stmt.where(Event.timestamp >= wanted.start)
        if wanted.end is not None:
            stmt = stmt.where(Event.timestamp < wanted.end)
        return stmt

    def by_pk(self, pk: str) -> Event | None:
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            return next(iter(self._clickhouse_events(clickhouse, EventFilter(pks=[pk]))), None)
        return self.session.scalar(self.scoped(Event).where(Event.pk == pk))

    def by_event_id(self, event_id: str) -> list[Event]:
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            return self._clickhouse_events(clickhouse, EventFilter(event_id=event_id))
        return list(self.session.scalars(self.scoped(Event).where(Event.event_id == event_id).order_by(Event.pk)))

    # -- corrections -------------------------------------------------------------------------------------------
    def lock_event(self, pk: str) -> Event | None:
        """The event, re-read under a row lock (PostgreSQL; SQLite's writer already holds the only write lock), so
        that two corrections of one event run one after the other and the second sees the first's status. With events
        in ClickHouse, the lock is a transaction-scoped advisory lock of the event on PostgreSQL, taken before the
        event is read (its newest version, the outbox's included)."""
        if clickhouse_of(self.session) is not None:
            if self._is_postgresql():
                key = f"event:{self.org_id}:{pk}"
                self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
            return self.by_pk(pk)
        stmt = self.scoped(Event).where(Event.pk == pk).with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(stmt).one_or_none()

    def set_status(self, event: Event, status: str, description: str | None, now: datetime) -> None:
        """Change a stored event's status (a correction's, under `lock_event`). With events in ClickHouse: the event's
        next version, as an outbox batch; a named-license event's row here changes too (licenses/named.py)."""
        event.status = status
        event.status_description = description
        if clickhouse_of(self.session) is None:
            self.session.flush()
            return
        event.clickhouse_version += 1
        self._to_outbox("[]", _json([outbox_row(event, event.clickhouse_version)]), now)
        if event.schema_name == NAMED_LICENSE:
            self.session.execute(
                update(Event)
                .where(Event.org_id == self.org_id, Event.pk == event.pk)
                .values(status=status, status_description=description)
            )

    def release_id(self, event_id: str) -> None:
        """Give the id back: an event with it may be ingested again (a correction reverted the one that held it)."""
        self.session.execute(delete(EventId).where(EventId.org_id == self.org_id, EventId.event_id == event_id))


def _wanted(
    account_pk: str | None,
    status: str | None,
    statuses: Collection[str] | None,
    schema_name: str | None,
    start: datetime | None,
    end: datetime | None,
) -> EventFilter | None:
    """The events API's filters as an EventFilter, whichever store reads them; None when they take nothing (a status
    that is not one of `statuses`)."""
    if status is not None:
        if statuses is not None and status not in statuses:
            return None
        statuses = {status}
    return EventFilter(
        account_pk=account_pk,
        statuses=None if statuses is None else set(statuses),
        schema_names=None if schema_name is None else {schema_name},
        start=start,
        end=end,
    )


def _in_time(begun: float) -> None:
    """Refuse a read of ClickHouse that outlasted READ_LIMIT: the rows it stood on may have been deleted meanwhile."""
    if time.monotonic() - begun > READ_LIMIT.total_seconds():
        slow = f"a usage read took longer than {READ_LIMIT.total_seconds():g} s: try again"
        raise ClickHouseError(slow, public=slow)
