"""MetricsApi: events counted, usage summed, license quantities and revenue, per calendar period of the
organization's time zone.

- The periods are those of `metrics.periods`: HOUR, DAY, WEEK (from Monday) or MONTH, in `org.timezone`. Each data
  point is one period, labelled with its start; the first and the last period count only what falls inside
  [startTime, endTime), so nothing outside the range is ever counted. Every period gets a point (0 when empty),
  so `timestamps` and `metricValues` are parallel. At most 300 periods per query.
- EVENTS counts stored events by their timestamp. EVENT_STATUS defaults to PROCESSED + UNPROCESSED (Togai's
  default) without the rejected duplicates: every status ingestion gives, but not REVERTED, so an event a correction
  replaced counts once (its re-ingested copy), nor INGESTION_FAILED_DUPLICATE_EVENT, so a client's retries of an
  ingested event add nothing; both can be asked for. ACCOUNT_ID also matches the accountId as sent of the events
  that reached no account (which groupBy ACCOUNT_ID shows under it).
- USAGE (and METER_USAGE, which it stands for) sums the 15-minute usage rollups by bucket start, so its startTime
  and endTime must fall on a 15-minute boundary. Period starts of real time zones do (+05:30, +05:45 included).
- USAGE_FOR_CYCLE sums the usage of each account's pricing cycles (the billed period of each cycle's STANDARD
  invoice), counted in the period that holds the cycle's start; cycles that start in [startTime, endTime).
- NAMED_LICENSE_USAGE: per period, the largest quantity of each license in force in the period (billing-rules D7's
  reading), added up over accounts: a NAMED_LICENSE add-on's quantity is the number of its named seats in force
  (`togai-named-license` events, licenses/named.py), a LICENSE's the quantity of its license updates.
- REVENUE: the totals of finalized invoices that are not voided, in the period that holds their invoice date (when
  they were invoiced); REVENUE_FOR_CYCLE: the invoices of each account's pricing cycles (STANDARD and
  STANDARD_ADVANCED, DRAFTs included as they stand now), in the period that holds the cycle's start. Both come from
  the invoices themselves (`invoicing.reports`), so they agree with them to the cent. Split per billable
  (`billable_parts`) when grouped or filtered by BILLABLE_ID or USAGE_METER_ID.
- CURRENCY: INVOICE adds amounts of one currency only (400 when a series would mix them); BASE (the default)
  converts other currencies to the organization's base currency with the organization's JSON setting
  `metrics.exchangeRates` ({"EUR": 1.08}: base units per unit), each period's amount of a currency rounded once to
  the base currency's minor unit. Never a network call.
- Filters of one query all apply (AND); the values of one filter are alternatives (OR). An id that names nothing
  of the organization matches nothing.
- Bounds: MAX_SERIES series per query (counted in SQL before any series is built where the groups come from SQL)
  and MAX_VALUES values per response; the invoices read one by one are read once per request and count against
  one budget (MAX_INVOICES) shared by its queries. Amounts are written at their currency's scale; BASE converts
  each series on its own, so groups' rounded values may not add up to the ungrouped series to the cent.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterline.accounts.repository import AccountRepository
from meterline.core import numbers, text
from meterline.core.errors import BadRequest
from meterline.core.money import EXACT, is_currency, round_money
from meterline.customers.repository import CustomerRepository
from meterline.events.pipeline import bucket_of
from meterline.events.schemas import IngestionStatusName
from meterline.invoicing import reports
from meterline.licenses.named import NamedSeats
from meterline.licenses.repository import LicenseRepository
from meterline.metering.repository import MeteringRepository
from meterline.metrics.periods import MAX_POINTS, TooManyPeriods, period_starts
from meterline.metrics.repository import GroupKey, MetricsRepository
from meterline.metrics.schemas import GetMetricsRequest, MetricQuery
from meterline.rating import licenses
from meterline.settings.repository import SettingRepository
from meterline.settings.service import full_setting_id
from meterline.tenancy.context import Context

INGESTION_STATUSES: tuple[str, ...] = get_args(IngestionStatusName)
STATUS_CLASSES: dict[str, frozenset[str]] = {
    "PROCESSED": frozenset(s for s in INGESTION_STATUSES if s.startswith("INGESTION_COMPLETED")),
    "UNPROCESSED": frozenset(s for s in INGESTION_STATUSES if s.startswith("INGESTION_FAILED")),
    "IN_PROGRESS": frozenset({"INGESTION_IN_PROGRESS"}),
}
# The default leaves out the rejected duplicates (an event id already ingested): a client retrying an event would
# otherwise add one event per retry. They stay selectable by name (EVENT_STATUS INGESTION_FAILED_DUPLICATE_EVENT).
DUPLICATE = "INGESTION_FAILED_DUPLICATE_EVENT"
DEFAULT_STATUSES = (STATUS_CLASSES["PROCESSED"] | STATUS_CLASSES["UNPROCESSED"]) - {DUPLICATE}

# metric -> what computes it
KINDS = {
    "EVENTS": "EVENTS",
    "USAGE": "USAGE",
    "METER_USAGE": "USAGE",
    "USAGE_FOR_CYCLE": "USAGE_FOR_CYCLE",
    "NAMED_LICENSE_USAGE": "LICENSES",
    "REVENUE": "REVENUE",
    "REVENUE_FOR_CYCLE": "REVENUE_FOR_CYCLE",
}
COMMON = ("ACCOUNT_ID", "CUSTOMER_ID", "ORGANIZATION_ID")
BILLABLE = ("USAGE_METER_ID", "BILLABLE_ID")
FILTERS = {
    "EVENTS": (*COMMON, "SCHEMA_NAME", "EVENT_STATUS"),
    "USAGE": (*COMMON, *BILLABLE),
    "USAGE_FOR_CYCLE": (*COMMON, *BILLABLE),
    "REVENUE": (*COMMON, *BILLABLE),
    "REVENUE_FOR_CYCLE": (*COMMON, *BILLABLE),
    "LICENSES": (*COMMON, "BILLABLE_ID"),
}
GROUPS = {
    "EVENTS": ("ACCOUNT_ID", "SCHEMA_NAME", "EVENT_STATUS", "RAW_EVENT_STATUS"),
    "USAGE": ("ACCOUNT_ID", "CUSTOMER_ID", *BILLABLE),
    "USAGE_FOR_CYCLE": ("ACCOUNT_ID", "CUSTOMER_ID", *BILLABLE),
    "REVENUE": ("ACCOUNT_ID", "CUSTOMER_ID", *BILLABLE),
    "REVENUE_FOR_CYCLE": ("ACCOUNT_ID", "CUSTOMER_ID", *BILLABLE),
    "LICENSES": ("ACCOUNT_ID", "CUSTOMER_ID", "BILLABLE_ID"),
}
REVENUE_KINDS = ("REVENUE", "REVENUE_FOR_CYCLE")
CURRENCY_MODES = ("BASE", "INVOICE")
RATES_NAMESPACE, RATES_SETTING = "metrics", "exchangeRates"
MAX_INVOICES = 2000  # invoices a request reads one by one (split per billable, or DRAFTs computed now), in all
MAX_LICENSE_UPDATES = 10000
# A grouped query gives at most MAX_SERIES series, and a response at most MAX_VALUES values (series x periods, over
# all its queries): beyond, 400 asking for a filter or a narrower query. Counted in SQL before the series are built
# wherever the groups come from SQL (EVENTS, USAGE, USAGE_FOR_CYCLE), else from what was read (itself bounded).
MAX_SERIES = 100
MAX_VALUES = 30000


def status_class(status: str) -> str:
    """EVENT_STATUS as a group: PROCESSED, UNPROCESSED, IN_PROGRESS, or the status itself (REVERTED...)."""
    for name, members in STATUS_CLASSES.items():
        if status in members:
            return name
    if status.startswith("INGESTION_COMPLETED"):
        return "PROCESSED"
    if status.startswith("INGESTION_FAILED"):
        return "UNPROCESSED"
    return status


@dataclass
class Series:
    group: tuple[str, str] | None  # (fieldName, fieldValue)
    timestamps: list[datetime]
    values: list[Decimal]


@dataclass
class QueryResult:
    id: str
    name: str
    series: list[Series] = field(default_factory=list)


@dataclass
class _Plan:
    """A query checked and resolved: what its SQL needs."""

    query: MetricQuery
    kind: str  # a value of KINDS
    starts: list[datetime]
    nothing: bool = False  # a filter that can match nothing (another organization's id...)
    account_pks: set[str] | None = None
    account_refs: set[str] | None = None  # EVENTS: accountIds as sent, of events that reached no account
    schema_names: set[str] | None = None
    statuses: set[str] | None = None
    meter_ids: set[str] | None = None
    billables: set[str] | None = None  # revenue and licenses: BILLABLE_ID values
    currency: str = "BASE"  # revenue: BASE or INVOICE


def _intersect(current: set[str] | None, values: set[str]) -> set[str]:
    return values if current is None else current & values


class MetricsService:
    def __init__(self, ctx: Context, *, bounded: bool = True) -> None:
        """`bounded`: the series and values bounds of POST /metrics apply (the console's dashboard, whose queries
        are its own, asks without them: its groups are the organization's meters and event statuses)."""
        self.ctx = ctx
        self.bounded = bounded
        self.repo = MetricsRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self._rates: dict[str, Decimal] | None = None
        self._reads: reports.InvoiceReads | None = None  # the invoices read one by one, shared by the queries
        self._values_left = MAX_VALUES  # the response's values not spent yet (series x periods)

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.ctx.org.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # refused when the organization was created
            return ZoneInfo("UTC")

    def get(self, request: GetMetricsRequest) -> list[QueryResult]:
        start, end = request.start_time, request.end_time
        if start >= end:
            raise BadRequest("startTime must be before endTime")
        zone = self._zone()
        # Every query is checked before any runs: a bad one fails the request without spending work.
        plans = [self._plan(q, start, end, zone) for q in request.metric_queries]
        return [self._run(plan, start, end) for plan in plans]

    def invoiced_per_currency(self, start: datetime, end: datetime, period: str) -> dict[str, list[Decimal]]:
        """The console's revenue charts: REVENUE (invoices finalized and not voided, by invoice date) per period,
        in each invoice currency, for the currencies that have any. The periods are those of `get`."""
        plan = self._plan(
            MetricQuery.model_validate({"id": "revenue", "name": "REVENUE", "aggregationPeriod": period}),
            start,
            end,
            self._zone(),
        )
        out: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(plan.starts))
        for (period_index, _, currency, _), amount in self._revenue_items(plan, start, end).items():
            out[currency][period_index] = EXACT.add(out[currency][period_index], amount)
        return dict(sorted(out.items()))

    # -- checking and resolving --------------------------------------------------------------------------------
    def _plan(self, query: MetricQuery, start: datetime, end: datetime, zone: ZoneInfo) -> _Plan:
        label = f"query {query.id!r}"
        kind = KINDS[query.name]
        if query.group_by is not None and query.group_by not in GROUPS[kind]:
            raise BadRequest(
                f"{label}: groupBy {query.group_by} is not supported for {query.name} "
                f"(use one of {', '.join(GROUPS[kind])}, or none)"
            )
        currency = "BASE"
        for key, value in sorted((query.configs or {}).items()):
            if kind not in REVENUE_KINDS or key != "CURRENCY":
                allowed = "the only config is CURRENCY" if kind in REVENUE_KINDS else "it takes no configs"
                raise BadRequest(f"{label}: config {key[:64]!r} is not used by {query.name} ({allowed})")
            if value not in CURRENCY_MODES:
                raise BadRequest(f"{label}: configs.CURRENCY must be BASE or INVOICE, got {value[:40]!r}")
            currency = value
        if kind == "USAGE":
            for name, moment in (("startTime", start), ("endTime", end)):
                if bucket_of(moment) != moment:
                    raise BadRequest(
                        f"{label}: {name} must fall on a 15-minute boundary for {query.name} "
                        "(usage is kept in 15-minute buckets)"
                    )
        try:
            starts = period_starts(start, end, query.aggregation_period, zone, limit=MAX_POINTS)
        except TooManyPeriods:
            raise BadRequest(
                f"{label}: at most {MAX_POINTS} data points per query; {query.aggregation_period} periods from "
                f"startTime to endTime are more than that"
            ) from None
        plan = _Plan(query=query, kind=kind, starts=starts, currency=currency)
        for entry in query.filters or []:
            self._apply_filter(plan, label, entry.field_name, set(entry.field_values))
        if kind == "EVENTS" and plan.statuses is None:
            plan.statuses = set(DEFAULT_STATUSES)
        return plan

    def _meter_ids(self, values: set[str]) -> set[str]:
        """Meter ids; Togai documents the values as meter names, so a live meter's name is taken too."""
        names = {m.name: m.id for m in MeteringRepository(self.ctx.session, self.ctx.org_id).usable_meters()}
        return values | {names[v] for v in values if v in names}

    def _apply_filter(self, plan: _Plan, label: str, name: str, values: set[str]) -> None:
        if name not in FILTERS[plan.kind]:
            raise BadRequest(
                f"{label}: filter {name} is not supported for {plan.query.name} (use {', '.join(FILTERS[plan.kind])})"
            )
        if name == "ORGANIZATION_ID":
            plan.nothing = plan.nothing or self.ctx.org_id not in values
        elif name == "ACCOUNT_ID":
            plan.account_pks = _intersect(plan.account_pks, set(self.accounts.pks_by_ids(values).values()))
            # EVENTS: an event that reached no account is grouped under its accountId as sent; it matches that too
            plan.account_refs = _intersect(plan.account_refs, values)
        elif name == "CUSTOMER_ID":
            plan.account_pks = _intersect(plan.account_pks, self.accounts.pks_of_customer_ids(values))
            plan.account_refs = _intersect(plan.account_refs, set())  # an event that reached no account has none
        elif name == "SCHEMA_NAME":
            plan.schema_names = _intersect(plan.schema_names, values)
        elif name == "EVENT_STATUS":
            statuses: set[str] = set()
            for value in values:
                if value in STATUS_CLASSES:
                    statuses |= STATUS_CLASSES[value]
                elif value in INGESTION_STATUSES:
                    statuses.add(value)
                else:
                    raise BadRequest(
                        f"{label}: EVENT_STATUS {value[:40]!r} is not PROCESSED, UNPROCESSED, IN_PROGRESS or an "
                        "ingestion status"
                    )
            plan.statuses = _intersect(plan.statuses, statuses)
        elif name == "USAGE_METER_ID" or (name == "BILLABLE_ID" and plan.kind in ("USAGE", "USAGE_FOR_CYCLE")):
            # usage's billables are its meters
            plan.meter_ids = _intersect(plan.meter_ids, self._meter_ids(values))
        else:  # BILLABLE_ID of revenue (a meter, an add-on, an entitlement card; TRUE_UP...) or of licenses
            found = self._meter_ids(values) if plan.kind in REVENUE_KINDS else values
            plan.billables = _intersect(plan.billables, found)

    # -- running -----------------------------------------------------------------------------------------------
    def _run(self, plan: _Plan, start: datetime, end: datetime) -> QueryResult:
        query = plan.query
        group_by = query.group_by
        # (period, group key) -> {currency: amount}; a currency of "" for what has none (events, usage)
        cells: dict[tuple[int, GroupKey], dict[str, Decimal]] = {}
        if plan.nothing:
            pass
        elif plan.kind in REVENUE_KINDS:
            if group_by in ("ACCOUNT_ID", "CUSTOMER_ID") and self.bounded:
                self._check_series(plan, self._group_count(plan, start, end))
            for (period, account_pk, currency, billable), amount in self._revenue_items(plan, start, end).items():
                key = _revenue_key(group_by, account_pk, billable)
                found = cells.setdefault((period, key), {})
                found[currency] = EXACT.add(found.get(currency, Decimal(0)), amount)
        else:
            if group_by is not None and self.bounded:
                self._check_series(plan, self._group_count(plan, start, end))
            rows = self._quantities(plan, start, end)
            cells = {k: {"": Decimal(v)} for k, v in rows.items()}
        labels = self._labels(group_by, {key for _, key in cells})
        self._check_series(plan, len(set(labels.values())) if group_by else 1)
        self._values_left -= (len(set(labels.values())) if group_by else 1) * len(plan.starts)
        n = len(plan.starts)
        by_label: dict[str | None, list[dict[str, Decimal]]] = defaultdict(lambda: [{} for _ in range(n)])
        if group_by is None:
            _ = by_label[None]  # one series, zeros when nothing matched
        for (period, key), amounts in cells.items():
            slot = by_label[labels[key] if group_by else None][period]  # several keys can share one label
            for currency, amount in amounts.items():
                slot[currency] = EXACT.add(slot.get(currency, Decimal(0)), amount)
        series = [
            Series(
                group=(group_by, label) if group_by and label is not None else None,
                timestamps=list(plan.starts),
                values=self._values(plan, label, slots),
            )
            for label, slots in sorted(by_label.items(), key=lambda item: item[0] or "")
        ]
        return QueryResult(id=query.id, name=query.name, series=series)

    def _group_count(self, plan: _Plan, start: datetime, end: datetime) -> int:
        """How many series a grouped EVENTS, USAGE or USAGE_FOR_CYCLE query (or a revenue one by account or
        customer) would give, counted in SQL up to MAX_SERIES + 1."""
        group_by = plan.query.group_by
        if plan.kind == "EVENTS":
            group = {"ACCOUNT_ID": "account", "SCHEMA_NAME": "schema"}.get(group_by or "", "status")
            return self.repo.event_groups(
                start,
                end,
                account_pks=plan.account_pks,
                account_refs=plan.account_refs,
                schema_names=plan.schema_names,
                statuses=plan.statuses,
                group=group,  # type: ignore[arg-type]
                limit=MAX_SERIES,
            )
        if plan.kind in ("USAGE", "USAGE_FOR_CYCLE"):
            usage_group = {"ACCOUNT_ID": "account", "CUSTOMER_ID": "customer"}.get(group_by or "", "meter")
            return self.repo.usage_groups(
                plan.kind == "USAGE_FOR_CYCLE",
                start,
                end,
                account_pks=plan.account_pks,
                meter_ids=plan.meter_ids,
                group=usage_group,  # type: ignore[arg-type]
                limit=MAX_SERIES,
            )
        if plan.kind in REVENUE_KINDS:  # by account or customer; per billable, the invoices read are bounded
            return reports.revenue_groups(
                self.ctx,
                start,
                end,
                reports.BY_INVOICE_DATE if plan.kind == "REVENUE" else reports.BY_CYCLE_START,
                plan.account_pks,
                drafts=plan.kind == "REVENUE_FOR_CYCLE",
                by_customer=group_by == "CUSTOMER_ID",
                limit=MAX_SERIES,
            )
        return 0  # licenses: bounded by the updates read (MAX_LICENSE_UPDATES), checked once computed

    def _check_series(self, plan: _Plan, series: int) -> None:
        """400 beyond MAX_SERIES series in a query, or MAX_VALUES values (series x periods) in the response."""
        if not self.bounded:
            return
        query, periods = plan.query, len(plan.starts)
        if series > MAX_SERIES:
            raise BadRequest(
                f"query {query.id!r}: more than {MAX_SERIES} series ({query.group_by} values with data); "
                f"filter by {query.group_by} or another field, or take a shorter range"
            )
        if series * periods > self._values_left:
            raise BadRequest(
                f"query {query.id!r}: the response would hold more than {MAX_VALUES} values (series x periods over "
                f"all queries; this one: {series} x {periods}); filter, take fewer queries, a shorter range or a "
                "longer aggregationPeriod"
            )

    def _quantities(self, plan: _Plan, start: datetime, end: datetime) -> dict[tuple[int, GroupKey], Decimal | int]:
        group_by = plan.query.group_by
        if plan.kind == "EVENTS":
            group = {
                None: None,
                "ACCOUNT_ID": "account",
                "SCHEMA_NAME": "schema",
                "EVENT_STATUS": "status",
                "RAW_EVENT_STATUS": "status",
            }[group_by]
            return dict(
                self.repo.event_counts(
                    plan.starts,
                    start,
                    end,
                    account_pks=plan.account_pks,
                    account_refs=plan.account_refs,
                    schema_names=plan.schema_names,
                    statuses=plan.statuses,
                    group=group,  # type: ignore[arg-type]
                )
            )
        if plan.kind == "LICENSES":
            return dict(self._license_quantities(plan, start, end))
        usage_group = {
            None: None,
            "ACCOUNT_ID": "account",
            "CUSTOMER_ID": "account",
            "USAGE_METER_ID": "meter",
            "BILLABLE_ID": "meter",
        }[group_by]
        sums = self.repo.usage_sums if plan.kind == "USAGE" else self.repo.cycle_usage_sums
        return dict(
            sums(
                plan.starts,
                start,
                end,
                account_pks=plan.account_pks,
                meter_ids=plan.meter_ids,
                group=usage_group,  # type: ignore[arg-type]
            )
        )

    def _license_quantities(self, plan: _Plan, start: datetime, end: datetime) -> dict[tuple[int, GroupKey], Decimal]:
        """Per period, the largest quantity of each (account, license) in force in the part of the period inside
        [start, end), added up per group key."""
        updates = LicenseRepository(self.ctx.session, self.ctx.org_id).steps_for(
            start, end, account_pks=plan.account_pks, license_ids=plan.billables, limit=MAX_LICENSE_UPDATES
        )
        if updates is None:
            raise BadRequest(
                f"query {plan.query.id!r}: more than {MAX_LICENSE_UPDATES} license updates to read; "
                "filter by ACCOUNT_ID, CUSTOMER_ID or BILLABLE_ID"
            )
        steps: dict[tuple[str, str], list[licenses.Step]] = defaultdict(list)
        for u in updates:
            steps[(u.account_pk, u.license_id)].append((u.effective_from, u.quantity))
        # named licenses: the number of their seats in force (licenses/named.py), as invoices price them
        seats = NamedSeats(self.ctx.session, self.ctx.org_id).steps_within(plan.account_pks, MAX_LICENSE_UPDATES)
        if seats is None:
            raise BadRequest(
                f"query {plan.query.id!r}: more than {MAX_LICENSE_UPDATES} named-license events to read; "
                "filter by ACCOUNT_ID or CUSTOMER_ID"
            )
        for account_pk, by_license in seats.items():
            for license_id, named in by_license.items():
                if plan.billables is None or license_id in plan.billables:
                    steps[(account_pk, license_id)] = list(named)
        group_by = plan.query.group_by
        out: dict[tuple[int, GroupKey], Decimal] = {}
        bounds = [max(s, start) for s in plan.starts] + [end]
        for (account_pk, license_id), found in steps.items():
            key: GroupKey = (license_id,) if group_by == "BILLABLE_ID" else (account_pk,) if group_by else ()
            # one sweep over the (account, license)'s updates and the periods
            for period, quantity in enumerate(licenses.largest_per_period(found, bounds)):
                if quantity:
                    out[(period, key)] = EXACT.add(out.get((period, key), Decimal(0)), quantity)
        return out

    def _revenue_items(self, plan: _Plan, start: datetime, end: datetime) -> dict[tuple[int, str, str, str], Decimal]:
        """(period, account pk, currency, billable or "") -> amount, from the invoices (`invoicing.reports`)."""
        group_by = plan.query.group_by
        split = plan.meter_ids is not None or plan.billables is not None or group_by in BILLABLE
        basis = reports.BY_INVOICE_DATE if plan.kind == "REVENUE" else reports.BY_CYCLE_START
        cycle = plan.kind == "REVENUE_FOR_CYCLE"
        out: dict[tuple[int, str, str, str], Decimal] = defaultdict(Decimal)
        if not split:
            for (period, account_pk, currency), total in reports.revenue_totals(
                self.ctx, plan.starts, start, end, basis, plan.account_pks
            ).items():
                out[(period, account_pk, currency, "")] = EXACT.add(out[(period, account_pk, currency, "")], total)
        if split or cycle:
            try:
                invoices = reports.invoice_revenue(
                    self.ctx,
                    start,
                    end,
                    basis,
                    account_pks=plan.account_pks,
                    finalized=split,
                    drafts=cycle,
                    split=split,
                    reads=self.invoice_reads(),
                )
            except reports.TooManyInvoices:
                what = "split per billable" if split else "DRAFT invoices computed now"
                raise BadRequest(
                    f"query {plan.query.id!r}: {plan.query.name} would take the request past {MAX_INVOICES} invoices "
                    f"read one by one ({what}; over all its queries, each invoice once); filter by ACCOUNT_ID or "
                    "CUSTOMER_ID, or take a shorter range"
                ) from None
            for invoice in invoices:
                period = bisect_right(plan.starts, invoice.at) - 1
                if invoice.parts is None:
                    parts = {"": invoice.total}
                else:
                    parts = {
                        b: v
                        for b, v in invoice.parts.items()
                        if (plan.billables is None or b in plan.billables)
                        and (plan.meter_ids is None or (b in invoice.usage and b in plan.meter_ids))
                        and (group_by != "USAGE_METER_ID" or b in invoice.usage)
                    }
                for billable, amount in parts.items():
                    if not amount:  # a line of 0 (a card without usage) is no revenue: no series of zeros
                        continue
                    k = (period, invoice.account_pk, invoice.currency, billable)
                    out[k] = EXACT.add(out[k], amount)
        return dict(out)

    def invoice_reads(self) -> reports.InvoiceReads:
        """The invoices this service has read one by one (a request's queries share them)."""
        if self._reads is None:
            self._reads = reports.InvoiceReads(self.ctx, MAX_INVOICES)
        return self._reads

    def _values(self, plan: _Plan, label: str | None, slots: list[dict[str, Decimal]]) -> list[Decimal]:
        """Each period's value: a quantity, or an amount in one currency (CURRENCY INVOICE, 400 if the series
        would mix currencies) or converted to the base currency (BASE)."""
        if plan.kind not in REVENUE_KINDS:
            return [slot.get("", Decimal(0)) for slot in slots]
        base = self.ctx.org.base_currency
        if plan.currency == "INVOICE":
            currencies = sorted({c for slot in slots for c in slot})
            if len(currencies) > 1:
                which = f" of {plan.query.group_by} {label}" if label is not None else ""
                raise BadRequest(
                    f"query {plan.query.id!r}: the revenue{which} is in {' and '.join(currencies)}; CURRENCY INVOICE "
                    f"adds amounts of one currency only: {_one_currency_hint(plan.query.group_by)}"
                )
            scale = currencies[0] if currencies else base
            return [round_money(slot.get(scale, Decimal(0)), scale) for slot in slots]
        values = []
        for slot in slots:
            value = Decimal(0)
            for currency, amount in sorted(slot.items()):
                if currency != base:
                    amount = round_money(EXACT.multiply(amount, self._rate(plan, currency)), base)
                value = EXACT.add(value, amount)
            values.append(round_money(value, base))  # at the currency's scale: 12111.90, never 12111.9
        return values

    def _rate(self, plan: _Plan, currency: str) -> Decimal:
        """Base-currency units per unit of `currency`: the organization's setting metrics.exchangeRates."""
        setting = f"setting {RATES_NAMESPACE}.{RATES_SETTING}"
        if self._rates is None:
            row = SettingRepository(self.ctx.session, self.ctx.org_id).by_full_id(
                full_setting_id(RATES_NAMESPACE, RATES_SETTING, "ORGANIZATION", self.ctx.org_id)
            )
            if row is not None and row.data_type != "JSON":
                raise BadRequest(f'{setting} has dataType {row.data_type}; it must be JSON, such as {{"EUR": 1.08}}')
            self._rates = _parse_rates(row.value if row is not None else None, setting)
        rate = self._rates.get(currency)
        if rate is None:
            raise BadRequest(
                f"query {plan.query.id!r}: revenue in the base currency {self.ctx.org.base_currency} needs the "
                f"exchange rate of {currency}: give it in the organization's JSON {setting} "
                f'(e.g. {{"{currency}": 1.1}}: {self.ctx.org.base_currency} per {currency}), or use configs '
                "CURRENCY INVOICE"
            )
        return rate

    def _labels(self, group_by: str | None, keys: set[GroupKey]) -> dict[GroupKey, str]:
        """The fieldValue of each group key. Keys that give the same value (an account's events sent under its id
        and under an alias) make one series."""
        if group_by is None:
            return {}
        if group_by == "ACCOUNT_ID":
            accounts = self.accounts.by_pks({k[0] for k in keys if k[0] is not None})
            # An account's id; an event that reached no account keeps the accountId it was sent with (a deleted
            # account's usage, its pk).
            return {k: accounts[k[0]].id if k[0] in accounts else (k[1] if len(k) > 1 else k[0]) for k in keys}
        if group_by == "CUSTOMER_ID":  # grouped by account, then by the account's customer
            accounts = self.accounts.by_pks({k[0] for k in keys})
            customers = CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks(
                {a.customer_pk for a in accounts.values()}
            )
            return {
                k: customers[accounts[k[0]].customer_pk].id
                if k[0] in accounts and accounts[k[0]].customer_pk in customers
                else k[0]
                for k in keys
            }
        if group_by == "EVENT_STATUS":
            return {k: status_class(k[0]) for k in keys}
        return {k: str(k[0]) for k in keys}


