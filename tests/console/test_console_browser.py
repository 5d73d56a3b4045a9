"""The console in real headless Chromium (Debian's, driven by Playwright), against a live server on both engines.
Each step is a person's: sign in, create a customer, find it, open it. A screenshot of every page is written to
`test-results/console/` (docs/console.md)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Tenant
from tests.console.browsing import http_sign_in, menu, server_judges, shot, sign_in, tab


def test_sign_in_create_a_customer_find_it_open_it(page: Page, person: tuple[str, str], db_url: str) -> None:
    engine = db_url.split(":", 1)[0].split("+")[0]
    email, password = person
    # A wrong password says so, in words
    page.goto("/login")
    shot(page, "login", engine)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")

    sign_in(page, email, password)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()  # where a person lands
    menu(page, "Customers")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    expect(page.get_by_text("No customers yet")).to_be_visible()
    shot(page, "customers-empty", engine)

    # + New Customer: a mistake is shown next to its field, and what was typed stays
    page.get_by_role("link", name="+ New Customer").first.click()
    page.get_by_label("Customer Name").fill("Zed Industries")
    page.get_by_label("Email ID").fill("not-an-email")
    page.get_by_label("Customer ID").fill("zed")
    server_judges(page, page.get_by_role("button", name="Add Customer"))
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_text("Enter an email address")).to_be_visible()
    expect(page.get_by_label("Customer Name")).to_have_value("Zed Industries")
    shot(page, "customer-new-error", engine)
    page.get_by_label("Email ID").fill("billing@zed.test")
    page.get_by_label("City").fill("Zürich")
    page.get_by_role("button", name="Add Customer").click()

    # The customer's page, with its default account, says it is saved
    expect(page.get_by_role("heading", name="Zed Industries")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Customer “Zed Industries” created, with its default account zed (USD)."
    )
    expect(page.get_by_role("cell", name="zed", exact=True)).to_be_visible()
    expect(page.get_by_text("Zürich")).to_be_visible()
    shot(page, "customer", engine)

    # The list finds it by search
    page.get_by_role("link", name="Customers").first.click()
    page.get_by_placeholder("Search by name, id or email").fill("zed ind")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Zed Industries")).to_be_visible()
    page.get_by_placeholder("Search by name, id or email").fill("nobody-like-this")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text('No customer matches "nobody-like-this".')).to_be_visible()
    shot(page, "customers", engine)

    # A duplicate id is refused with the service's message
    page.goto("/customers/new")
    page.get_by_label("Customer Name").fill("Zed Again")
    page.get_by_label("Email ID").fill("again@zed.test")
    page.get_by_label("Customer ID").fill("zed")
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_role("alert")).to_contain_text("zed")

    # Sign out: the console asks to sign in again
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Meterline")).to_be_visible()
    page.goto("/customers")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_phone_screen_keeps_the_menu_and_the_list(page: Page, person: tuple[str, str], db_url: str) -> None:
    engine = db_url.split(":", 1)[0].split("+")[0]
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, *person)
    menu(page, "Customers")
    expect(page.get_by_role("link", name="Customers").first).to_be_visible()
    expect(page.get_by_role("link", name="+ New Customer").first).to_be_visible()
    shot(page, "customers-phone", engine)


def test_forms_need_the_session_token(tenant: Tenant, person: tuple[str, str]) -> None:
    """CSRF: a form posted without the session's token is refused, even with the session cookie."""
    import httpx

    with httpx.Client(base_url=tenant.base_url) as client:
        http_sign_in(client, person[0], person[1])
        assert "meterline_session" in client.cookies
        r = client.post("/customers/new", data={"name": "Evil", "email": "e@evil.test", "id": "evil", "csrf": "x"})
        assert r.status_code == 403 and "expired" in r.text
        assert "HttpOnly" in client.get("/login").headers.get("set-cookie", "HttpOnly")


