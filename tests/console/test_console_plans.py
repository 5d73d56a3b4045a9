"""The Price Plans section in real headless Chromium, on both engines: build a plan as a person would (a tiered usage
card of two slabs, a fixed fee, a minimum commitment), see mistakes in words, activate it, read it back through the
API to the exact decimal, make a new version, and attach the plan to an account. Screenshots of every page go to
`test-results/console/` (docs/console.md)."""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.conftest import Sdk, create_metering_catalog
from tests.conftest import Tenant
from tests.console.browsing import engine_of, http_sign_in, menu, shot, sign_in


def read_plan(tenant: Tenant, plan_id: str) -> dict[str, Any]:
    """GET /api/price_plans/{id}, numbers as exact decimals."""
    with tenant.http() as client:
        response = client.get(f"/price_plans/{plan_id}")
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def plan_id_of(page: Page) -> str:
    return page.url.rstrip("/").split("/price-plans/")[1].split("?")[0]


def slab_rates(card: dict[str, Any], currency: str) -> list[str]:
    """A card's rates in one currency, as the digits stored (Decimal-exact)."""
    value = next(v for v in card["rateValues"] if v["currency"] == currency)
    return [str(r["rate"]) for r in value["slabRates"]]


def test_build_a_plan_activate_it_version_it_and_attach_it(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    meter = create_metering_catalog(sdk)["sum"]  # the active usage meter "us_calls"
    name = f"Growth {secrets.token_hex(3)}"

    sign_in(page, *person)
    menu(page, "Price Plans")
    expect(page.get_by_role("heading", name="Price Plans")).to_be_visible()
    expect(page.get_by_text("No price plans yet")).to_be_visible()
    shot(page, "plans-empty", engine)

    # + New Price Plan: a grace period that is not a number is refused next to its field, what was typed stays
    page.get_by_role("link", name="+ New Price Plan").first.click()
    page.get_by_label("Plan name").fill(name)
    page.get_by_label("Description (optional)").fill("Usage plus a platform fee")
    page.get_by_label("Billing interval").select_option("MONTHLY")
    page.get_by_label("Start day").select_option("1")
    page.get_by_label("Grace period (days)").fill("two")
    page.get_by_label("EUR", exact=True).check()
    expect(page.get_by_label("USD", exact=True)).to_be_checked()  # the organization's base currency
    page.get_by_role("button", name="Create draft plan").click()
    expect(page.get_by_text("A whole number of days, 0 or more")).to_be_visible()
    expect(page.get_by_label("Plan name")).to_have_value(name)
    expect(page.get_by_label("EUR", exact=True)).to_be_checked()
    shot(page, "plan-new-error", engine)
    page.get_by_label("Grace period (days)").fill("3")
    page.get_by_role("button", name="Create draft plan").click()

    # The draft's page
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.get_by_role("heading", level=1)).to_contain_text("DRAFT")
    expect(page.get_by_text("Monthly, from day 1; 3 days of grace")).to_be_visible()
    plan_id = plan_id_of(page)
    shot(page, "plan-draft-empty", engine)

    # + Add usage rate card: TIERED, two slabs, one rate per currency
    page.get_by_role("link", name="+ Add usage rate card").click()
    page.get_by_label("Usage meter").select_option(label="us_calls")
    page.get_by_label("Name on invoices (optional)").fill("API calls")
    page.get_by_label("Pricing model").select_option("TIERED")
    expect(page.get_by_label("Slab 1 from")).to_have_value("0")
    page.get_by_label("Slab 1 from").fill("5")
    page.get_by_label("Slab 1 to").fill("1000")
    page.get_by_label("Slab 1 rate (USD)").fill("0.10")
    page.get_by_label("Slab 1 rate (EUR)").fill("0.09")
    page.get_by_role("button", name="+ Add a slab").click()
    expect(page.get_by_label("Slab 2 from")).to_have_value("1000")  # the new slab starts where the last ended
    expect(page.get_by_label("Slab 1 rate (USD)")).to_have_value("0.10")
    page.get_by_label("Slab 2 rate (USD)").fill("0.05")
    page.get_by_label("Slab 2 rate (EUR)").fill("four cents")
    page.get_by_role("button", name="Add usage rate card").click()
    # a rate that is not a number: next to its field
    rate_cell = page.get_by_role("cell").filter(has=page.get_by_label("Slab 2 rate (EUR)"))
    expect(rate_cell).to_contain_text("Enter a number, such as 0.05 or 12")
    expect(page.get_by_role("alert")).to_have_text("Nothing was saved: see the mistakes below.")
    shot(page, "plan-usage-card-error", engine)
    page.get_by_label("Slab 2 rate (EUR)").fill("0.045")
    page.get_by_label("Slab 1 to").fill("900")
    page.get_by_role("button", name="Add usage rate card").click()
    # slabs that are not contiguous: next to the "To" that does not meet the next slab
    to_cell = page.get_by_role("cell").filter(has=page.get_by_label("Slab 1 to"))
    expect(to_cell).to_contain_text("Slabs must be contiguous: this slab ends at 900 but slab 2 starts after 1000")
    page.get_by_label("Slab 1 to").fill("1000")
    page.get_by_role("button", name="Add usage rate card").click()
    # the service's own rule, in words, next to the field: the first slab starts after 0
    from_cell = page.get_by_role("cell").filter(has=page.get_by_label("Slab 1 from"))
    expect(from_cell).to_contain_text("The first slab must start after 0, not 5")
    shot(page, "plan-usage-card-service-error", engine)
    page.get_by_label("Slab 1 from").fill("0")
    page.get_by_role("button", name="Add usage rate card").click()

    card = page.get_by_role("article", name="API calls")
    expect(card.get_by_role("heading", name="API calls")).to_contain_text("meter us_calls · Tiered")
    expect(card.get_by_role("row").nth(1)).to_have_text(re.compile(r"1\s*0\s*1,000\s*Per unit\s*EUR 0.09\s*USD 0.10"))
    expect(card.get_by_role("row").nth(2)).to_have_text(
        re.compile(r"2\s*1,000\s*and above\s*Per unit\s*EUR 0.045\s*USD 0.05")
    )

    # + Add fixed fee: billed in advance, an amount per currency
    page.get_by_role("link", name="+ Add fixed fee").click()
    page.get_by_label("Fee name").fill("Platform fee")
    page.get_by_label("Billed").select_option("IN_ADVANCE")
    page.get_by_label("Amount (USD)").fill("49")
    page.get_by_label("Amount (EUR)").fill("45.50")
    shot(page, "plan-fixed-fee", engine)
    page.get_by_role("button", name="Add fixed fee").click()
    fees = page.get_by_role("table", name="Fixed fees")
    expect(fees.get_by_role("row").nth(1)).to_have_text(
        re.compile(r"Platform fee\s*EUR 45.50\s*USD 49\s*In advance\s*Every cycle\s*No")
    )

    # Set minimum commitment
    page.get_by_role("link", name="Set minimum commitment").click()
    page.get_by_label("Amount (USD)").fill("100")
    page.get_by_label("Amount (EUR)").fill("90.00")
    shot(page, "plan-commitment", engine)
    page.get_by_role("button", name="Save minimum commitment").click()
    expect(page.get_by_text("Minimum commitment: EUR 90.00 / USD 100 per cycle")).to_be_visible()
    shot(page, "plan-draft", engine)

    # Activate, in both currencies: a confirmation says it cannot be undone
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=f"Activate {name}?")).to_be_visible()
    expect(page.get_by_text("This cannot be undone: an active plan never goes back to draft")).to_be_visible()
    shot(page, "plan-activate-confirm", engine)
    page.get_by_role("button", name="Activate plan").click()
    expect(page.get_by_role("status")).to_have_text(f"{name} is active in EUR, USD: it can be put on accounts.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ACTIVE")
    expect(page.get_by_text("EUR (active), USD (active)")).to_be_visible()
    shot(page, "plan-active", engine)

    # Read back through the API: the exact configuration, decimals digit for digit
    plan = read_plan(tenant, plan_id)
    assert (plan["name"], plan["status"], plan["description"]) == (name, "ACTIVE", "Usage plus a platform fee")
    [v1] = plan["pricingSchedule"]
    details = v1["pricePlanDetails"]
    assert details["activeCurrencies"] == details["supportedCurrencies"] == ["EUR", "USD"]
    assert details["pricingCycleConfig"] == {
        "interval": "MONTHLY",
        "gracePeriod": 3,
        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
    }
    [usage] = details["usageRateCards"]
    assert (usage["usageMeterId"], usage["displayName"], usage["name"]) == (meter, "API calls", f"usage_{meter}")
    assert usage["ratePlan"] == {
        "pricingModel": "TIERED",
        "slabs": [
            {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
            {"order": 2, "startAfter": 1000, "priceType": "PER_UNIT"},
        ],
    }
    assert slab_rates(usage, "USD") == ["0.10", "0.05"] and slab_rates(usage, "EUR") == ["0.09", "0.045"]
    [fee] = details["fixedFeeRateCards"]
    assert (fee["displayName"], fee["type"], fee["invoiceTiming"], fee["enableProration"]) == (
        "Platform fee",
        "RECURRING",
        "IN_ADVANCE",
        False,
    )
    assert [(r["currency"], str(r["rate"])) for r in fee["rateValues"]] == [("EUR", "45.50"), ("USD", "49")]
    addon = tc.AddOnsApi(sdk.client).get_add_on(fee["id"])
    assert (addon.name, addon.type) == ("Platform fee", "FIXED_FEE")
    commitment = details["minimumCommitment"]
    assert commitment["displayName"] == "Minimum commitment"
    assert [(r["currency"], str(r["rate"])) for r in commitment["rateValues"]] == [("EUR", "90.00"), ("USD", "100")]
    assert not details.get("licenseRateCards")

    # Edit the ACTIVE plan: a cheaper second slab in USD makes version 2; version 1 stays as it was
    card.get_by_role("link", name="Edit").click()
    expect(page.get_by_text("This plan is ACTIVE: saving makes version 2.")).to_be_visible()
    expect(page.get_by_label("Slab 2 rate (USD)")).to_have_value("0.05")
    page.get_by_label("Slab 2 rate (USD)").fill("0.04")
    shot(page, "plan-usage-card-edit", engine)
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_role("status")).to_contain_text("That made version 2; the accounts on version 1 stay on it")
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 2")
    versions = page.get_by_role("table", name="Versions")
    expect(versions.get_by_role("row")).to_have_count(3)
    expect(versions.get_by_role("row").nth(1)).to_contain_text("Version 2 (newest)")
    expect(versions.get_by_role("row").nth(2)).to_contain_text("Version 1")
    expect(card.get_by_role("row").nth(2)).to_contain_text("USD 0.04")
    shot(page, "plan-versions", engine)
    page.get_by_role("link", name="Version 1").click()
    expect(page.get_by_text("You are looking at version 1")).to_be_visible()
    expect(page.get_by_role("article", name="API calls").get_by_role("row").nth(2)).to_contain_text("USD 0.05")
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)  # an old version is read-only
    shot(page, "plan-version-1", engine)

    plan = read_plan(tenant, plan_id)
    assert [s["version"] for s in plan["pricingSchedule"]] == [1, 2]
    old, new = (s["pricePlanDetails"] for s in plan["pricingSchedule"])
    assert slab_rates(old["usageRateCards"][0], "USD") == ["0.10", "0.05"]
    assert slab_rates(new["usageRateCards"][0], "USD") == ["0.10", "0.04"]
    assert slab_rates(new["usageRateCards"][0], "EUR") == ["0.09", "0.045"]
    assert new["activeCurrencies"] == ["EUR", "USD"] and new["minimumCommitment"] == old["minimumCommitment"]

    # The account's Price Plan Schedule offers the plan; attached, it runs on version 2
    account_id = f"buyer-{secrets.token_hex(3)}"  # the customer's default account has the customer's id
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(
            id=account_id, name="Plan Buyer", primary_email="buyer@example.test", address=tc.Address()
        )
    )
    page.goto(f"/accounts/{account_id}?tab=schedule")
    expect(page.get_by_label("Price plan").locator("option", has_text=name)).to_have_count(1)
    page.get_by_label("Price plan").select_option(label=name)
    page.get_by_role("button", name="Attach").click()
    # the confirmation: from today, the plan makes the account's first drafts (its fee is billed in advance)
    drafts = page.get_by_role("table", name="Draft invoices before and after")
    expect(drafts.get_by_role("row", name=re.compile(r", in advance new draft .* v2 — USD 49.00$"))).to_be_visible()
    page.get_by_role("button", name="Attach plan").click()
    expect(page.get_by_role("listitem").filter(has_text=name)).to_contain_text("(version 2)")
    page.goto(f"/price-plans/{plan_id}")
    versions = page.get_by_role("table", name="Versions")
    expect(
        versions.get_by_role("row", name=re.compile(r"^Version 2 \(newest\) since .* UTC EUR, USD 1$"))
    ).to_be_visible()
    expect(versions.get_by_role("row", name=re.compile(r"^Version 1 .* to .* UTC EUR, USD 0$"))).to_be_visible()
    shot(page, "plan-with-an-account", engine)

    # A third version (a higher commitment), then the account moves to it now
    page.get_by_role("link", name="Edit minimum commitment").click()
    expect(page.get_by_label("Amount (EUR)")).to_have_value("90.00")
    page.get_by_label("Amount (USD)").fill("120")
    page.get_by_role("button", name="Save minimum commitment").click()
    expect(page.get_by_text("Minimum commitment: EUR 90.00 / USD 120 per cycle")).to_be_visible()
    page.get_by_label("Accounts on").select_option(label="version 2")
    page.get_by_label("Move them").select_option("IMMEDIATE")
    page.get_by_role("button", name="Move accounts").click()
    expect(page.get_by_role("heading", name="Move the accounts on version 2 to version 3?")).to_be_visible()
    expect(page.get_by_text("1 account moves to version 3 now.")).to_be_visible()
    shot(page, "plan-move-accounts-confirm", engine)
    page.get_by_role("button", name="Move accounts").click()
    expect(page.get_by_role("status")).to_have_text("1 account moved to version 3 (now).")
    expect(
        versions.get_by_role("row", name=re.compile(r"^Version 3 \(newest\) since .* UTC EUR, USD 1$"))
    ).to_be_visible()
    shot(page, "plan-accounts-moved", engine)
    with tenant.http() as client:
        schedules = client.get(f"/accounts/{account_id}/pricing_schedules").json()["data"]
    assert [(s["pricePlanId"], s["version"]) for s in schedules if s["endDate"].startswith("9999")] == [(plan_id, 3)]


