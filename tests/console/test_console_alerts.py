"""The Alerts section in real headless Chromium against a live server, on both engines: a person creates an alert
from a template (a mistake first, shown next to its field), the alert is evaluated (the worker's run, at an instant
the test chooses), the incident appears, and the person closes it through the confirmation page. What the browser
did is read back through the API."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.invoicing.service import wallet_holds
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import alerts
from meterline.wallet.service import WalletService
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, menu, shot, sign_in

UTC = timezone.utc


def test_an_alert_from_a_template_its_incident_and_closing_it(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    engine = engine_of(db_url)
    with tenant.http() as http:
        made = http.post(
            "/customers",
            json={"id": "acme", "name": "Acme Inc", "primaryEmail": "a@acme.test", "address": {}},
        )
        assert made.status_code == 201, made.text
    with unit_of_work(session_factory) as session:
        ctx = Context(session=session, org=session.get(Organization, tenant.org.id), now=datetime.now(UTC))  # type: ignore[arg-type]
        WalletService(ctx, holds=wallet_holds).top_up("acme", Decimal("42.50"))
    sign_in(page, *person)

    menu(page, "Alerts")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    expect(page.get_by_text("No alerts yet")).to_be_visible()
    page.get_by_role("row", name=re.compile("^Wallet balance below")).get_by_role("link", name="+ New alert").click()
    expect(page.get_by_role("heading", name="New alert: Wallet balance below")).to_be_visible()
    page.get_by_label("Watch").select_option("ACCOUNT")
    page.get_by_label("Account or customer id").fill("acme")
    page.get_by_label("Levels").fill("50, fifty")
    page.get_by_role("button", name="Create alert").click()
    expect(page.locator(".field-error")).to_have_text("enter a number, such as 25 or 19.99")
    expect(page.get_by_label("Account or customer id")).to_have_value("acme")
    shot(page, "alert-new-error", engine)
    page.get_by_label("Levels").fill("50, 20")
    page.get_by_label("Owner's email (optional)").fill("ops@acme.test")
    page.get_by_role("button", name="Create alert").click()
    expect(page.get_by_role("status")).to_contain_text("The alert Wallet balance below is created and ACTIVE")
    expect(
        page.get_by_role("row", name=re.compile(r"Wallet balance below.*account acme: levels 50, 20"))
    ).to_be_visible()
    fits(page)

    with tenant.http() as http:
        [alert] = http.get("/alerts").json()["data"]
    assert alert["parameters"] == {"threshold": {"levels": [50, 20]}}
    assert alert["ownerDetails"] == {"user": {"email": "ops@acme.test"}}
    result = alerts.run(session_factory, datetime.now(UTC), org_id=tenant.org.id)
    assert (result.opened, result.failures) == (1, [])  # 42.50: at or below 50, not 20

    page.get_by_role("link", name="Incidents").click()
    row = page.get_by_role("row", name=re.compile(r"Wallet balance below .* account acme 50 42.50 USD Open"))
    expect(row).to_be_visible()
    shot(page, "incidents", engine)
    row.get_by_role("link", name="Close…").click()
    expect(page.get_by_role("heading", name="Close this incident?")).to_be_visible()
    shot(page, "incident-close", engine)
    page.get_by_role("button", name="Close incident").click()
    expect(page.get_by_role("status")).to_have_text("The incident is closed.")
    expect(page.get_by_role("row", name=re.compile(r"account acme 50 42.50 USD Closed"))).to_be_visible()
    with tenant.http() as http:
        [incident] = http.get("/incidents").json()["data"]
    assert incident["status"] == "CLOSED"
