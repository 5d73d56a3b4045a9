"""Pricing rules on the console's invoice page, in real headless Chromium, on both engines: the rules' lines are
listed as the PDF lists them, and a rule that failed is said above the invoice (docs/pricing.md, "Pricing rules")."""

from __future__ import annotations

import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.billing_setup import acme_invoices
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


def test_edit_a_plan_s_rules_see_mistakes_per_field_and_preview_them_on_sample_usage(
    page: Page, person: tuple[str, str], tenant: Tenant
) -> None:
    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        sdk.accounts.update_account("acme", tc.UpdateAccountRequest(metadata={"tier": "enterprise", "seats": "12"}))
        meter = create_metering_catalog(sdk)["sum"]
        plan = sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, meter), pricing_rules=RULES)
        )
    finally:
        sdk.close()
    sign_in(page, *person)
    page.goto(f"/price-plans/{plan.id}")
    rules = page.get_by_role("region", name="Pricing rules")
    expect(rules.get_by_role("listitem")).to_have_count(4)
    rules.get_by_role("link", name="Edit pricing rules").click()
    expect(page.get_by_role("heading", name="Pricing rules of Rules")).to_be_visible()
    expect(page.get_by_label("Rule 1 name")).to_have_value("Usage cap")
    expect(page.get_by_label("Rule 4 target")).to_have_value("revenue.support")

    # the preview: the worked example of docs/pricing.md, for acme (enterprise, 12 seats) and 1,500 calls
    page.get_by_label("Usage of API calls").fill("1500")
    page.get_by_label("Account (optional)").fill("acme")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_text("300.00 as rated, 260.00 with the rules")).to_be_visible()
    outcome = page.get_by_role("table", name="Rules")
    rows = [[c.strip() for c in r.locator("td").all_inner_texts()] for r in outcome.locator("tbody tr").all()]
    assert rows == [
        ["1", "Usage cap", "applied", "API calls: Usage cap (usage update, usage 1,500 → 1,000)", "-50.00"],
        ["2", "Volume discount", "applied", "API calls: Volume discount (revenue update)", "-10.00"],
        ["3", "Enterprise seats", "applied", "Enterprise seats (2.50 each) (added line)", "30.00"],
        ["4", "Support discount", "applied", "Support: Support discount (revenue update)", "-10.00"],
    ]
    cards = page.get_by_role("table", name="Cards")
    assert [[c.strip() for c in r.locator("td").all_inner_texts()] for r in cards.locator("tbody tr").all()] == [
        ["API calls", "1,500", "150.00", "90.00"],
        ["Platform", "", "100.00", "100.00"],
        ["Support", "", "50.00", "40.00"],
    ]

    # a mistake is shown next to its field, what was typed stays, nothing is saved
    page.get_by_label("Rule 2 computation").fill('{"*": [1')
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("alert")).to_have_text("Nothing was saved: see the mistakes below.")
    field = page.locator("label", has=page.get_by_label("Rule 2 computation"))
    expect(field.locator(".field-error")).to_contain_text("not valid jsonLogic")
    expect(page.get_by_label("Rule 2 computation")).to_have_value('{"*": [1')
    page.get_by_label("Rule 2 computation").fill('{"*": [{"var": "revenue.api_calls"}, 0.8]}')
    page.get_by_label("Rule 3 action").select_option("UPDATE")
    page.get_by_role("button", name="Save rules").click()
    field = page.locator("label", has=page.get_by_label("Rule 3 target"))
    expect(field.locator(".field-error")).to_be_visible()
    page.get_by_label("Rule 3 action").select_option("ADD")

    # a rule added, one removed, saved: the API reads them back
    page.get_by_role("button", name="Remove rule 4").click()
    page.get_by_role("button", name="+ Add a rule").click()
    page.get_by_label("Rule 4 name").fill("Minimum fee")
    page.get_by_label("Rule 4 condition").fill('{"<": [{"var": "total.revenue"}, 50]}')
    page.get_by_label("Rule 4 computation").fill('{"-": [50, {"var": "total.revenue"}]}')
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Pricing rules of Rules saved.")).to_be_visible()
    sdk = Sdk(tenant)
    try:
        read = sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules
    finally:
        sdk.close()
    assert [(r.order, r.name, r.action.type, r.action.target, r.computation) for r in read] == [
        (1, "Usage cap", "UPDATE", "usage.api_calls", "1000"),
        (2, "Volume discount", "UPDATE", "revenue.api_calls", '{"*": [{"var": "revenue.api_calls"}, 0.8]}'),
        (3, "Enterprise seats", "ADD", None, '{"*": [{"var": "account.metadata.seats"}, 2.5]}'),
        (4, "Minimum fee", "ADD", None, '{"-": [50, {"var": "total.revenue"}]}'),
    ]


