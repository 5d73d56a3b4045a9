"""Entitlement cards in the plan builder (issue 21) in real headless Chromium, on both engines: a billing entitlement
(feature, units per cycle, validity, timing, slabs) and an entitlement overage (no limit, billed every N cycles from
cycle M, two slabs) added through the forms, shown on the plan's page in words, refusals of the catalog's rules in
words next to their field with what was typed kept, read back through the API to the exact decimal, and activated."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_entitlements_sdk import feature
from tests.conftest import Tenant
from tests.console.browsing import engine_of, shot, sign_in
from tests.console.test_console_plans import read_plan, slab_rates

D = Decimal


def test_add_a_billing_entitlement_and_an_overage_card_to_a_plan(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    create_metering_catalog(sdk)  # the event schema api_calls the feature reads
    feature_id = feature(sdk, "API calls").id
    name = f"Gated {secrets.token_hex(3)}"
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=name,
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["USD"],
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    grace_period=0,
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                ),
            ),
        )
    )

    sign_in(page, *person)
    page.goto(f"/price-plans/{plan.id}")
    expect(page.get_by_text("No billing entitlement: no feature's units are sold with this plan.")).to_be_visible()
    expect(page.get_by_text("No entitlement overage: entitled events stop at the feature's credits.")).to_be_visible()

    # + Add billing entitlement: validity defaults to the cycle's start for a month; a validity that is not a
    # duration is the rules' refusal, in words next to its field, everything typed kept
    page.get_by_role("link", name="+ Add billing entitlement").click()
    expect(page.get_by_role("heading", name="Add billing entitlement")).to_be_visible()
    expect(page.get_by_label("Valid from")).to_have_value("P0D")
    expect(page.get_by_label("Valid until")).to_have_value("P1M")
    expect(page.get_by_text("P0D = at once, P1M = 1 month")).to_be_visible()
    page.get_by_label("Feature").select_option(label="API calls")
    page.get_by_label("Units per cycle").fill("1,000")
    page.get_by_label("Billed").select_option("IN_ADVANCE")
    page.get_by_label("Valid until").fill("1 month")
    page.get_by_label("Slab 1 rate (USD)").fill("0.125")
    page.get_by_role("button", name="Add billing entitlement").click()
    until = page.locator("label").filter(has=page.get_by_label("Valid until"))
    expect(until).to_contain_text("'1 month' is not an ISO 8601 duration of years, months, weeks and days")
    expect(page.get_by_label("Valid until")).to_have_value("1 month")
    expect(page.get_by_label("Units per cycle")).to_have_value("1,000")
    expect(page.get_by_label("Feature")).to_have_value(feature_id)
    expect(page.get_by_label("Slab 1 rate (USD)")).to_have_value("0.125")
    shot(page, "plan-entitlement-error", engine)
    page.get_by_label("Valid until").fill("P1M")
    page.get_by_role("button", name="Add billing entitlement").click()
    expect(page.get_by_role("status")).to_have_text(f'Added the billing entitlement "API calls" of {name}.')

    card = page.get_by_role("article", name="API calls", exact=True)
    expect(card.get_by_role("heading", name="API calls")).to_contain_text(
        "feature API calls · 1,000 units per cycle · usable for 1 month from the cycle's start · billed in advance"
    )
    expect(card.get_by_role("row").nth(1)).to_have_text(re.compile(r"1\s*0\s*and above\s*Per unit\s*USD 0.125"))

    # A second billing entitlement of the same feature: refused next to the feature, in words
    page.get_by_role("link", name="+ Add billing entitlement").click()
    page.get_by_label("Feature").select_option(label="API calls")
    page.get_by_label("Units per cycle").fill("50")
    page.get_by_label("Slab 1 rate (USD)").fill("1")
    page.get_by_role("button", name="Add billing entitlement").click()
    chosen = page.locator("label").filter(has=page.get_by_label("Feature"))
    expect(chosen).to_contain_text("This plan already has a billing entitlement card for API calls: one per feature")
    expect(page.get_by_label("Units per cycle")).to_have_value("50")
    shot(page, "plan-entitlement-twice", engine)
    page.get_by_role("link", name="Cancel").click()

    # + Add entitlement overage: no limit, billed every 3 cycles from cycle 1, two slabs
    page.get_by_role("link", name="+ Add entitlement overage").click()
    expect(page.get_by_label("Bill every (cycles)")).to_have_value("1")
    expect(page.get_by_label("From cycle")).to_have_value("0")
    expect(page.get_by_label("Overage limit (units, optional)")).to_have_value("")
    page.get_by_label("Feature").select_option(label="API calls")
    page.get_by_label("Bill every (cycles)").fill("3")
    page.get_by_label("From cycle").fill("1")
    page.get_by_label("Slab 1 to").fill("20")
    page.get_by_label("Slab 1 rate (USD)").fill("0.20")
    page.get_by_role("button", name="+ Add a slab").click()
    expect(page.get_by_label("Slab 2 from")).to_have_value("20")
    expect(page.get_by_label("Bill every (cycles)")).to_have_value("3")  # kept as typed
    page.get_by_label("Slab 2 rate (USD)").fill("0.15")
    shot(page, "plan-overage", engine)
    page.get_by_role("button", name="Add entitlement overage").click()
    expect(page.get_by_role("status")).to_have_text(f'Added the entitlement overage "API calls" of {name}.')
    overage = page.get_by_role("article", name="API calls overage")
    expect(overage.get_by_role("heading", name="API calls")).to_contain_text(
        "feature API calls · no limit past the credits per billing period · billed every 3 cycles from cycle 1"
    )
    expect(overage.get_by_role("row").nth(1)).to_have_text(re.compile(r"1\s*0\s*20\s*Per unit\s*USD 0.20"))
    expect(overage.get_by_role("row").nth(2)).to_have_text(re.compile(r"2\s*20\s*and above\s*Per unit\s*USD 0.15"))

    # Edit the overage: a limit of 500 units
    overage.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("From cycle")).to_have_value("1")
    page.get_by_label("Overage limit (units, optional)").fill("500")
    page.get_by_role("button", name="Save entitlement overage").click()
    expect(overage.get_by_role("heading", name="API calls")).to_contain_text(
        "up to 500 units past the credits per billing period"
    )
    shot(page, "plan-entitlement-cards", engine)

    details = read_plan(tenant, plan.id)["pricingSchedule"][0]["pricePlanDetails"]
    [entitlement] = details["billingEntitlementRateCards"]
    assert (entitlement["featureId"], entitlement["invoiceTiming"], entitlement["displayName"]) == (
        feature_id,
        "IN_ADVANCE",
        "API calls",
    )
    [config] = entitlement["featureConfigs"]
    assert (config["featureCreditLimit"], config["effectiveFrom"], config["effectiveUntil"]) == (1000, "P0D", "P1M")
    assert slab_rates(entitlement, "USD") == ["0.125"]
    [over] = details["entitlementOverageRateCards"]
    assert (over["featureId"], over["maxQuantity"], over["billingConfig"]) == (
        feature_id,
        500,
        {"interval": 3, "startOffset": 1},
    )
    assert [s["startAfter"] for s in over["ratePlan"]["slabs"]] == [0, 20]
    assert slab_rates(over, "USD") == ["0.20", "0.15"]

    # The plan activates with its entitlement cards
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("button", name="Activate plan").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ACTIVE")
    expect(page.get_by_role("article", name="API calls", exact=True)).to_be_visible()
