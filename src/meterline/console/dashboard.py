"""The console's dashboard: headline figures, then charts that all follow the range picked (7, 30, 90 or 365 days):
events processed and failed, revenue (what was invoiced) per currency with its top customers, and usage per meter
in the meter's unit. The charts come from the metrics service behind POST /api/metrics (EVENTS, USAGE, REVENUE);
the headline figures and top customers from `invoicing/reports.py`; the charts are SVG drawn on the server
(console/charts.py: no JavaScript, no CDN).

A range is the last N days of the organization's time zone, today included. Its bars are days for 7 and 30 days,
weeks (Monday to Sunday) for 90, months for 365; the first and last week or month are cut to the range, so a bar
never counts a day outside it, and its tooltip says which days it holds."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console.billing_notices import dashboard_notices
from meterline.console.charts import Chart, stacked_bars
from meterline.console.pages import User, context, render
from meterline.console.words import money, quantity
from meterline.core.money import exact_sum
from meterline.invoicing import reports
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.metrics.periods import period_starts
from meterline.metrics.schemas import GetMetricsRequest
from meterline.metrics.service import MetricsService
from meterline.rating import cycles
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
RANGES = {"7": "DAY", "30": "DAY", "90": "WEEK", "365": "MONTH"}  # days -> the period of a bar
NOUNS = {"DAY": "day", "WEEK": "week", "MONTH": "month"}
LABELS = 8  # at most this many labels under a chart's bars
USAGE_CHARTS = 4  # meters charted, the busiest first


# -- the range and its bars (pure) ---------------------------------------------------------------------------------
def span(first: date, last: date) -> str:
    """Days from `first` to `last` in words: 12 Mar 2026, 3–9 Mar 2026, 28 Feb – 6 Mar 2026, March 2026."""
    if first == last:
        return f"{first.day} {first:%b %Y}"
    if first.day == 1 and (last + timedelta(days=1)).day == 1 and (first.year, first.month) == (last.year, last.month):
        return f"{first:%B %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


@dataclass(frozen=True)
class Periods:
    """The range picked and its bars: bar i holds the instants [bounds[i], bounds[i + 1]) (the last one up to
    `end`), the days firsts[i] to lasts[i] of the organization's time zone."""

    days: int
    period: str  # DAY, WEEK or MONTH: what POST /api/metrics calls aggregationPeriod
    zone: str
    start: datetime  # the first local midnight of the range
    end: datetime  # tomorrow's local midnight
    bounds: list[datetime]
    firsts: list[date]
    lasts: list[date]

    @property
    def noun(self) -> str:
        return NOUNS[self.period]

    @property
    def labels(self) -> list[str]:
        """Under the bars: a day (12 Mar), a week's first day in the range (3 Mar), a month (Mar 2026)."""
        if self.period == "MONTH":
            return [f"{d:%b %Y}" for d in self.firsts]
        return [f"{d.day} {d:%b}" for d in self.firsts]

    @property
    def tips(self) -> list[str]:
        """Each bar's days, for its tooltip."""
        return [span(f, la) for f, la in zip(self.firsts, self.lasts, strict=True)]

    @property
    def every(self) -> int:
        return max(1, math.ceil(len(self.bounds) / LABELS))

    @property
    def words(self) -> str:
        """The range and its bars in words, under a chart's title."""
        bars = {
            "DAY": "a bar per day",
            "WEEK": "a bar per week (Monday to Sunday; the first and last weeks cut to the range)",
            "MONTH": "a bar per month (the first and last months cut to the range)",
        }[self.period]
        return f"Last {self.days} days, {span(self.firsts[0], self.lasts[-1])}, {bars}; days in {self.zone}."


def periods_of(now: datetime, zone_name: str, days: int, period: str) -> Periods:
    """The last `days` days to today (in `zone_name`) and their bars of `period`."""
    zone = ZoneInfo(zone_name)
    today = cycles.local_day(now, zone)
    first_day = today - timedelta(days=days - 1)
    start = cycles.local_start_of_day(first_day, zone)
    end = cycles.local_start_of_day(today + timedelta(days=1), zone)
    bounds = [start, *period_starts(start, end, period, zone)[1:]]  # the first bar starts with the range
    firsts = [cycles.local_day(b, zone) for b in bounds]
    lasts = [d - timedelta(days=1) for d in firsts[1:]] + [today]
    return Periods(days, period, zone_name, start, end, bounds, firsts, lasts)


def meter_unit(meter: UsageMeter, schema: EventSchema | None) -> str:
    """What a meter counts: "events" for COUNT; for a SUM of an attribute, the attribute's unit in the meter's
    schema (its name when it has none); "units" for a SUM of another jsonLogic computation."""
    if meter.aggregation != "SUM":
        return "events"
    computation = (meter.computations or [{}])[0].get("computation") or ""
    found = re.fullmatch(r'\{\s*"var"\s*:\s*"attributes?\.([^"]+)"\s*\}', computation.strip())
    if found is None:
        return "units"
    attribute = found[1]
    for entry in schema.attributes if schema is not None else []:
        if entry.get("name") == attribute:
            return str(entry.get("defaultUnit") or attribute)
    return attribute


def in_unit(unit: str) -> Callable[[Decimal], str]:
    """Writes a quantity with its unit: 1,234 requests, 1 event, 12.5 GB."""

    def text(value: Decimal) -> str:
        return f"{quantity(value)} {'event' if unit == 'events' and value == 1 else unit}"

    return text


def in_currency(currency: str) -> Callable[[Decimal], str]:
    """Writes an amount in `currency`, exact: USD 1,234.50."""
    return lambda value: money(value, currency)