def test_odd_rule_forms_get_words_never_a_500(tenant: Tenant, person: tuple[str, str]) -> None:
    """What a person (or a stale tab) may send to the rules page: a page in words, 400, 403 or 404, nothing saved."""
    import re

    import httpx

    from tests.console.browsing import http_sign_in

    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        meter = create_metering_catalog(sdk)["sum"]
        plan = sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, meter), pricing_rules=RULES[:1])
        )
    finally:
        sdk.close()

    def one(form: dict[str, str] | None = None, **fields: str) -> dict[str, str]:
        rule = {"name": "R", "order": "1", "timing": "IN_ARREARS", "computation": "1", "type": "ADD"} | fields
        return {"rules": "1", **{f"r0_{k}": v for k, v in rule.items()}, **(form or {})}

    preview = {"action": "preview"}
    with httpx.Client(base_url=tenant.base_url) as client:
        http_sign_in(client, person[0], person[1])
        url = f"/price-plans/{plan.id}/pricing-rules"
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(url).text)[1]
        cases = [
            ({"rules": "x", "action": "preview"}, 200, "No pricing rules"),
            ({"rules": "-3", "action": "remove_rule_9"}, 200, "No pricing rules"),
            ({"rules": "1", "action": "remove_rule_x"}, 200, "Rule 1"),
            (one(order="first"), 400, "Give a whole number from 1 to 1000"),
            (one(order="5000"), 400, "less than or equal to 1000"),
            (one(name=""), 400, "Required"),
            (one(type="MULTIPLY"), 400, "Input should be"),
            (one(timing="SOMETIMES"), 400, "Input should be"),
            (one(type="UPDATE", target="revenue.nope"), 400, "nope"),
            (one(computation="x" * 10_001), 400, "at most 10000"),
            (one(preview | {"currency": "XXX"}), 400, "The plan does not support XXX"),
            (one(preview | {f"usage_{meter}": "1e400000"}), 400, "Must be below 10^15"),
            (one(preview | {f"usage_{meter}": "-1"}), 400, "Usage cannot be negative"),
            (one(preview | {"account": "nobody"}), 400, "No account nobody"),
            (one(preview, computation='{"/": [1, 0]}'), 200, "failed (computation)"),
        ]
        for data, status, words in cases:
            r = client.post(url, data={"csrf": csrf, "action": "save", **data})
            assert (r.status_code, words in r.text) == (status, True), (data, r.text[-3000:])
        assert client.post(url, data={"csrf": "x", **one()}).status_code == 403
        assert client.get("/price-plans/pp.nope/pricing-rules").status_code == 404
        sdk = Sdk(tenant)
        try:
            assert [r.name for r in sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules] == [
                "Usage cap"
            ]
            # saving no rows removes the rules
            assert client.post(url, data={"csrf": csrf, "action": "save", "rules": "0"}).status_code == 303
            assert not sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules
        finally:
            sdk.close()