def test_an_account_from_plan_to_paid_invoice(page: Page, person: tuple[str, str], tenant: Tenant, db_url: str) -> None:
    """Issue 7's walk: a customer, a EUR account, a plan attached, usage and the draft growing as events arrive, a
    customer charge, credits, the wallet, the invoice finalized and downloaded as a PDF."""
    from datetime import datetime, timedelta, timezone

    import togai_client as tc

    from tests.api.conftest import Sdk, create_metering_catalog
    from tests.api.test_price_plans_sdk import tiered

    engine = db_url.split(":", 1)[0].split("+")[0]
    sdk = Sdk(tenant)
    meters = create_metering_catalog(sdk)
    cycle = tc.PricingCycleConfig(
        interval="MONTHLY",
        grace_period=0,
        start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
    )
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Euro Growth",
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["EUR"],
                pricing_cycle_config=cycle,
                usage_rate_cards=[tiered(meters["sum"], "EUR")],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["EUR"]))

    sign_in(page, *person)
    menu(page, "Customers")
    # A customer and a EUR account
    page.get_by_role("link", name="+ New Customer").first.click()
    page.get_by_label("Customer Name").fill("Berlin Labs")
    page.get_by_label("Email ID").fill("billing@berlin.test")
    page.get_by_label("Customer ID").fill("berlin")
    page.get_by_role("button", name="Add Customer").click()
    page.get_by_role("link", name="Add Account").click()
    expect(page.get_by_text("It cannot be changed once set")).to_be_visible()
    page.get_by_label("Account Name").fill("Berlin EUR")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Account ID").fill("berlin-eur")
    page.get_by_role("button", name="Add Account").click()
    expect(page.get_by_role("heading", name="Berlin EUR")).to_be_visible()
    expect(page.get_by_text("No price plan is running")).to_be_visible()

    # Attach the plan from the first of this month
    tab(page, "Price Plan Schedule")
    today = datetime.now(timezone.utc).date()
    page.get_by_label("Price plan").select_option(label="Euro Growth")
    page.get_by_label("From", exact=True).fill(today.replace(day=1).isoformat())
    page.get_by_role("button", name="Attach").click()
    page.get_by_role("button", name="Attach plan").click()  # the confirmation: no open draft changes
    expect(page.get_by_role("listitem").filter(has_text="Euro Growth")).to_contain_text(
        f"from {today.replace(day=1).isoformat()} on, with no end"
    )
    shot(page, "account-schedule", engine)

    # Usage arrives: the summary shows it accruing (150 calls: 100 x 1.00 + 50 x 0.50)
    from tests.api.test_ingestion_sdk import ev

    now = datetime.now(timezone.utc)
    at = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(minutes=1))
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(
            events=[ev("b1", "100", account="berlin-eur", at=at), ev("b2", "50", account="berlin-eur", at=at)]
        )
    )
    tab(page, "Account Summary")
    expect(page.get_by_role("row", name="Total so far EUR 125.00")).to_be_visible()

    # + Add Customer Charges, then a mistake in the value
    page.get_by_label("Name").fill("Onboarding")
    page.get_by_label("Value (EUR)").fill("40")
    page.get_by_role("button", name="Add charge").click()
    expect(page.get_by_role("row", name="Total so far EUR 165.00")).to_be_visible()
    page.get_by_label("Name").fill("Oops")
    page.get_by_label("Value (EUR)").fill("forty")
    page.get_by_role("button", name="Add charge").click()
    expect(page.get_by_role("alert")).to_contain_text("Value: enter an amount")  # next to the Value field
    shot(page, "account-summary", engine)

    # Credits: 15.00 off; the summary shows it
    tab(page, "Credits")
    page.get_by_label("Amount (EUR)").fill("15")
    page.get_by_label("Purpose").fill("Welcome")
    page.get_by_role("button", name="Add Credits").click()
    expect(page.get_by_role("cell", name="Welcome")).to_be_visible()
    shot(page, "account-credits", engine)
    tab(page, "Account Summary")
    expect(page.get_by_role("row", name="Total so far EUR 150.00")).to_be_visible()

    # The wallet: 50.00, of which the draft holds 50.00
    tab(page, "Wallet")
    page.get_by_label("Top up (EUR)").fill("50")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_role("row").filter(has_text="On hold until finalized")).to_contain_text("EUR -50.00")
    shot(page, "account-wallet", engine)

    # The invoice: finalize it now, see it numbered and partly paid by the wallet, download the PDF
    tab(page, "Invoices")
    page.get_by_role("link", name="Draft").click()
    expect(page.get_by_role("heading", name="Draft invoice")).to_be_visible()
    page.get_by_role("link", name="Finalize now").click()  # it asks first (test_console_invoice_page.py)
    page.get_by_role("button", name="Finalize invoice").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partially paid")
    expect(page.get_by_role("row", name="Total EUR 150.00")).to_be_visible()
    expect(page.get_by_role("row", name="Paid from wallet EUR 50.00")).to_be_visible()
    shot(page, "invoice", engine)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    from tests.api.test_invoices_sdk import pdf_text

    text = pdf_text(pdf)
    assert "Berlin Labs" in text and "EUR 150.00" in text and "Onboarding" in text and "Welcome" in text
    page.get_by_role("link", name="Mark paid").click()  # the amount due and today, filled in
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^INV-\d+ Paid$"))
    expect(page.get_by_role("link", name="Void")).to_have_count(0)  # PAID is final (D12)
