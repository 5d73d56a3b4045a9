"""MetricsApi: events counted and usage summed per calendar period of the organization's time zone.

- The periods are those of `metrics.periods`: HOUR, DAY, WEEK (from Monday) or MONTH, in `org.timezone`. Each data
  point is one period, labelled with its start; the first and the last period count only what falls inside
  [startTime, endTime), so nothing outside the range is ever counted. Every period gets a point (0 when empty),
  so `timestamps` and `metricValues` are parallel. At most 300 periods per query.
- EVENTS counts stored events by their timestamp. EVENT_STATUS defaults to PROCESSED + UNPROCESSED (Togai's
  default): every status ingestion gives, but not REVERTED, so an event a correction replaced counts once (its
  re-ingested copy); REVERTED can be asked for.
- USAGE (and METER_USAGE, which it stands for) sums the 15-minute usage rollups by bucket start, so its startTime
  and endTime must fall on a 15-minute boundary. Period starts of real time zones do (+05:30, +05:45 included).
- Filters of one query all apply (AND); the values of one filter are alternatives (OR). An id that names nothing
  of the organization matches nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterline.accounts.repository import AccountRepository
from meterline.core.errors import BadRequest
from meterline.core.money import EXACT
from meterline.customers.repository import CustomerRepository
from meterline.events.pipeline import bucket_of
from meterline.events.schemas import IngestionStatusName
from meterline.metering.repository import MeteringRepository
from meterline.metrics.periods import MAX_POINTS, TooManyPeriods, period_starts
from meterline.metrics.repository import GroupKey, MetricsRepository
from meterline.metrics.schemas import GetMetricsRequest, MetricQuery
from meterline.tenancy.context import Context

INGESTION_STATUSES: tuple[str, ...] = get_args(IngestionStatusName)
STATUS_CLASSES: dict[str, frozenset[str]] = {
    "PROCESSED": frozenset(s for s in INGESTION_STATUSES if s.startswith("INGESTION_COMPLETED")),
    "UNPROCESSED": frozenset(s for s in INGESTION_STATUSES if s.startswith("INGESTION_FAILED")),
    "IN_PROGRESS": frozenset({"INGESTION_IN_PROGRESS"}),
}
DEFAULT_STATUSES = STATUS_CLASSES["PROCESSED"] | STATUS_CLASSES["UNPROCESSED"]

SUPPORTED = ("EVENTS", "USAGE", "METER_USAGE")
FILTERS = {
    "EVENTS": ("ACCOUNT_ID", "CUSTOMER_ID", "ORGANIZATION_ID", "SCHEMA_NAME", "EVENT_STATUS"),
    "USAGE": ("ACCOUNT_ID", "CUSTOMER_ID", "ORGANIZATION_ID", "USAGE_METER_ID"),
}
GROUPS = {
    "EVENTS": ("ACCOUNT_ID", "SCHEMA_NAME", "EVENT_STATUS", "RAW_EVENT_STATUS"),
    "USAGE": ("ACCOUNT_ID", "CUSTOMER_ID", "USAGE_METER_ID"),
}
# Names Togai takes for the metric that Meterline does not serve yet: said so, rather than "unknown".
LATER_FILTERS = {"EVENTS": frozenset(), "USAGE": frozenset({"BILLABLE_ID"})}
LATER_GROUPS = {"EVENTS": frozenset(), "USAGE": frozenset({"BILLABLE_ID"})}


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
    kind: str  # EVENTS or USAGE
    starts: list[datetime]
    nothing: bool = False  # a filter that can match nothing (another organization's id...)
    account_pks: set[str] | None = None
    schema_names: set[str] | None = None
    statuses: set[str] | None = None
    meter_ids: set[str] | None = None


def _intersect(current: set[str] | None, values: set[str]) -> set[str]:
    return values if current is None else current & values


class MetricsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = MetricsRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    def get(self, request: GetMetricsRequest) -> list[QueryResult]:
        start, end = request.start_time, request.end_time
        if start >= end:
            raise BadRequest("startTime must be before endTime")
        try:
            zone = ZoneInfo(self.ctx.org.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # refused when the organization was created
            zone = ZoneInfo("UTC")
        # Every query is checked before any runs: a bad one fails the request without spending work.
        plans = [self._plan(q, start, end, zone) for q in request.metric_queries]
        return [self._run(plan, start, end) for plan in plans]

    # -- checking and resolving --------------------------------------------------------------------------------
    def _plan(self, query: MetricQuery, start: datetime, end: datetime, zone: ZoneInfo) -> _Plan:
        label = f"query {query.id!r}"
        if query.name not in SUPPORTED:
            raise BadRequest(f"{label}: metric {query.name} is not supported yet (supported: {', '.join(SUPPORTED)})")
        kind = "EVENTS" if query.name == "EVENTS" else "USAGE"
        if query.group_by is not None and query.group_by not in GROUPS[kind]:
            later = " yet" if query.group_by in LATER_GROUPS[kind] else ""
            raise BadRequest(
                f"{label}: groupBy {query.group_by} is not supported{later} for {query.name} "
                f"(use one of {', '.join(GROUPS[kind])}, or none)"
            )
        if query.configs:
            raise BadRequest(f"{label}: configs {', '.join(sorted(query.configs))} are not used by {query.name}")
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
        plan = _Plan(query=query, kind=kind, starts=starts)
        for entry in query.filters or []:
            self._apply_filter(plan, label, entry.field_name, set(entry.field_values))
        if kind == "EVENTS" and plan.statuses is None:
            plan.statuses = set(DEFAULT_STATUSES)
        return plan

    def _apply_filter(self, plan: _Plan, label: str, name: str, values: set[str]) -> None:
        if name not in FILTERS[plan.kind]:
            later = " yet" if name in LATER_FILTERS[plan.kind] else ""
            raise BadRequest(
                f"{label}: filter {name} is not supported{later} for {plan.query.name} "
                f"(use {', '.join(FILTERS[plan.kind])})"
            )
        if name == "ORGANIZATION_ID":
            plan.nothing = plan.nothing or self.ctx.org_id not in values
        elif name == "ACCOUNT_ID":
            plan.account_pks = _intersect(plan.account_pks, set(self.accounts.pks_by_ids(values).values()))
        elif name == "CUSTOMER_ID":
            customers = CustomerRepository(self.ctx.session, self.ctx.org_id)
            pks: set[str] = set()
            for customer_id in sorted(values):
                customer = customers.by_id(customer_id)
                if customer is not None:
                    pks |= {a.pk for a in self.accounts.of_customer(customer.pk)}
            plan.account_pks = _intersect(plan.account_pks, pks)
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
                        f"{label}: EVENT_STATUS {value!r} is not PROCESSED, UNPROCESSED, IN_PROGRESS or an "
                        "ingestion status"
                    )
            plan.statuses = _intersect(plan.statuses, statuses)
        elif name == "USAGE_METER_ID":
            # Meter ids; Togai documents the values as meter names, so a live meter's name is taken too.
            names = {m.name: m.id for m in MeteringRepository(self.ctx.session, self.ctx.org_id).usable_meters()}
            ids = values | {names[v] for v in values if v in names}
            plan.meter_ids = _intersect(plan.meter_ids, ids)

    # -- running -----------------------------------------------------------------------------------------------
    def _run(self, plan: _Plan, start: datetime, end: datetime) -> QueryResult:
        query = plan.query
        group_by = query.group_by
        rows: dict[tuple[int, GroupKey], Decimal | int] = {}
        if not plan.nothing and plan.kind == "EVENTS":
            group = {
                None: None,
                "ACCOUNT_ID": "account",
                "SCHEMA_NAME": "schema",
                "EVENT_STATUS": "status",
                "RAW_EVENT_STATUS": "status",
            }[group_by]
            rows = dict(
                self.repo.event_counts(
                    plan.starts,
                    start,
                    end,
                    account_pks=plan.account_pks,
                    schema_names=plan.schema_names,
                    statuses=plan.statuses,
                    group=group,  # type: ignore[arg-type]
                )
            )
        elif not plan.nothing:
            group = {None: None, "ACCOUNT_ID": "account", "CUSTOMER_ID": "account", "USAGE_METER_ID": "meter"}[group_by]
            rows = dict(
                self.repo.usage_sums(
                    plan.starts,
                    start,
                    end,
                    account_pks=plan.account_pks,
                    meter_ids=plan.meter_ids,
                    group=group,  # type: ignore[arg-type]
                )
            )
        labels = self._labels(group_by, {key for _, key in rows})
        n = len(plan.starts)
        by_label: dict[str | None, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * n)
        if group_by is None:
            _ = by_label[None]  # one series, zeros when nothing matched
        for (period, key), value in rows.items():
            values = by_label[labels[key] if group_by else None]
            values[period] = EXACT.add(values[period], Decimal(value))  # several keys can share one label
        series = [
            Series(
                group=(group_by, label) if group_by and label is not None else None,
                timestamps=list(plan.starts),
                values=values,
            )
            for label, values in sorted(by_label.items(), key=lambda item: item[0] or "")
        ]
        return QueryResult(id=query.id, name=query.name, series=series)

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
        if group_by == "CUSTOMER_ID":  # usage grouped by account, then by the account's customer
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
