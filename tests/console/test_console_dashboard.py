"""The dashboard in real Chromium: the headline figures and the charts of an organization with usage and invoices."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.events.service import IngestionService
from meterline.invoicing.service import InvoiceService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.conftest import Tenant
from tests.console.browsing import engine_of, menu, shot, sign_in
from tests.service.billing_world import associate, make_plan
from tests.service.test_ingestion import event, setup_catalog


def test_the_dashboard_shows_events_usage_and_what_was_invoiced(
    page: Page, person: tuple[str, str], tenant: Tenant, session_factory: sessionmaker[Session], db_url: str
) -> None:
    now = utc_now()
    with unit_of_work(session_factory) as s:
        ctx = Context(session=s, org=s.get(Organization, tenant.org.id), now=now)
        setup_catalog(ctx)  # acme, the api_calls schema, a SUM meter "calls"
        associate(ctx, make_plan(ctx, "Starter"), (now - timedelta(days=40)).date().isoformat())
    with unit_of_work(session_factory) as s:
        ctx = Context(session=s, org=s.get(Organization, tenant.org.id), now=now)
        moment = now - timedelta(minutes=5)
        batch = [event("e1", moment, "5"), event("e2", moment, "7"), event("e3", moment, "8")]
        lost = event("e4", moment, "1")
        lost.account_id = "nobody"  # no such account: the event fails
        statuses = [r.status for r in IngestionService(ctx).ingest([*batch, lost])]
        assert statuses.count("INGESTION_FAILED_ACCOUNT_NOT_FOUND") == 1
        InvoiceService(ctx).create_custom(
            "acme",
            now - timedelta(days=1),
            now,
            "DUE",
            [{"description": "Onboarding", "value": Decimal("125.50")}],
            auto_advance=False,
            apply_credits=False,
            apply_wallet=False,
            idempotency_key=None,
        )

    engine = engine_of(db_url)
    sign_in(page, *person)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    def figure(name: str) -> str:
        return page.locator(".figures div", has=page.get_by_text(name, exact=True)).locator("dd").inner_text()

    assert figure("Customers") == "1" and figure("Accounts") == "1"
    assert figure("Events processed (30 days)") == "3"
    assert figure("Events failed (30 days)") == "1"
    assert figure("Invoiced this month") == "USD 125.50"
    assert figure("Outstanding") == "USD 125.50"
    events_chart = page.get_by_role("img", name="Events processed and failed per day")
    expect(events_chart).to_be_visible()
    today = now.strftime("%d %b").lstrip("0")  # the organization's time zone is UTC
    # One bar per series today, its tooltip exact; the legends total the period
    expect(events_chart.locator("rect title")).to_have_text([f"{today} · Processed: 3", f"{today} · Failed: 1"])
    expect(page.get_by_text("Processed: 3", exact=True)).to_be_visible()
    usage = page.get_by_role("img", name="Usage of calls per day")
    expect(usage.locator("rect title")).to_have_text([f"{today} · calls: 20"])
    invoiced = page.get_by_role("img", name="Invoiced per month")
    expect(invoiced.locator("rect title")).to_have_text([f"{now.strftime('%b %Y')} · USD: 125.50"])
    shot(page, "dashboard", engine)

    page.get_by_role("navigation", name="Period").get_by_role("link", name="7 days").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?days=7$"))
    assert figure("Events processed (7 days)") == "3"
    expect(page.get_by_role("img", name="Events processed and failed per day").locator("text.label")).to_have_count(7)
    page.goto("/dashboard?days=nonsense")  # an unknown range falls back to 30 days
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    menu(page, "Customers")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    menu(page, "Dashboard")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_an_empty_organization_gets_a_calm_dashboard(page: Page, person: tuple[str, str], db_url: str) -> None:
    sign_in(page, *person)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("No usage in this period yet")).to_be_visible()
    expect(page.get_by_text("Nothing in this period yet.")).to_have_count(2)  # events and invoiced
    shot(page, "dashboard-empty", engine_of(db_url))
