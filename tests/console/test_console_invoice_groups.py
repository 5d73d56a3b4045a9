"""The customer page lists each account's invoice group (read-only) and the groups' COMPOSITE invoices with their
PDF, in headless Chromium, on both engines."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import togai_client as tc
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from meterline.usecases import bill_runs
from tests.api.conftest import Sdk
from tests.conftest import Tenant
from tests.console.browsing import sign_in


def test_the_customer_page_names_each_accounts_invoice_group(
    page: Page, person: tuple[str, str], tenant: Tenant
) -> None:
    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-2", name="Acme Labs", customer_id="acme"))
        group = tc.InvoiceGroupsApi(sdk.client).create_invoice_group(
            tc.CreateInvoiceGroupRequest(
                name="Acme consolidated",
                email="ap@acme.test",
                daily_invoice_consolidation=False,
                account_ids=["acme-2"],
                address=tc.Address(line1="2 Group Rd"),
            )
        )
    finally:
        sdk.close()
    sign_in(page, *person)
    page.goto("/customers/acme")
    expect(page.locator("table tr", has_text="Acme Labs")).to_contain_text(f"Acme consolidated {group.id}")
    expect(page.locator("table tr", has_text="Acme Inc").last).to_contain_text("—")
    expect(page.locator("table tr", has_text="Acme Inc").last).not_to_contain_text("Acme consolidated")


def test_the_customer_page_lists_its_groups_composite_invoices_with_their_pdf(
    page: Page, person: tuple[str, str], tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given acme's accounts acme and acme-2 in a daily group, and a custom invoice of each finalized today
    sdk = Sdk(tenant)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-2", name="Acme Labs", customer_id="acme"))
        group = tc.InvoiceGroupsApi(sdk.client).create_invoice_group(
            tc.CreateInvoiceGroupRequest(
                name="Acme consolidated",
                email="ap@acme.test",
                daily_invoice_consolidation=True,
                account_ids=["acme", "acme-2"],
                net_term_days=15,
                address=tc.Address(line1="2 Group Rd"),
            )
        )
        for account_id, value in (("acme", 1.10), ("acme-2", 2.20)):
            sdk.invoices.create_custom_invoice(
                tc.CreateCustomInvoiceRequest(
                    account_id=account_id,
                    start_date=start,
                    end_date=start + timedelta(days=1),
                    status="DUE",
                    line_items=[tc.CustomInvoiceLineItem(description="Setup", value=value)],
                )
            )
    finally:
        sdk.close()
    # When the bill run of tomorrow makes their composite
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    assert bill_runs.run(session_factory, tomorrow, now=tomorrow, org_id=tenant.org.id).composites == 1
    # Then the customer page lists it, with its group, total, paid, status and PDF
    sign_in(page, *person)
    page.goto("/customers/acme")
    row = page.locator("table.composites tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Acme consolidated {group.id}")
    expect(row).to_contain_text("Due")
    expect(row).to_contain_text("USD 3.30")
    with page.expect_download() as download:
        row.get_by_role("link", name="PDF").click()
    pdf = download.value.path().read_bytes()
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "BILL TO Acme consolidated ap@acme.test 2 Group Rd Net terms: 15 days" in text
    assert "Total USD 3.30 Paid USD 0.00 Amount due USD 3.30" in text
