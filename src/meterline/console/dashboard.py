"""The console's dashboard (issue 7): events processed and failed per day, usage per meter and day, invoiced per
month and currency, and a few headline figures. The figures come from the same services as the API (the metrics
service behind POST /api/metrics, the invoices' report); the charts are SVG drawn on the server (console/charts.py:
no JavaScript, no CDN)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from meterline.accounts.models import Account
from meterline.api.routing import UnitOfWorkRoute
from meterline.console.billing_notices import dashboard_notices
from meterline.console.charts import Chart, stacked_bars
from meterline.console.pages import User, context, render
from meterline.core.repository import OrgRepository
from meterline.customers.models import Customer
from meterline.invoicing import reports
from meterline.metering.repository import MeteringRepository
from meterline.metrics.periods import period_starts
from meterline.metrics.schemas import GetMetricsRequest
from meterline.metrics.service import MetricsService
from meterline.rating import cycles
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
RANGES = {"7": 7, "30": 30, "90": 90}  # days of the events and usage charts
MONTHS = 12  # months of the invoiced chart
USAGE_CHARTS = 4  # meters charted, those with the most events first


def _days(ctx: Context, zone: ZoneInfo, days: int) -> tuple[datetime, datetime]:
    today = cycles.local_day(ctx.now, zone)
    return (
        cycles.local_start_of_day(today - timedelta(days=days - 1), zone),
        cycles.local_start_of_day(today + timedelta(days=1), zone),
    )


def _day_labels(starts: list[datetime], zone: ZoneInfo) -> list[str]:
    return [s.astimezone(zone).strftime("%d %b").lstrip("0") for s in starts]


def activity(ctx: Context, days: int) -> tuple[Chart, list[tuple[str, Chart, Decimal]], dict[str, Decimal]]:
    """The events chart, one usage chart per meter (name, chart, total) and the events' totals per class."""
    zone = ZoneInfo(ctx.org.timezone)
    start, end = _days(ctx, zone, days)
    events, usage = MetricsService(ctx).get(
        GetMetricsRequest.model_validate(
            {
                "startTime": start,
                "endTime": end,
                "metricQueries": [
                    {"id": "events", "name": "EVENTS", "aggregationPeriod": "DAY", "groupBy": "EVENT_STATUS"},
                    {"id": "usage", "name": "USAGE", "aggregationPeriod": "DAY", "groupBy": "USAGE_METER_ID"},
                ],
            }
        )
    )
    every = 1 if days <= 10 else 7
    starts = period_starts(start, end, "DAY", zone)  # the days of every series (a grouped query may have none)
    by_class = {s.group[1]: s.values for s in events.series if s.group}
    zeros = [Decimal(0)] * len(starts)
    processed, failed = by_class.get("PROCESSED", zeros), by_class.get("UNPROCESSED", zeros)
    events_chart = stacked_bars(_day_labels(starts, zone), [("Processed", processed), ("Failed", failed)], every)
    names = {m.id: m.name for m in MeteringRepository(ctx.session, ctx.org_id).usable_meters()}
    meters = sorted((s for s in usage.series if s.group and any(s.values)), key=lambda s: -sum(s.values))
    usage_charts = [
        (
            names.get(s.group[1], s.group[1]),  # type: ignore[index]
            stacked_bars(_day_labels(s.timestamps, zone), [(names.get(s.group[1], s.group[1]), s.values)], every),  # type: ignore[index]
            sum(s.values, Decimal(0)),
        )
        for s in meters[:USAGE_CHARTS]
    ]
    totals = {"processed": sum(processed, Decimal(0)), "failed": sum(failed, Decimal(0))}
    return events_chart, usage_charts, totals


def invoiced(ctx: Context) -> tuple[Chart, dict[str, Decimal]]:
    """The invoiced-per-month chart (a series per currency) and this month's totals per currency."""
    zone = ZoneInfo(ctx.org.timezone)
    today = cycles.local_day(ctx.now, zone)
    first = today.replace(day=1)
    for _ in range(MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    starts = period_starts(cycles.local_start_of_day(first, zone), ctx.now, "MONTH", zone)
    by_currency = reports.invoiced_by_period(ctx, starts)
    labels = [s.astimezone(zone).strftime("%b %Y") for s in starts]
    chart = stacked_bars(labels, list(by_currency.items()) or [("invoiced", [Decimal(0)] * len(starts))], 2)
    return chart, {currency: values[-1] for currency, values in by_currency.items()}


@router.get("/dashboard")
def dashboard(request: Request, user: User, days: str = "30") -> Response:
    if days not in RANGES:
        return RedirectResponse("/dashboard", status_code=303)
    ctx = context(request, user)
    events_chart, usage_charts, event_totals = activity(ctx, RANGES[days])
    invoiced_chart, this_month = invoiced(ctx)
    counts = OrgRepository(ctx.session, ctx.org_id)
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
        events_chart=events_chart,
        usage_charts=usage_charts,
        event_totals=event_totals,
        invoiced_chart=invoiced_chart,
        this_month=this_month,
        owed=reports.owed(ctx),
        customers=counts.count(Customer),
        accounts=counts.count(Account),
    )
