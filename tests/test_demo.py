"""`meterline demo` run as a user runs it (a subprocess), on both engines; then what it made, read back through the
services: the company, its plans, three months of events, invoices whose totals are recomputed here from the usage
and the plans' prices, credits, the wallet, and the console's dashboard signed in as the demo user."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from itertools import pairwise

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline import demo as demo_data
from meterline.accounts.service import AccountService
from meterline.catalog.plan_service import PricePlanService
from meterline.console import dashboard
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.pagination import PageRequest
from meterline.customers.service import CustomerService
from meterline.events.service import EventQueryService, UsageService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.tenancy.service import TenancyService
from meterline.usecases import balances
from tests.console.browsing import http_sign_in

D = Decimal
UTC = timezone.utc
SCALE = "0.2"  # a fifth of the events (about 5,000): the same company, the same invoices' shape, a faster test


def meterline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meterline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Demo:
    org_id: str
    email: str
    password: str
    output: str


def run_demo(db_url: str, *extra: str) -> Demo:
    result = meterline("demo", "--database-url", db_url, "--scale", SCALE, *extra)
    assert result.returncode == 0, result.stderr
    [org_id] = result.stdout.split()  # the organization's id, and nothing else, on stdout
    login = re.search(r"console user\s+(\S+)\s+password: (\S+)", result.stderr)
    assert login, result.stderr
    return Demo(org_id=org_id, email=login[1], password=login[2], output=result.stderr)


@pytest.fixture(scope="module")
def demo(db_url: str) -> Demo:
    return run_demo(db_url)


@contextmanager
def reading(factory: sessionmaker[Session], org_id: str) -> Iterator[Context]:
    with unit_of_work(factory, write=False) as session:
        yield Context(session=session, org=session.get(Organization, org_id), now=utc_now())


def months(now: datetime) -> list[tuple[datetime, datetime]]:
    """The three whole months before now's, then now's: (start, end) in UTC."""
    firsts = []
    for back in range(3, -2, -1):
        index = now.year * 12 + now.month - 1 - back
        firsts.append(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC))
    return list(pairwise(firsts))


def all_invoices(ctx: Context) -> list[Invoice]:
    service, found, after = InvoiceService(ctx), [], None
    while True:
        page = service.page(
            PageRequest(size=200, after=after), status=None, account_id=None, customer_id=None, start=None, end=None
        )
        found += page.items
        if page.next_token is None:
            return found
        after = page.items[-1].pk


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), ROUND_HALF_UP)


def expected_total(plan: str, requests: Decimal, gigabytes: Decimal, seats: int = 0) -> Decimal:
    """An invoice of a whole month with no credit, from the prices the demo documents (docs/console.md)."""
    if plan == "Starter":  # TIERED: 50,000 free, then 0.0004 up to 500,000, then 0.0003; a 49 platform fee
        usage = min(max(requests - 50_000, 0), 450_000) * D("0.0004") + max(requests - 500_000, 0) * D("0.0003")
        return cents(usage) + D("49")
    if plan == "Growth":  # VOLUME: all at 0.0003, or all at 0.00025 past 1,000,000; storage 0.10; fee 199; min 500
        rate = D("0.00025") if requests > 1_000_000 else D("0.0003")
        return max(cents(requests * rate) + cents(gigabytes * D("0.10")) + D("199"), D("500.00"))
    # Enterprise: 1.50 a started package of 10,000 requests, storage 0.08, fees 1,500 + 400, 25 a seat; min 3,000
    packages = (requests / 10_000).to_integral_value(ROUND_CEILING)
    return max(cents(packages * D("1.50")) + cents(gigabytes * D("0.08")) + D("1900") + 25 * seats, D("3000.00"))


def test_the_command_prints_how_to_sign_in_and_a_summary(demo: Demo) -> None:
    assert re.fullmatch(r"demo(\+\d+)?@northwind\.example", demo.email)
    assert "Northwind Analytics (demo)" in demo.output and "mlk_" in demo.output
    assert re.search(r"customers\s+10\b", demo.output)
    assert re.search(r"accounts\s+10 in USD, 4 in EUR", demo.output)
    assert re.search(r"price plans\s+Starter, Growth, Enterprise", demo.output)
    assert re.search(r"invoices\s+.*\d+ DUE.*\d+ PAID", demo.output)


def test_a_company_with_customers_accounts_in_two_currencies_and_three_active_plans(
    session_factory: sessionmaker[Session], demo: Demo
) -> None:
    with reading(session_factory, demo.org_id) as ctx:
        assert (ctx.org.name, ctx.org.base_currency, ctx.org.timezone) == ("Northwind Analytics (demo)", "USD", "UTC")
        customers = CustomerService(ctx).page(PageRequest(size=50)).items
        assert len(customers) == 10 and all(c.primary_email and c.address.get("country") for c in customers)
        accounts = AccountService(ctx).page(PageRequest(size=50)).items
        assert Counter(a.invoice_currency for a in accounts) == {"USD": 10, "EUR": 4}
        assert {a.id for a in accounts} >= {c.id for c in customers}  # each customer has its default account
        assert [a.value for a in AccountService(ctx).aliases("acme-robotics")] == ["acme-prod-cluster"]
        plans = PricePlanService(ctx).page(PageRequest(size=50)).items
        assert sorted((p.plan.name, p.plan.status, tuple(p.latest.active_currencies)) for p in plans) == [
            ("Enterprise", "ACTIVE", ("USD",)),
            ("Growth", "ACTIVE", ("EUR", "USD")),
            ("Starter", "ACTIVE", ("EUR", "USD")),
        ]
        _, schedules = ScheduleService(ctx).of_account("ion-mobility")  # the upgrade in the second month
        assert [s.plan_name for s in schedules] == ["Starter", "Growth"]
        assert schedules[0].start == months(ctx.now)[0][0] and schedules[1].start.day == 16


def test_events_in_every_month_and_a_few_failures(session_factory: sessionmaker[Session], demo: Demo) -> None:
    with reading(session_factory, demo.org_id) as ctx:
        events = EventQueryService(ctx)
        for start, end in months(ctx.now)[:3]:
            page = events.page(
                PageRequest(size=50), account_id=None, status=None, schema_name=None, start=start, end=end
            )
            assert len(page.items) == 50, start
            for account in ("acme-robotics", "fjord-eu", "harbor-co"):
                usage = {u.name: u for u in UsageService(ctx).of_account(account, start, end)}
                assert usage["API requests"].usage > 0 and usage["Data stored"].usage > 0
        failed = events.page(
            PageRequest(size=50),
            account_id=None,
            status="INGESTION_FAILED_ACCOUNT_NOT_FOUND",
            schema_name=None,
            start=None,
            end=None,
        )
        assert failed.items and all(e.account_ref == "nw-legacy-7731" for e in failed.items)


def test_invoices_are_final_with_the_totals_the_prices_give(session_factory: sessionmaker[Session], demo: Demo) -> None:
    with reading(session_factory, demo.org_id) as ctx:
        service, now = InvoiceService(ctx), ctx.now
        invoices = all_invoices(ctx)
        account_of = {i.pk: service.account_of(i).id for i in invoices}
        by_status = Counter(i.status for i in invoices)
        assert by_status["DUE"] >= 1 and by_status["PAID"] >= 14 and by_status["PARTIALLY_PAID"] == 1
        assert by_status["DRAFT"] == 14  # the current month's, one per account
        final = [i for i in invoices if i.status != "DRAFT"]
        assert len(final) >= 28  # at least two months are final (three once the grace period of the last has ended)
        for invoice in final:
            revenue, _usage, _details, total = service.view(invoice)
            assert (
                total
                == invoice.total_amount
                == next(line.value for line in revenue.walk() if line.type == "TOTAL_AMOUNT")
            )
            assert invoice.sequence_id and invoice.sequence_id.startswith("INV-")
            if invoice.status == "PAID":
                assert invoice.paid_amount == invoice.total_amount
        partly = next(i for i in final if i.status == "PARTIALLY_PAID")
        assert account_of[partly.pk] == "granite-payments" and partly.paid_amount == cents(partly.total_amount / 2)
        # every invoice of the months before the last finalized one is paid, but one: it is overdue
        last = max(i.cycle_start for i in final)
        unpaid = [i for i in final if i.cycle_start < last and i.status != "PAID"]
        assert [(account_of[i.pk], i.status) for i in unpaid] == [("driftwood-health", "DUE")]
        assert unpaid[0].due_date < now
        assert {i.status for i in final if i.cycle_start == last} <= {"DUE", "PAID", "PARTIALLY_PAID"}

        # Totals recomputed here from the usage and the prices: a Starter, a Growth, an EUR Growth and an
        # Enterprise account (with 40 seats), in the first month
        start, end = months(now)[0]
        checked = 0
        for account, plan, seats in (
            ("juniper-learning", "Starter", 0),
            ("bluefin-logistics", "Growth", 0),
            ("bluefin-eu", "Growth", 0),
            ("acme-robotics", "Enterprise", 40),
        ):
            usage = {u.name: u.usage for u in UsageService(ctx).of_account(account, start, end)}
            [invoice] = [i for i in final if account_of[i.pk] == account and i.start_at == start]
            if account == "bluefin-eu":  # EUR prices: 0.00028 / 0.00023, storage 0.09, fee 185, minimum 460
                rate = D("0.00023") if usage["API requests"] > 1_000_000 else D("0.00028")
                want = max(
                    cents(usage["API requests"] * rate) + cents(usage["Data stored"] * D("0.09")) + 185, D("460")
                )
            else:
                want = expected_total(plan, usage["API requests"], usage["Data stored"], seats)
            assert (invoice.currency, invoice.end_at, invoice.total_amount) == (
                "EUR" if account.endswith("-eu") else "USD",
                end,
                want,
            ), account
            checked += 1
        assert checked == 4


def test_credits_are_consumed_and_the_wallet_pays(session_factory: sessionmaker[Session], demo: Demo) -> None:
    with reading(session_factory, demo.org_id) as ctx:
        service = InvoiceService(ctx)
        [welcome] = (
            balances.credits(ctx).page(PageRequest(size=50), status=None, account_id="cedar-pine", credit_id=None).items
        )
        assert (welcome.purpose, welcome.amount, welcome.currency) == ("Welcome credit", D("100.00"), "USD")
        assert welcome.consumed_amount > 0
        first = next(i for i in all_invoices(ctx) if service.account_of(i).id == "cedar-pine")
        lines = {line.type: line.value for line in service.view(first)[0].walk()}
        assert lines["TOTAL_CREDITS"] == -welcome.consumed_amount
        assert lines["TOTAL_AMOUNT"] == lines["GROSS_AMOUNT"] - welcome.consumed_amount
        [migration] = (
            balances.credits(ctx)
            .page(PageRequest(size=50), status=None, account_id="evergreen-eu", credit_id=None)
            .items
        )
        assert migration.currency == "EUR" and migration.consumed_amount > 0

        harbor = [i for i in all_invoices(ctx) if service.account_of(i).id == "harbor-co" and i.status != "DRAFT"]
        paid_by_wallet = sum((i.paid_amount for i in harbor), D(0))
        assert harbor[0].status == "PAID" and paid_by_wallet > 0
        wallet = balances.wallet(ctx).view("harbor-co")  # what the ongoing DRAFT would take is on hold
        assert wallet.balance + wallet.hold == D("250.00") - paid_by_wallet


def test_the_dashboard_shows_the_company_to_the_demo_user(
    session_factory: sessionmaker[Session], server: str, demo: Demo
) -> None:
    with httpx.Client(base_url=server, timeout=60) as browser:
        signed_in = http_sign_in(browser, demo.email, demo.password, "/dashboard")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
        page = browser.get("/dashboard?days=90")
        assert page.status_code == 200 and demo.email in page.text
    with reading(session_factory, demo.org_id) as ctx:
        figures = dashboard.figures(ctx, 90)
    assert figures.processed > 1000 and figures.failed > 0
    units = {m.name: m.unit for m in figures.usage}  # a SUM in its attribute's unit (or name), a COUNT in events
    assert units == {"API requests": "requests", "Data stored": "GB", "EU API calls": "events"}
    assert set(figures.owed) == {"USD", "EUR"} and [r.currency for r in figures.revenue] == ["USD", "EUR"]
    text = re.sub(r"\s+", " ", page.text)
    assert f"{figures.processed:,f}" in text and "USD {:,.2f}".format(figures.owed["USD"].amount) in text


def test_a_second_run_makes_a_second_organization_and_leaves_the_first_alone(
    session_factory: sessionmaker[Session], demo: Demo, db_url: str
) -> None:
    def snapshot(org_id: str) -> tuple[list[tuple[str, str, str, Decimal | None, Decimal]], int]:
        with reading(session_factory, org_id) as ctx:
            service = InvoiceService(ctx)
            rows = [
                (service.account_of(i).id, i.start_at.isoformat(), i.status, i.total_amount, i.paid_amount)
                for i in all_invoices(ctx)
            ]
            return rows, len(CustomerService(ctx).page(PageRequest(size=50)).items)

    before = snapshot(demo.org_id)
    again = run_demo(db_url)
    assert again.org_id != demo.org_id and again.email != demo.email
    assert snapshot(demo.org_id) == before
    with unit_of_work(session_factory, write=False) as session:
        names = [o.name for o in TenancyService(session).organizations() if o.id in (demo.org_id, again.org_id)]
    assert names == ["Northwind Analytics (demo)"] * 2
    # The same seed gives the same company: the finalized invoices are the same (those that the two runs finalized:
    # a run started on another day may have finalized one month more)
    first, second = before[0], snapshot(again.org_id)[0]
    finalized = {(a, s): t for a, s, status, t, _ in first if status != "DRAFT"}
    common = [(a, s, t) for a, s, status, t, _ in second if status != "DRAFT" and (a, s) in finalized]
    assert len(common) >= 28 and all(finalized[(a, s)] == t for a, s, t in common)


@pytest.mark.parametrize(
    "now, finalized_months",
    [
        (datetime(2025, 3, 2, 0, 30, tzinfo=UTC), 2),  # March's 2nd: February is still in its grace period
        (datetime(2025, 3, 4, 5, 0, tzinfo=UTC), 3),  # the 4th, 05:00: February's bill run (01:00) has run
    ],
    ids=["in-grace", "after-grace"],
)
def test_nothing_happens_after_now_whatever_the_day(
    session_factory: sessionmaker[Session], now: datetime, finalized_months: int
) -> None:
    made = demo_data.build(session_factory, seed=3, scale=0.05, now=now)
    assert made.start == date(2024, 12, 1) and made.customers == 10
    with unit_of_work(session_factory, write=False) as session:
        ctx = Context(session=session, org=session.get(Organization, made.org_id), now=now)
        invoices = all_invoices(ctx)
        final = [i for i in invoices if i.status != "DRAFT"]
        assert len({i.cycle_start for i in final}) == finalized_months
        assert all(i.finalized_at <= now and i.updated_at <= now for i in final)
        assert Counter(i.status for i in invoices)["PARTIALLY_PAID"] == 1
        events = EventQueryService(ctx)
        first = events.page(PageRequest(size=50), account_id=None, status=None, schema_name=None, start=None, end=None)
        assert first.items and all(e.timestamp < now and e.created_at <= now for e in first.items)
        assert (
            events.page(PageRequest(size=50), account_id=None, status=None, schema_name=None, start=now, end=None).items
            == []
        )
        assert made.events["INGESTION_FAILED_PAST_GRACE_PERIOD"] == 0


def test_help_describes_the_options() -> None:
    result = meterline("demo", "--help")
    assert result.returncode == 0
    for option in ("--database-url", "--seed", "--scale"):
        assert option in result.stdout