def test_the_list_pages_and_searches_a_license_the_cycle_and_archiving(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    tag = secrets.token_hex(3)
    cycle = tc.PricingCycleConfig(
        interval="QUARTERLY",
        grace_period=0,
        start_offset=tc.PricingCycleConfigStartOffset(day_offset="15", month_offset="2"),
    )
    for i in range(27):
        sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(
                name=f"Plan {i:02d} {tag}",
                price_plan_details=tc.CreatePricePlanDetails(supported_currencies=["USD"], pricing_cycle_config=cycle),
            )
        )

    sign_in(page, *person)
    menu(page, "Price Plans")
    plans = page.get_by_role("table")
    expect(plans.get_by_role("row")).to_have_count(26)  # 25 a page, and the header
    expect(plans.get_by_role("row").nth(1)).to_have_text(
        re.compile(rf"Plan 00 {tag}\s*DRAFT\s*Quarterly, from day 15 of month 2 of the period\s*USD\s*v1")
    )
    shot(page, "plans", engine)
    page.get_by_role("link", name="Next page").click()
    expect(plans.get_by_role("row")).to_have_count(3)
    expect(plans.get_by_role("row").nth(2)).to_contain_text(f"Plan 26 {tag}")
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    shot(page, "plans-page-2", engine)
    page.get_by_placeholder("Search by name or id").fill(f"plan 26 {tag}")
    page.get_by_role("button", name="Search").click()
    expect(plans.get_by_role("row")).to_have_count(2)
    page.get_by_placeholder("Search by name or id").fill("no-such-plan")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text('No price plan matches "no-such-plan".')).to_be_visible()
    page.get_by_placeholder("Search by name or id").fill(f"plan 26 {tag}")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"Plan 26 {tag}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Plan 26 {tag}")
    plan_id = plan_id_of(page)

    # Edit details: a start month out of range for a quarterly cycle is the service's refusal, next to its field
    page.get_by_role("link", name="Edit details").click()
    expect(page.get_by_label("Plan name")).to_be_disabled()
    page.get_by_label("Start month").select_option("5")
    page.get_by_role("button", name="Save details").click()
    month = page.locator("label").filter(has=page.get_by_label("Start month"))
    expect(month).to_contain_text("'5' is out of range for QUARTERLY")
    shot(page, "plan-edit-error", engine)
    page.get_by_label("Start month").select_option("3")
    page.get_by_label("Description (optional)").fill("Seats only")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("Quarterly, from day 15 of month 3 of the period")).to_be_visible()

    # + Add license: a PACKAGE slab without a package size is refused in words next to it
    page.get_by_role("link", name="+ Add license").click()
    page.get_by_label("License name").fill("Seats")
    page.get_by_label("Slab 1 price type").select_option("PACKAGE")
    page.get_by_label("Slab 1 rate (USD)").fill("12.50")
    page.get_by_role("button", name="Add license").click()
    package = page.get_by_role("cell").filter(has=page.get_by_label("Slab 1 package size"))
    expect(package).to_contain_text("A PACKAGE slab needs a package size > 0")
    shot(page, "plan-license-error", engine)
    page.get_by_label("Slab 1 price type").select_option("PER_UNIT")
    page.get_by_role("button", name="Add license").click()
    seats = page.get_by_role("article", name="Seats")
    expect(seats.get_by_role("row").nth(1)).to_have_text(re.compile(r"1\s*0\s*and above\s*Per unit\s*USD 12.50"))
    shot(page, "plan-license", engine)
    [license_card] = read_plan(tenant, plan_id)["pricingSchedule"][0]["pricePlanDetails"]["licenseRateCards"]
    assert (license_card["type"], license_card["invoiceTiming"], slab_rates(license_card, "USD")) == (
        "LICENSE",
        "IN_ARREARS",
        ["12.50"],
    )

    # Remove it, then archive the plan: read-only from then on (each through its confirmation)
    seats.get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name=f'Remove the license "Seats" from Plan 26 {tag}?')).to_be_visible()
    page.get_by_role("button", name="Remove license").click()
    expect(page.get_by_role("status")).to_have_text(f'Removed the license "Seats" from Plan 26 {tag}.')
    expect(page.get_by_text("No license.")).to_be_visible()
    page.get_by_role("link", name="Archive").click()
    page.get_by_role("button", name="Archive plan").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ARCHIVED")
    expect(page.get_by_role("link", name="+ Add license")).to_have_count(0)
    shot(page, "plan-archived", engine)
    plan = read_plan(tenant, plan_id)
    assert plan["status"] == "ARCHIVED" and plan["description"] == "Seats only"
    assert not plan["pricingSchedule"][0]["pricePlanDetails"].get("licenseRateCards")
    config = plan["pricingSchedule"][0]["pricePlanDetails"]["pricingCycleConfig"]
    assert config["startOffset"] == {"dayOffset": "15", "monthOffset": "3"}