def _revenue_key(group_by: str | None, account_pk: str, billable: str) -> GroupKey:
    if group_by in ("ACCOUNT_ID", "CUSTOMER_ID"):
        return (account_pk,)
    if group_by in BILLABLE:
        return (billable,)
    return ()


def _one_currency_hint(group_by: str | None) -> str:
    """What can make a CURRENCY INVOICE series hold one currency (a customer's accounts may invoice in several)."""
    if group_by == "CUSTOMER_ID":
        return (
            "a customer's accounts may invoice in different currencies: filter by ACCOUNT_ID or group by ACCOUNT_ID, "
            "or use CURRENCY BASE"
        )
    return "filter by ACCOUNT_ID or CUSTOMER_ID, group by ACCOUNT_ID, or use CURRENCY BASE"


def _rate_number(rate: Any) -> Decimal | None:
    """A rate: a JSON number, or a string of one written as JSON writes it (ASCII digits, no spaces nor
    underscores); then the number rule. None for anything else."""
    try:
        if isinstance(rate, str):
            return numbers.bounded(Decimal(rate)) if numbers.is_decimal_text(rate) else None
        if isinstance(rate, (int, Decimal)) and not isinstance(rate, bool):
            return numbers.bounded(rate)
    except (InvalidOperation, numbers.NumberError):
        return None
    return None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _parse_rates(value: str | None, setting: str) -> dict[str, Decimal]:
    """{"EUR": 1.08, ...} -> currency -> a positive rate (the number rule: below 10^15, 12 decimals); a currency
    given twice is refused (JSON parsers would silently keep one)."""
    if value is None:
        return {}
    try:
        parsed: Any = text.parse_json(value, where=setting)
        json.loads(value, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as twice:
        raise BadRequest(f"{setting}: {twice.key[:8]!r} is given twice; give each currency once") from None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest(f'{setting} must be a JSON object of currency -> rate, such as {{"EUR": 1.08}}')
    rates: dict[str, Decimal] = {}
    for currency, rate in parsed.items():
        number = _rate_number(rate)
        if not isinstance(currency, str) or not is_currency(currency) or number is None or number <= 0:
            raise BadRequest(
                f"{setting}: {str(currency)[:8]!r} must be an ISO 4217 code with a positive rate (a number), "
                f"got {str(rate)[:40]!r}"
            )
        rates[currency] = number
    return rates