def test_an_account_s_own_rules_on_its_schedule(page: Page, person: tuple[str, str], tenant: Tenant) -> None:
    import re

    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        sdk.accounts.update_account("acme", tc.UpdateAccountRequest(metadata={"tier": "enterprise", "seats": "12"}))
        meter = create_metering_catalog(sdk)["sum"]
        plan = sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, meter), pricing_rules=RULES)
        )
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
        _, standard = this_month(sdk, plan.id, "1500")
        assert standard.total_amount == 220  # the plan's rules: docs/pricing.md's worked example
    finally:
        sdk.close()
    sign_in(page, *person)
    page.goto("/accounts/acme?tab=schedule")
    page.get_by_role("link", name=re.compile("^Pricing rules of Rules")).click()
    expect(page.get_by_role("heading", name="Pricing rules of Acme Inc on Rules (version 1)")).to_be_visible()
    expect(page.get_by_label("Account (optional)")).to_have_value("acme")  # the preview reads the account
    # the account's own rules: the plan's cap and discount, without the seats and the support discount
    page.get_by_role("button", name="Remove rule 4").click()
    page.get_by_role("button", name="Remove rule 3").click()
    page.get_by_label("Usage of API calls").fill("1500")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_text("300.00 as rated, 240.00 with the rules")).to_be_visible()
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Pricing rules of Rules for this account saved.")).to_be_visible()
    expect(page.get_by_label("Rule 2 name")).to_have_value("Volume discount")
    expect(page.get_by_label("Rule 3 name")).to_have_count(0)
    page.goto("/accounts/acme?tab=schedule")
    expect(page.get_by_text("(the account's own)")).to_be_visible()

    sdk = Sdk(tenant)
    try:
        invoices = {i.invoice_type: i for i in acme_invoices(sdk)}
        # 1,500 calls capped (100.00) then 10% off (90.00), platform 100.00, Support 50.00 undiscounted: 240.00,
        # less the 50.00 invoiced in advance
        assert sdk.invoices.get_invoice(invoices["STANDARD"].id).total_amount == 190
        assert sdk.invoices.get_invoice(invoices["STANDARD_ADVANCED"].id).total_amount == 50
        [schedule] = sdk.accounts.get_pricing_schedules("acme").data
        assert [r.name for r in schedule.pricing_rules] == ["Usage cap", "Volume discount"]
        assert len(sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules) == 4  # the plan's
    finally:
        sdk.close()


def test_a_pending_drafts_rules_are_edited_in_the_draft(page: Page, person: tuple[str, str], tenant: Tenant) -> None:
    """With an ACTIVE plan, the rules editor of its v2 draft saves into the draft (the version in force keeps its
    rules until the draft is finalized); the plan's own rules page then points at the draft."""
    sdk = Sdk(tenant)
    try:
        meter = create_metering_catalog(sdk)["sum"]
        plan = sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(name="Rules", price_plan_details=details(sdk, meter), pricing_rules=RULES)
        )
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    finally:
        sdk.close()
    sign_in(page, *person)
    page.goto(f"/price-plans/{plan.id}/draft")
    page.get_by_role("link", name="Edit the draft's pricing rules").click()
    expect(page.get_by_role("heading", name="Pricing rules of the draft of Rules")).to_be_visible()
    expect(page.get_by_text("Saving starts a draft (version 2) from version 1")).to_be_visible()
    page.get_by_role("button", name="Remove rule 4").click()
    page.get_by_label("Rule 1 name").fill("Usage cap at 1,000")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Pricing rules of the draft (version 2) saved.")).to_be_visible()
    expect(page.get_by_role("region", name="Pricing rules").get_by_role("listitem")).to_have_count(3)

    sdk = Sdk(tenant)
    try:
        v2 = tc.PricePlanV2Api(sdk.client)
        draft = v2.list_price_plan_pricing_rules(plan.id, version="LATEST").data
        in_force = sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].pricing_rules
    finally:
        sdk.close()
    assert [(r.order, r.name) for r in draft] == [
        (1, "Usage cap at 1,000"),
        (2, "Volume discount"),
        (3, "Enterprise seats"),
    ]
    assert [r.name for r in in_force] == ["Usage cap", "Volume discount", "Enterprise seats", "Support discount"]

    # the plan's own rules page says where its rules change now, and saves nothing there
    page.goto(f"/price-plans/{plan.id}/pricing-rules")
    expect(
        page.get_by_text("A draft of this plan (version 2) is pending: edit the draft's rules instead")
    ).to_be_visible()
