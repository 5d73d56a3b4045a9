"""Pricing rules on the console's invoice page, in real headless Chromium, on both engines: the rules' lines are
listed as the PDF lists them, and a rule that failed is said above the invoice (docs/pricing.md, "Pricing rules")."""

from __future__ import annotations

import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_pricing_rules_sdk import RULES, details, rule, this_month
from tests.conftest import Tenant
from tests.console.browsing import sign_in
from tests.console.test_console_invoice_page import page_lines


def test_the_rules_lines_and_a_failed_rule_on_the_invoice_page(
    page: Page, person: tuple[str, str], tenant: Tenant
) -> None:
    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        meter = create_metering_catalog(sdk)["sum"]
        plan = sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, meter), pricing_rules=RULES)
        )
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
        broken = rule(5, "Broken", '{"*": [{"var": "account.metadata.nope"}, 2]}', "ADD")
        _, standard = this_month(sdk, plan.id, "1500", pricing_rules_override=[*RULES, broken])
    finally:
        sdk.close()
    sign_in(page, *person)
    page.goto(f"/invoices/{standard.id}")
    lines = [row[0] for row in page_lines(page)]
    assert lines[:5] == [
        "API calls",
        "API calls: slab 1 (above 0)",
        "API calls: Usage cap",
        "API calls: Volume discount",
        "Platform",
    ]
    warning = page.get_by_role("alert", name="Pricing rules that failed")
    expect(warning).to_contain_text("pricing rule 'Broken' (order 5): computation: '*' needs numbers, got None")