# -- what the page shows --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeterChart:
    name: str
    meter_id: str
    unit: str
    chart: Chart
    total: str  # exact, with its unit


@dataclass(frozen=True)
class Revenue:
    currency: str
    chart: Chart
    total: Decimal
    top: list[reports.TopCustomer]


@dataclass(frozen=True)
class Figures:
    periods: Periods
    customers: int
    accounts: int
    processed: Decimal
    failed: Decimal
    events_chart: Chart
    usage: list[MeterChart]
    more_meters: int  # meters with usage in the range that are not charted
    revenue: list[Revenue]  # a chart per currency, the base currency first
    month: str  # "March 2026"
    this_month: dict[str, Decimal]
    owed: dict[str, reports.Owed]
    nothing: str  # no amount, in the base currency: USD 0.00


def _activity(ctx: Context, p: Periods) -> tuple[Chart, Decimal, Decimal, list[MeterChart], int]:
    events, usage = MetricsService(ctx, bounded=False).get(
        GetMetricsRequest.model_validate(
            {
                "startTime": p.start,
                "endTime": p.end,
                "metricQueries": [
                    {"id": "events", "name": "EVENTS", "aggregationPeriod": p.period, "groupBy": "EVENT_STATUS"},
                    {"id": "usage", "name": "USAGE", "aggregationPeriod": p.period, "groupBy": "USAGE_METER_ID"},
                ],
            }
        )
    )
    zeros = [Decimal(0)] * len(p.bounds)
    by_class = {s.group[1]: s.values for s in events.series if s.group}
    processed, failed = by_class.get("PROCESSED", zeros), by_class.get("UNPROCESSED", zeros)
    events_chart = stacked_bars(
        p.labels,
        [("Processed", processed), ("Failed", failed)],
        p.every,
        tips=p.tips,
        text=in_unit("events"),
        whole=True,
    )
    metering = MeteringRepository(ctx.session, ctx.org_id)
    meters = {m.id: m for m in metering.usable_meters()}
    schemas = metering.latest_schemas_by_ids({m.event_schema_id for m in meters.values()})
    used = sorted((s for s in usage.series if s.group and any(s.values)), key=lambda s: (-exact_sum(s.values), s.group))
    charts = []
    for s in used[:USAGE_CHARTS]:
        meter_id = s.group[1]  # type: ignore[index]
        meter = meters.get(meter_id)
        name = meter.name if meter else meter_id
        unit = meter_unit(meter, schemas.get(meter.event_schema_id)) if meter else "units"
        text = in_unit(unit)
        chart = stacked_bars(p.labels, [(name, s.values)], p.every, tips=p.tips, text=text, whole=unit == "events")
        charts.append(MeterChart(name, meter_id, unit, chart, text(exact_sum(s.values))))
    return events_chart, exact_sum(processed), exact_sum(failed), charts, max(0, len(used) - USAGE_CHARTS)


def _currencies(ctx: Context, amounts: Mapping[str, object]) -> list[str]:
    """The currencies of `amounts`, the organization's base currency first, then alphabetically."""
    return sorted(amounts, key=lambda c: (c != ctx.org.base_currency, c))


def _revenue(ctx: Context, p: Periods) -> list[Revenue]:
    # REVENUE of POST /api/metrics, in each invoice currency (the bars are its periods: the first one starts with
    # the range, which is where REVENUE starts counting)
    by_currency = MetricsService(ctx).invoiced_per_currency(p.start, p.end, p.period)
    top = reports.top_customers(ctx, p.start, p.end)
    out = []
    for currency in _currencies(ctx, by_currency):
        values = by_currency[currency]
        chart = stacked_bars(p.labels, [("Invoiced", values)], p.every, tips=p.tips, text=in_currency(currency))
        out.append(Revenue(currency, chart, exact_sum(values), top.get(currency, [])))
    return out


def figures(ctx: Context, days: int) -> Figures:
    """Everything the dashboard shows for the last `days` days (a key of RANGES)."""
    p = periods_of(ctx.now, ctx.org.timezone, days, RANGES[str(days)])
    events_chart, processed, failed, usage, more = _activity(ctx, p)
    zone = ZoneInfo(ctx.org.timezone)
    today = cycles.local_day(ctx.now, zone)
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    customers, accounts = reports.live_counts(ctx)
    month = (cycles.local_start_of_day(month_start, zone), cycles.local_start_of_day(next_month, zone))
    this_month, owed = reports.invoiced_between(ctx, *month), reports.owed_in_detail(ctx)
    return Figures(
        periods=p,
        customers=customers,
        accounts=accounts,
        processed=processed,
        failed=failed,
        events_chart=events_chart,
        usage=usage,
        more_meters=more,
        revenue=_revenue(ctx, p),
        month=f"{today:%B %Y}",
        this_month={c: this_month[c] for c in _currencies(ctx, this_month)},
        owed={c: owed[c] for c in _currencies(ctx, owed)},
        nothing=money(Decimal(0), ctx.org.base_currency),
    )


@router.get("/dashboard")
def dashboard(request: Request, user: User, days: str = "30") -> Response:
    if days not in RANGES:
        return RedirectResponse("/dashboard", status_code=303)
    ctx = context(request, user)
    failures, failure_count = dashboard_notices(ctx)
    return render(
        request,
        "dashboard.html",
        user,
        section="dashboard",
        days=days,
        ranges=list(RANGES),
        billing_failures=failures,
        billing_failure_count=failure_count,
        f=figures(ctx, int(days)),
        usage_charts=USAGE_CHARTS,
    )
