"""The customer page lists each account's invoice group (read-only), in headless Chromium, on both engines."""

from __future__ import annotations

import togai_client as tc
from playwright.sync_api import Page, expect

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
