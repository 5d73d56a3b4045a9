"""The dashboard in real Chromium, on both engines, at desktop and phone width: the headline figures, and charts that
all follow the range picked (a bar per day, week or month), a revenue chart per currency with its own axis, top
customers, usage in each meter's unit, and axis labels of a very large amount. Every figure is checked against a
hand computation from the events and invoices made here, and against what the API reads."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.schemas import CreateAccountRequest, UpdateAccountRequest
from meterline.accounts.service import AccountService
from meterline.console.dashboard import span
from meterline.console.words import money
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.events.wire import event_from
from meterline.invoicing.service import InvoiceService
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    EventAttributeSchema,
)
from meterline.payments.schemas import CreatePaymentRequest
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import ingestion
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, menu, shot, sign_in
from tests.service.billing_world import associate, make_plan
from tests.service.test_ingestion import setup_catalog

UTC = timezone.utc
D = Decimal
HUGE = D("73500000000000.00")  # 7.35 x 10^13: its axis reads 20T, 40T, 60T, 80T (once "50000B" under "10000B")


@dataclass(frozen=True)
class Sent:
    day: date
    schema: str
    value: Decimal
    failed: bool = False


@dataclass(frozen=True)
class Billed:
    day: date
    customer: str
    currency: str
    amount: Decimal
    status: str  # DUE, PAID, VOID
    paid: Decimal = D(0)


def make_company(factory: sessionmaker[Session], tenant: Tenant) -> tuple[date, list[Sent], list[Billed]]:
    """Acme (a USD and a EUR account) and Globex; meters "calls" (SUM of calls, no unit: its name), "Data stored"
    (SUM of gigabytes, in GB) and "API hits" (COUNT); events today, 3, 20, 60 and 200 days ago, each sent as it
    happens; invoices on some of those days in USD and EUR, one of 73.5 trillion USD, one void, one partly paid."""
    now = utc_now()
    today = now.date()
    sent = [
        Sent(today, "api_calls", D(5)),
        Sent(today, "api_calls", D(7)),
        Sent(today, "api_calls", D(1), failed=True),  # for an account that does not exist
        Sent(today, "storage", D("2.5")),
        Sent(today - timedelta(days=3), "api_calls", D(8)),
        Sent(today - timedelta(days=20), "api_calls", D(11)),
        Sent(today - timedelta(days=20), "storage", D(4)),
        Sent(today - timedelta(days=60), "api_calls", D(13)),
        Sent(today - timedelta(days=200), "api_calls", D(17)),
    ]
    billed = [
        Billed(today, "acme", "USD", D("125.50"), "DUE"),
        Billed(today, "globex", "USD", D("999.99"), "VOID"),
        Billed(today - timedelta(days=3), "acme", "EUR", D("80.00"), "DUE"),
        Billed(today - timedelta(days=20), "acme", "USD", HUGE, "PAID"),
        Billed(today - timedelta(days=60), "globex", "USD", D("300.00"), "DUE", paid=D("100.00")),
        Billed(today - timedelta(days=60), "acme", "EUR", D("45.00"), "PAID"),
    ]

    def moment(day: date) -> datetime:
        """When something of `day` happens: noon, or a minute ago today (never after now, never before today)."""
        return (
            max(datetime.combine(today, time(), UTC), now - timedelta(minutes=1))
            if day == today
            else (datetime.combine(day, time(12), UTC))
        )

    with unit_of_work(factory) as s:
        ctx = Context(session=s, org=s.get(Organization, tenant.org.id), now=now - timedelta(days=230))
        setup_catalog(ctx)  # customer acme (its USD account acme), schema api_calls, SUM meter "calls"
        CustomerService(ctx).create(  # net terms 0 days (the organization's): due when dated
            CreateCustomerRequest(id="globex", name="Globex Corp", primary_email="g@globex.test", address=Address())
        )
        accounts = AccountService(ctx)
        accounts.update("acme", UpdateAccountRequest(net_term_days=15))
        accounts.create(
            CreateAccountRequest(
                id="acme-eu", name="Acme EU", customer_id="acme", invoice_currency="EUR", net_term_days=15
            )
        )
        schemas, meters = EventSchemaService(ctx), UsageMeterService(ctx)
        schemas.create(
            CreateEventSchemaRequest(
                name="storage", attributes=[EventAttributeSchema(name="gigabytes", default_unit="GB")], dimensions=[]
            )
        )
        schemas.activate("storage")
        for name, schema, aggregation, computation in (
            ("Data stored", "storage", "SUM", '{"var":"attribute.gigabytes"}'),
            ("API hits", "api_calls", "COUNT", "1"),
        ):
            meter = meters.create(
                CreateUsageMeterRequest(
                    name=name,
                    type="COUNTER",
                    aggregation=aggregation,
                    event_schema_name=schema,
                    computations=[Computation(order=1, computation=computation)],
                )
            )
            meters.activate(meter.id)
        associate(ctx, make_plan(ctx, "Starter"), (now - timedelta(days=220)).date().isoformat())
    for n, e in enumerate(sent):
        with unit_of_work(factory) as s:
            ctx = Context(session=s, org=s.get(Organization, tenant.org.id), now=moment(e.day))
            attribute = "calls" if e.schema == "api_calls" else "gigabytes"
            body = {
                "schemaName": e.schema,
                "id": f"e{n}",
                "timestamp": moment(e.day).isoformat(),
                "accountId": "nobody" if e.failed else "acme",
                "attributes": [{"name": attribute, "value": str(e.value)}],
                "dimensions": {"region": "us"} if e.schema == "api_calls" else {},
            }
            [result] = ingestion(ctx).ingest([event_from(body)])
            assert result.status.startswith("INGESTION_FAILED" if e.failed else "INGESTION_COMPLETED"), result
    for b in billed:
        account = b.customer if b.currency == "USD" else f"{b.customer}-eu"
        with unit_of_work(factory) as s:
            ctx = Context(session=s, org=s.get(Organization, tenant.org.id), now=moment(b.day))
            service = InvoiceService(ctx)
            lines = [{"description": "Services", "value": b.amount}]
            invoice, _ = service.create_custom(
                account, moment(b.day) - timedelta(days=1), moment(b.day), "DUE", lines, False, False, False, None
            )
            if b.status != "DUE":
                service.update(invoice.pk, b.status, {})
            if b.paid:
                PaymentService(ctx).create(
                    CreatePaymentRequest.model_validate(
                        {
                            "accountId": account,
                            "currency": b.currency,
                            "totalAmount": b.paid,
                            "externalPaymentReference": {
                                "sourceName": "bank",
                                "sourceType": "CASH",
                                "transactionNumber": "1",
                            },
                            "lineItemRecords": [
                                {"type": "INVOICE", "togaiId": invoice.pk, "amount": b.paid, "order": 1}
                            ],
                        }
                    )
                )
    return today, sent, billed


# -- what the charts must show, computed by hand ----------------------------------------------------------------------
PERIODS = {"7": "day", "30": "day", "90": "week", "365": "month"}


def bars_of(today: date, days: int) -> Callable[[date], tuple[date, date]]:
    """The first and last day of the bar that holds `day`: the day; its week (from Monday); its month; cut to the
    range (its first day is `days` - 1 before today) and to today."""
    first = today - timedelta(days=days - 1)

    def bar(day: date) -> tuple[date, date]:
        if days <= 30:
            return day, day
        if days == 90:
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=6)
        else:
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return max(start, first), min(end, today)

    return bar


def tooltips(
    bar: Callable[[date], tuple[date, date]], items: list[tuple[date, str, Decimal]], text: Callable[..., str]
) -> list[str]:
    """One tooltip per (bar, series) with a value, in the order the chart draws them: by bar, then series."""
    series_order = list(dict.fromkeys(name for _, name, _ in items))
    totals: dict[tuple[date, date], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for day, name, value in items:
        totals[bar(day)][name] += value
    return [
        f"{span(*key)} · {name}: {text(totals[key][name])}"
        for key in sorted(totals)
        for name in series_order
        if totals[key].get(name)
    ]


def events_text(value: Decimal) -> str:
    return f"{value:,f} {'event' if value == 1 else 'events'}"


def test_every_chart_follows_the_range_and_each_currency_has_its_own(
    any_page: Page,
    screen: str,
    person: tuple[str, str],
    tenant: Tenant,
    session_factory: sessionmaker[Session],
    db_url: str,
) -> None:
    page, engine = any_page, engine_of(db_url)
    today, sent, billed = make_company(session_factory, tenant)
    sign_in(page, *person)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    def figure(name: str) -> str:
        return page.locator(".figures div", has=page.get_by_text(name, exact=True)).locator("dd").inner_text()

    # Headline figures that do not depend on the range
    assert figure("Customers") == "2" and figure("Accounts") == "3"
    month = [b for b in billed if b.status != "VOID" and (b.day.year, b.day.month) == (today.year, today.month)]
    by_currency = {c: sum((b.amount for b in month if b.currency == c), D(0)) for c in ("USD", "EUR")}
    assert figure(f"Invoiced in {today:%B %Y}").split("\n") == [money(v, c) for c, v in by_currency.items() if v]
    outstanding = figure("Outstanding").split("\n")
    # Acme's 125.50 (net terms 15 days: due later) and Globex's 300.00 less 100.00 paid (net terms 0: overdue);
    # Acme's 80.00 EUR due in 12 days. The paid and the void ones are not owed.
    assert outstanding == ["USD 325.50", "2 invoices, USD 200.00 overdue", "EUR 80.00", "1 invoice"]

    with tenant.http() as api:
        for days, noun in PERIODS.items():
            page.get_by_role("navigation", name="Period").get_by_role("link", name=f"{days} days").click()
            expect(page).to_have_url(re.compile(rf"/dashboard\?days={days}$"))
            first = today - timedelta(days=int(days) - 1)
            inside = [e for e in sent if e.day >= first]
            bar = bars_of(today, int(days))

            # Events: figures and the chart's bars
            processed = sum(1 for e in inside if not e.failed)
            failed = sum(1 for e in inside if e.failed)
            assert figure(f"Events processed, last {days} days") == str(processed)
            assert figure(f"Events failed, last {days} days") == str(failed)
            expect(page.get_by_role("heading", name=f"Events per {noun}")).to_be_visible()
            events_chart = page.get_by_role("img", name=f"Events processed and failed per {noun}")
            items = [(e.day, "Failed" if e.failed else "Processed", D(1)) for e in inside]
            items.sort(key=lambda i: i[1] != "Processed")  # Processed is drawn first
            expect(events_chart.locator("rect title")).to_have_text(tooltips(bar, items, events_text))
            # ... which is what POST /api/metrics counts for the same days
            window = {
                "startTime": datetime.combine(first, time(), UTC).isoformat(),
                "endTime": datetime.combine(today + timedelta(days=1), time(), UTC).isoformat(),
            }
            metrics = api.post(
                "/metrics",
                json={
                    **window,
                    "metricQueries": [
                        {"id": "e", "name": "EVENTS", "aggregationPeriod": "MONTH", "groupBy": "EVENT_STATUS"}
                    ],
                },
            )
            assert metrics.status_code == 200, metrics.text
            counted = {
                s["groupedBy"]["fieldValue"]: sum(D(str(v)) for v in s["metricValues"])
                for s in metrics.json()["results"][0]["data"]
                if s.get("groupedBy")
            }
            assert (counted.get("PROCESSED", 0), counted.get("UNPROCESSED", 0)) == (processed, failed)

            # Revenue: a chart per currency, each with its own axis and exact tooltips
            expect(page.get_by_role("heading", name=f"Revenue per {noun}")).to_be_visible()
            invoiced = [b for b in billed if b.day >= first and b.status != "VOID"]
            currencies = [c for c in ("USD", "EUR") if any(b.currency == c for b in invoiced)]
            assert page.locator("figure svg[aria-label^='Revenue per']").evaluate_all(
                "svgs => svgs.map(s => s.getAttribute('aria-label'))"
            ) == [f"Revenue per {noun} in {c}" for c in currencies]
            for c in currencies:
                chart = page.get_by_role("img", name=f"Revenue per {noun} in {c}")
                mine = [(b.day, "Invoiced", b.amount) for b in invoiced if b.currency == c]
                expect(chart.locator("rect title")).to_have_text(tooltips(bar, mine, lambda v, c=c: money(v, c)))
                total = sum((b.amount for b in invoiced if b.currency == c), D(0))
                legend = chart.locator("xpath=ancestor::figure").locator("figcaption")
                expect(legend).to_contain_text(f"Invoiced: {money(total, c)}")
            usd = page.get_by_role("img", name=f"Revenue per {noun} in USD").locator("text.tick")
            big = any(b.amount == HUGE for b in invoiced)
            # 73.5 trillion (+ 125.50 and 300.00): steps of 20T; only 125.50 in 7 days: steps of 50
            expect(usd).to_have_text(["0", "20T", "40T", "60T", "80T"] if big else ["0", "50", "100", "150", "200"])

            # ... which is what the API lists: the invoices finalized and not voided, dated in the range
            listed = api.get("/invoices", params={"pageSize": 50}).json()["data"]
            from_api: dict[str, Decimal] = defaultdict(Decimal)
            for inv in listed:
                dated = datetime.fromisoformat(inv["invoiceDate"].replace("Z", "+00:00")).date()
                if inv["status"] in ("DUE", "PAID", "PARTIALLY_PAID", "UN_COLLECTIBLE") and dated >= first:
                    from_api[inv["invoiceDetails"]["account"]["invoiceCurrency"]] += D(str(inv["totalAmount"]))
            assert dict(from_api) == {c: sum((b.amount for b in invoiced if b.currency == c), D(0)) for c in currencies}

            # Top customers per currency, linked to their pages
            for c in currencies:
                per: dict[str, Decimal] = defaultdict(Decimal)
                for b in invoiced:
                    if b.currency == c:
                        per[b.customer] += b.amount
                ranked = sorted(per.items(), key=lambda kv: -kv[1])
                rows = page.get_by_role("list", name=f"Top customers in {c}").get_by_role("listitem")
                expect(rows).to_have_count(len(ranked))
                for row, (customer, amount) in zip(rows.all(), ranked, strict=True):
                    name = {"acme": "Acme Inc", "globex": "Globex Corp"}[customer]
                    expect(row.get_by_role("link", name=name)).to_have_attribute("href", f"/customers/{customer}")
                    expect(row).to_contain_text(money(amount, c))

            # Usage: a chart per meter, in its unit
            usage = [e for e in inside if not e.failed]
            expected_meters = {
                "calls": ("calls", [(e.day, "calls", e.value) for e in usage if e.schema == "api_calls"]),
                "API hits": ("events", [(e.day, "API hits", D(1)) for e in usage if e.schema == "api_calls"]),
                "Data stored": ("GB", [(e.day, "Data stored", e.value) for e in usage if e.schema == "storage"]),
            }
            for meter, (unit, values) in expected_meters.items():
                chart = page.get_by_role("img", name=f"Usage of {meter} per {noun}, in {unit}")
                if unit == "events":
                    text: Callable[[Decimal], str] = events_text
                else:
                    text = lambda v, unit=unit: f"{v:,f} {unit}"  # noqa: E731
                expect(chart.locator("rect title")).to_have_text(tooltips(bar, values, text))
                heading = page.get_by_role("heading", name=f"{meter} in {unit}", exact=True)
                expect(heading.get_by_role("link", name=meter)).to_have_attribute(
                    "href", re.compile(r"^/usage-meters/um\.")
                )
            if screen == "phone":
                fits(page)  # the charts scale down: no page wider than the phone
                widths = page.locator("figure.chart > svg").evaluate_all(
                    "s => s.map(e => e.getBoundingClientRect().right)"
                )
                assert widths and max(widths) <= 390
            shot(page, f"dashboard-{days}-days-{screen}", engine)

    page.goto("/dashboard?days=nonsense")  # an unknown range falls back to 30 days
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("link", name="30 days")).to_have_attribute("aria-current", "page")
    page.get_by_role("list", name="Top customers in USD").get_by_role("link", name="Acme Inc").click()
    expect(page.get_by_role("heading", name="Acme Inc")).to_be_visible()
    menu(page, "Dashboard")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


def test_an_empty_organization_gets_a_calm_dashboard(
    any_page: Page, screen: str, person: tuple[str, str], db_url: str
) -> None:
    sign_in(any_page, *person)
    any_page.goto("/dashboard")
    expect(any_page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(any_page.get_by_text("No usage in this period yet")).to_be_visible()
    expect(any_page.get_by_text("No invoice was finalized in this period.")).to_have_count(2)  # revenue, top
    expect(any_page.get_by_text("Nothing in this period yet.")).to_have_count(1)  # the events chart
    figures = any_page.locator(".figures")
    expect(figures).to_contain_text("Invoiced in")
    expect(figures.locator("dd")).to_have_text(["0", "0", "0", "0", "USD 0.00", "USD 0.00"])
    if screen == "phone":
        fits(any_page)
    shot(any_page, f"dashboard-empty-{screen}", engine_of(db_url))