def test_plan_forms_need_the_session_token(tenant: Tenant, person: tuple[str, str]) -> None:
    import httpx

    with httpx.Client(base_url=tenant.base_url) as client:
        http_sign_in(client, person[0], person[1])
        r = client.post(
            "/price-plans/new", data={"name": "Evil", "interval": "MONTHLY", "currencies": "USD", "csrf": "x"}
        )
        assert r.status_code == 403 and "expired" in r.text
        assert "Evil" not in client.get("/price-plans").text


def test_odd_forms_get_words_never_a_500(tenant: Tenant, person: tuple[str, str]) -> None:
    """What a person (or a stale tab) may send: each answer is a page in words, 400 or 404, and nothing is saved."""
    import httpx

    sdk = Sdk(tenant)
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=f"Odd {secrets.token_hex(3)}",
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
    with httpx.Client(base_url=tenant.base_url) as client:
        http_sign_in(client, person[0], person[1])
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/price-plans").text)[1]
        base = f"/price-plans/{plan.id}"
        cases = [
            (
                f"{base}/cards/new?kind=usage",
                {"rows": "x", "meter": "um.nope", "from_0": "0", "rate_0_USD": "1"},
                400,
                "No usage meter",
            ),
            (
                f"{base}/cards/new?kind=usage",
                {"rows": "99", "meter": "", "model": "CUBIC"},
                400,
                "Choose a pricing model",
            ),
            (f"{base}/cards/new?kind=usage", {"action": "remove_slab_7", "rows": "1"}, 200, "Add usage rate card"),
            (f"{base}/cards/new?kind=fixed-fee", {"addon": " ", "amount_USD": "1e400000"}, 400, "Give it a name"),
            (f"{base}/cards/new?kind=fixed-fee", {"addon": "Fee", "amount_USD": "-5"}, 400, "Must be &gt;= 0"),
            (
                f"{base}/cards/new?kind=entitlement",
                {
                    "feature": "feature.nope",
                    "units": "10",
                    "valid_until": "P1M",
                    "timing": "IN_ADVANCE",
                    "from_0": "0",
                    "rate_0_USD": "1",
                },
                400,
                "No feature &#39;feature.nope&#39;: create the feature first",
            ),
            (f"{base}/cards/new?kind=entitlement", {"rows": "1", "units": "1e400000"}, 400, "Choose the feature"),
            (f"{base}/cards/new?kind=overage", {"feature": "f", "every": "x", "offset": "9" * 40}, 400, "1 or more"),
            (f"{base}/cards/new?kind=bogus", {}, 404, "No kind of rate card"),
            (f"{base}/cards/nobody/remove", {}, 404, "no rate card named nobody"),
            (f"{base}/commitment", {"amount_USD": "NaN"}, 400, "Enter a number"),
            (f"{base}/activate", {}, 400, "Tick the currencies"),
            (
                f"{base}/edit",
                {"interval": "DAILY", "grace": "-1", "other": "usd"},
                400,
                "Choose how often the plan bills",
            ),
            (f"{base}/edit", {"interval": "MONTHLY", "grace": "0", "other": "XYZ"}, 400, "is not an ISO 4217 currency"),
            (f"{base}/migrate", {"mode": "IMMEDIATE"}, 400, "no older version"),
            ("/price-plans/new", {"name": "x" * 51, "interval": "MONTHLY", "currencies": "USD"}, 400, "At most 50"),
            ("/price-plans/pp.missing/edit", {}, 404, "not found"),
        ]
        for url, data, status, text in cases:
            r = client.post(url, data={"csrf": csrf, **data})
            assert (r.status_code, text in r.text) == (status, True), (
                url,
                r.status_code,
                re.findall(r"(?:error|alert)[^>]*>([^<]+)", r.text),
            )
        assert client.get(f"{base}?version=abc").status_code == 200
        assert client.get("/price-plans?page=garbage").status_code == 400
    with tenant.http() as api:
        assert read_plan(tenant, plan.id)["pricingSchedule"][0]["pricePlanDetails"].get("fixedFeeRateCards") is None
        assert api.get("/addons").json()["data"] == []  # the refused fee made no add-on
