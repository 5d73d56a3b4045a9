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


def test_a_composite_invoice_opens_on_the_invoice_page_laid_out_like_its_pdf(
    page: Page, person: tuple[str, str], tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    # Given acme (Acme Inc) and acme-2 (Acme Labs) in a daily group, a custom invoice of each (1.10 and 2.20)
    # gathered by tomorrow's bill run into one composite, and acme's invoice paid since
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
        made = {
            account_id: sdk.invoices.create_custom_invoice(
                tc.CreateCustomInvoiceRequest(
                    account_id=account_id,
                    start_date=start,
                    end_date=start + timedelta(days=1),
                    status="DUE",
                    line_items=[tc.CustomInvoiceLineItem(description=f"Setup {account_id}", value=value)],
                )
            )
            for account_id, value in (("acme", 1.10), ("acme-2", 2.20))
        }
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        assert bill_runs.run(session_factory, tomorrow, now=tomorrow, org_id=tenant.org.id).composites == 1
        [composite] = sdk.invoices.list_invoices(owner_id=group.id).data
        sdk.invoices.update_invoice(made["acme"].id, tc.UpdateInvoiceRequest(status="PAID"))
    finally:
        sdk.close()
    one, two = made["acme"].sequence_id, made["acme-2"].sequence_id
    # When its number is followed from the customer page
    sign_in(page, *person)
    page.goto("/customers/acme")
    page.locator("table.composites").get_by_role("link", name=composite.sequence_id).click()
    # Then its page reads like its PDF: the number and status (read from the members), billed to the group
    expect(page).to_have_url(f"{tenant.base_url}/invoices/{composite.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{composite.sequence_id} Partially paid")
    facts = page.get_by_label("Invoice details")
    expect(facts).to_contain_text(f"Number{composite.sequence_id}")
    expect(facts).to_contain_text("StatusPartially paid")
    bill_to = page.get_by_label("Bill to")
    expect(bill_to).to_contain_text("Acme consolidated")
    expect(bill_to).to_contain_text("ap@acme.test")
    expect(bill_to).to_contain_text("Net terms: 15 days")
    expect(bill_to).to_contain_text(f"Invoice group {group.id}")
    # each member invoice's lines under its account and number, then its total
    first, second = page.get_by_label(f"Invoice {one}"), page.get_by_label(f"Invoice {two}")
    expect(first.locator("tr.member-heading")).to_have_text(f"Acme Inc (acme), invoice {one}")
    expect(first).to_contain_text("Setup acme")
    expect(first.locator("tr.member-total")).to_have_text(f"Invoice {one} totalUSD 1.10")
    expect(second.locator("tr.member-heading")).to_have_text(f"Acme Labs (acme-2), invoice {two}")
    expect(second.locator("tr.member-total")).to_have_text(f"Invoice {two} totalUSD 2.20")
    # and the totals, exact: 1.10 + 2.20 = 3.30, paid 1.10 (acme's), 2.20 due
    rows = page.get_by_label("Totals").locator("tr")
    expect(rows).to_have_text(
        [
            f"Invoice {one}USD 1.10",
            f"Invoice {two}USD 2.20",
            "TotalUSD 3.30",
            "PaidUSD 1.10",
            "Amount dueUSD 2.20",
        ]
    )
    # Download PDF gives the same totals
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = download.value.path().read_bytes()
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert (f"Invoice {one} USD 1.10 Invoice {two} USD 2.20 Total USD 3.30 Paid USD 1.10 Amount due USD 2.20") in text
    # and a member's number opens that invoice's page
    second.get_by_role("link", name=two).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(two)
    expect(page.get_by_label("Bill to")).to_contain_text("Acme Labs")
