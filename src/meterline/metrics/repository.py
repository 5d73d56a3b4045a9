"""The SQL of MetricsApi: counts of events and sums of usage rollups, per period and per group (per pricing cycle:
the rollups of each cycle piece an invoice bills).

These are read-only queries over the event store's tables (`events`, `usage_rollups`), kept here so that the
store's own module stays about ingestion. Each one is a single statement whatever the number of periods: the
period of a row is a CASE over the period boundaries, nested so that a row takes about log2(periods) comparisons
(`CASE WHEN t < b_mid THEN (CASE ...) ELSE (CASE ...) END`); it needs no date functions and works the same on
both engines. It is computed in a subquery and grouped outside, because PostgreSQL cannot tell that the same CASE
with freshly bound parameters in GROUP BY is the selected one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, case, func, literal_column, or_, select

from meterline.accounts.models import Account
from meterline.core.money import EXACT, exact_sum
from meterline.core.repository import OrgRepository
from meterline.events.clickhouse import ClickHouseUsage
from meterline.events.clickhouse_events import EventFilter
from meterline.events.models import Event, UsageRollup
from meterline.events.store import EventStore
from meterline.events.usage_store import clickhouse_of
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import STANDARD

EventGroup = Literal["account", "schema", "status"]
UsageGroup = Literal["account", "meter"]
GroupKey = tuple[Any, ...]


def _period_of(column: Any, starts: Sequence[datetime], lo: int = 0, hi: int | None = None) -> ColumnElement[Any]:
    """Index of the period that holds `column` (rows are already inside [starts[0], end)): a CASE that halves the
    periods at each level, so a row takes about log2(periods) comparisons rather than one per period."""
    hi = len(starts) if hi is None else hi
    if hi - lo == 1:
        return literal_column(str(lo))
    mid = (lo + hi) // 2
    return case((column < starts[mid], _period_of(column, starts, lo, mid)), else_=_period_of(column, starts, mid, hi))


class MetricsRepository(OrgRepository):
    def _is_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def event_counts(
        self,
        starts: Sequence[datetime],
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None = None,
        account_refs: set[str] | None = None,
        schema_names: set[str] | None = None,
        statuses: set[str] | None = None,
        group: EventGroup | None = None,
    ) -> dict[tuple[int, GroupKey], int]:
        """Events with timestamp in [start, end), per (period index, group key). None filters are not applied;
        an empty set matches nothing. `account_refs` (with `account_pks`): also the events that reached no account
        sent with one of these accountIds. Keys: account -> (account_pk, account_ref as sent), schema -> (name,),
        status -> (status,), no group -> ()."""
        if account_pks is not None and not account_pks and not account_refs:
            return {}
        if any(f is not None and not f for f in (schema_names, statuses)):
            return {}
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:  # events are kept there (docs/clickhouse.md, "Events")
            names: dict[str | None, tuple[str, ...]] = {
                None: (),
                "account": ("account_pk", "account_ref"),
                "schema": ("schema_name",),
                "status": ("status",),
            }
            wanted = EventFilter(account_pks, account_refs, schema_names, statuses, start, end)
            return EventStore(self.session, self.org_id).event_counts(clickhouse, wanted, starts, names[group])
        columns = {
            None: (),
            "account": (Event.account_pk, Event.account_ref),
            "schema": (Event.schema_name,),
            "status": (Event.status,),
        }[group]
        inner = select(_period_of(Event.timestamp, starts).label("period"), *columns).where(
            Event.org_id == self.org_id, Event.timestamp >= start, Event.timestamp < end
        )
        inner = inner.where(*self._event_filters(account_pks, account_refs, schema_names, statuses))
        sub = inner.subquery()
        keys = [sub.c[c.key] for c in columns]
        stmt = select(sub.c.period, *keys, func.count()).group_by(sub.c.period, *keys)
        return {(int(row[0]), tuple(row[1:-1])): int(row[-1]) for row in self.session.execute(stmt)}

    def event_groups(
        self,
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None = None,
        account_refs: set[str] | None = None,
        schema_names: set[str] | None = None,
        statuses: set[str] | None = None,
        group: EventGroup,
        limit: int,
    ) -> int:
        """How many groups `event_counts` would give (an account: its pk, or the accountId as sent of events that
        reached none), counted in SQL up to `limit` + 1 and no further."""
        if account_pks is not None and not account_pks and not account_refs:
            return 0
        if any(f is not None and not f for f in (schema_names, statuses)):
            return 0
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            wanted = EventFilter(account_pks, account_refs, schema_names, statuses, start, end)
            return EventStore(self.session, self.org_id).event_groups(clickhouse, wanted, group, limit)
        key = {
            "account": case((Event.account_pk.is_(None), Event.account_ref), else_=Event.account_pk),
            "schema": Event.schema_name,
            "status": Event.status,
        }[group]
        inner: Any = select(key.label("k")).where(
            Event.org_id == self.org_id,
            Event.timestamp >= start,
            Event.timestamp < end,
            *self._event_filters(account_pks, account_refs, schema_names, statuses),
        )
        return self._distinct_up_to(inner, limit)

    def _distinct_up_to(self, inner: Any, limit: int) -> int:
        """The number of distinct rows of `inner` (one column, k), up to `limit` + 1: the database stops there."""
        sub = inner.distinct().limit(limit + 1).subquery()
        return int(self.session.scalar(select(func.count()).select_from(sub)) or 0)

    def _event_filters(
        self,
        account_pks: set[str] | None,
        account_refs: set[str] | None,
        schema_names: set[str] | None,
        statuses: set[str] | None,
    ) -> list[ColumnElement[Any]]:
        where: list[ColumnElement[Any]] = []
        if account_pks is not None:
            matched: ColumnElement[bool] = Event.account_pk.in_(sorted(account_pks))
            if account_refs:
                matched = or_(matched, and_(Event.account_pk.is_(None), Event.account_ref.in_(sorted(account_refs))))
            where.append(matched)
        if schema_names is not None:
            where.append(Event.schema_name.in_(sorted(schema_names)))
        if statuses is not None:
            where.append(Event.status.in_(sorted(statuses)))
        return where

    def usage_sums(
        self,
        starts: Sequence[datetime],
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None = None,
        meter_ids: set[str] | None = None,
        group: UsageGroup | None = None,
    ) -> dict[tuple[int, GroupKey], Decimal]:
        """Rollup quantities with bucket_start in [start, end), summed per (period index, group key). Keys:
        account -> (account_pk,), meter -> (meter_id,), no group -> ()."""
        return self._period_sums(False, starts, start, end, account_pks, meter_ids, group)

    def _usage_rows(
        self,
        cycle: bool,
        head: list[Any],
        start: datetime,
        end: datetime,
        account_pks: set[str] | None,
        meter_ids: set[str] | None,
    ) -> Any:
        """SELECT `head` over the rollups of USAGE (bucket start in [start, end)) or of USAGE_FOR_CYCLE (the cycle
        pieces whose cycle starts in [start, end)), filtered."""
        if not cycle:
            inner = select(*head).where(
                UsageRollup.org_id == self.org_id, UsageRollup.bucket_start >= start, UsageRollup.bucket_start < end
            )
        else:
            inner = (
                select(*head)
                .select_from(UsageRollup)
                .join(
                    Invoice,
                    and_(
                        Invoice.org_id == self.org_id,
                        Invoice.account_pk == UsageRollup.account_pk,
                        UsageRollup.bucket_start >= Invoice.start_at,
                        UsageRollup.bucket_start < Invoice.end_at,
                    ),
                )
                .where(
                    UsageRollup.org_id == self.org_id,
                    Invoice.invoice_type == STANDARD,
                    Invoice.cycle_start >= start,
                    Invoice.cycle_start < end,
                )
            )
        if account_pks is not None:
            inner = inner.where(UsageRollup.account_pk.in_(sorted(account_pks)))
        if meter_ids is not None:
            inner = inner.where(UsageRollup.meter_id.in_(sorted(meter_ids)))
        return inner

    def _clickhouse_rows(
        self,
        clickhouse: ClickHouseUsage,
        cycle: bool,
        start: datetime,
        end: datetime,
        account_pks: set[str] | None,
        meter_ids: set[str] | None,
    ) -> list[tuple[str, str, datetime, Decimal]]:
        """What `_usage_rows` selects, where usage is kept in ClickHouse: (account, meter, when, quantity), `when`
        the bucket's start (USAGE) or the cycle start of each STANDARD invoice whose billed period holds the bucket
        (USAGE_FOR_CYCLE: a bucket counts once per such invoice, as the SQL's join)."""
        store = EventStore(self.session, self.org_id)
        if not cycle:
            found = store.usage_buckets(clickhouse, start, end, account_pks=account_pks, meter_ids=meter_ids)
            return [(account_pk, meter_id, bucket, quantity) for account_pk, meter_id, bucket, quantity, _ in found]
        stmt = select(Invoice.account_pk, Invoice.start_at, Invoice.end_at, Invoice.cycle_start).where(
            Invoice.org_id == self.org_id,
            Invoice.invoice_type == STANDARD,
            Invoice.cycle_start >= start,
            Invoice.cycle_start < end,
        )
        if account_pks is not None:
            stmt = stmt.where(Invoice.account_pk.in_(sorted(account_pks)))
        pieces: dict[str, list[tuple[datetime, datetime, datetime]]] = defaultdict(list)
        for account_pk, piece_start, piece_end, cycle_start in self.session.execute(stmt).all():
            if cycle_start is not None:  # (the filter above already leaves no other)
                pieces[account_pk].append((piece_start, piece_end, cycle_start))
        if not pieces:
            return []
        low = min(p[0] for ps in pieces.values() for p in ps)
        high = max(p[1] for ps in pieces.values() for p in ps)
        buckets = store.usage_buckets(clickhouse, low, high, account_pks=set(pieces), meter_ids=meter_ids)
        return [
            (account_pk, meter_id, cycle_start, quantity)
            for account_pk, meter_id, bucket, quantity, _ in buckets
            for piece_start, piece_end, cycle_start in pieces[account_pk]
            if piece_start <= bucket < piece_end
        ]

    def usage_groups(
        self,
        cycle: bool,
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None = None,
        meter_ids: set[str] | None = None,
        group: Literal["account", "customer", "meter"],
        limit: int,
    ) -> int:
        """How many groups `usage_sums` (or `cycle_usage_sums` when `cycle`) would give, counted in SQL up to
        `limit` + 1 and no further; "customer": the accounts' customers (an account gone: its pk)."""
        if any(f is not None and not f for f in (account_pks, meter_ids)):
            return 0
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            rows = self._clickhouse_rows(clickhouse, cycle, start, end, account_pks, meter_ids)
            if group == "customer":
                customers = dict(
                    self.session.execute(
                        select(Account.pk, Account.customer_pk).where(
                            Account.org_id == self.org_id, Account.pk.in_(sorted({row[0] for row in rows}))
                        )
                    ).all()
                )
                keys = {customers.get(row[0]) or row[0] for row in rows}
            else:
                keys = {row[0] if group == "account" else row[1] for row in rows}
            return min(len(keys), limit + 1)
        if group == "customer":
            customer = (
                select(Account.customer_pk)
                .where(Account.org_id == self.org_id, Account.pk == UsageRollup.account_pk)
                .scalar_subquery()
            )
            key: Any = func.coalesce(customer, UsageRollup.account_pk)
        else:
            key = UsageRollup.account_pk if group == "account" else UsageRollup.meter_id
        return self._distinct_up_to(
            self._usage_rows(cycle, [key.label("k")], start, end, account_pks, meter_ids), limit
        )

    def cycle_usage_sums(
        self,
        starts: Sequence[datetime],
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None = None,
        meter_ids: set[str] | None = None,
        group: UsageGroup | None = None,
    ) -> dict[tuple[int, GroupKey], Decimal]:
        """USAGE_FOR_CYCLE: the usage of each pricing cycle piece whose cycle starts in [start, end), summed per
        (period index of the cycle's start, group key). A piece is what one STANDARD invoice bills (one per account,
        schedule and cycle, whatever its status): the account's rollups in its billed period [start_at, end_at).
        Keys as `usage_sums`."""
        return self._period_sums(True, starts, start, end, account_pks, meter_ids, group)

    def _period_sums(
        self,
        cycle: bool,
        starts: Sequence[datetime],
        start: datetime,
        end: datetime,
        account_pks: set[str] | None,
        meter_ids: set[str] | None,
        group: UsageGroup | None,
    ) -> dict[tuple[int, GroupKey], Decimal]:
        """`usage_sums` (rollups by bucket start) or `cycle_usage_sums` (by the start of the cycle they are billed
        in): quantities summed per (period index, group key)."""
        if any(f is not None and not f for f in (account_pks, meter_ids)):
            return {}
        clickhouse = clickhouse_of(self.session)
        if clickhouse is not None:
            sums: dict[tuple[int, GroupKey], Decimal] = {}
            for account_pk, meter_id, when, quantity in self._clickhouse_rows(
                clickhouse, cycle, start, end, account_pks, meter_ids
            ):
                keyed = {None: (), "account": (account_pk,), "meter": (meter_id,)}[group]
                key = (bisect_right(starts, when) - 1, keyed)
                sums[key] = EXACT.add(sums.get(key, Decimal(0)), quantity)
            return sums
        columns = {None: (), "account": (UsageRollup.account_pk,), "meter": (UsageRollup.meter_id,)}[group]
        period = _period_of(Invoice.cycle_start if cycle else UsageRollup.bucket_start, starts).label("period")
        inner = self._usage_rows(cycle, [period, *columns, UsageRollup.quantity], start, end, account_pks, meter_ids)
        return self._summed(inner.subquery(), [c.key for c in columns])

    def _summed(self, sub: Any, key_names: list[str]) -> dict[tuple[int, GroupKey], Decimal]:
        """`sub`'s quantities summed per (period, keys...), exactly on both engines."""
        keys = [sub.c[k] for k in key_names]
        if self._is_postgresql():
            stmt = select(sub.c.period, *keys, func.sum(sub.c.quantity)).group_by(sub.c.period, *keys)
            return {(int(row[0]), tuple(row[1:-1])): Decimal(row[-1]) for row in self.session.execute(stmt)}
        # SQLite keeps decimals as text, which SQL cannot add exactly: each group's quantities come back as one
        # string and are added here, exactly (one row per period and group, not one per bucket).
        quantities = func.group_concat(sub.c.quantity, " ", type_=String)
        stmt = select(sub.c.period, *keys, quantities).group_by(sub.c.period, *keys)
        return {
            (int(row[0]), tuple(row[1:-1])): exact_sum(map(Decimal, row[-1].split(" ")))
            for row in self.session.execute(stmt)
        }
