"""Price plan drafts and account schedule drafts in real headless Chromium, on both engines (docs/console.md,
"Drafts"): a person edits an ACTIVE plan as a draft, sees an error listed by its card, fixes it, adds a card,
previews finalizing with a migration mode (which accounts move, each open draft invoice's total before and after)
and finalizes; the account's draft invoice then totals what the preview said. An account's schedule is edited as a
draft (staged, listed, discarded, staged again) and finalized after a confirmation."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.billing_setup import month_start
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.api.test_schedules_v2_sdk import associate as v2_associate
from tests.conftest import Tenant
from tests.console.browsing import engine_of, http_sign_in, shot, sign_in


def usage_plan(sdk: Sdk, meter: str, name: str, rate: str = "0.10") -> str:
    """An ACTIVE MONTHLY plan (from the 1st, no grace) pricing the meter at `rate` USD a unit, in one slab."""
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=name,
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                    grace_period=0,
                ),
                supported_currencies=["USD"],
                usage_rate_cards=[
                    tc.UsageRateCard(
                        display_name="API calls",
                        usage_meter_id=meter,
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED",
                            slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")],
                        ),
                        rate_values=[
                            tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=Decimal(rate))])
                        ],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    return made.id


def draft_totals(tenant: Tenant, account: str) -> list[Decimal]:
    """The totals of the account's DRAFT invoices, as GET /invoices/{id} answers them (exact decimals)."""
    with tenant.http() as http:
        answer = http.get("/invoices", params={"owner_id": account})
        assert answer.status_code == 200, answer.text
        ids = [i["id"] for i in answer.json()["data"] if i["status"] == "DRAFT"]
        return [
            Decimal(str(json.loads(http.get(f"/invoices/{i}").text, parse_float=Decimal)["totalAmount"])) for i in ids
        ]


def schedules(tenant: Tenant, account: str) -> list[tuple[str, int, str, str]]:
    with tenant.http() as http:
        answer = http.get(f"/accounts/{account}/pricing_schedules")
    assert answer.status_code == 200, answer.text
    return [(s["pricePlanId"], s["version"], s["startDate"][:10], s["endDate"][:10]) for s in answer.json()["data"]]


def test_a_plan_draft_with_an_error_fixed_previewed_and_finalized(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    meter = create_metering_catalog(sdk)["sum"]
    plan_id = usage_plan(sdk, meter, "Metered")
    now = datetime.now(UTC)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month_start(now), OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("e1", "1000", at=at)]))
    assert draft_totals(tenant, "acme") == [Decimal("100")]  # 1,000 calls at 0.10

    sign_in(page, *person)
    page.goto(f"/price-plans/{plan_id}")
    page.get_by_role("link", name="Draft", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft of Metered")
    expect(page.get_by_text("The first change you save here starts a draft (version 2)")).to_be_visible()
    expect(page.get_by_role("button", name="Preview finalizing")).to_have_count(0)  # nothing to finalize yet
    shot(page, "plan-draft-start", engine)

    # Edit the usage card in the draft: a rate of 0.20, and a first slab from 5 (a rule of the plan refuses it):
    # saved into the draft all the same, the error listed by its card
    cards = page.get_by_role("table", name="Rate cards of the draft")
    cards.get_by_role("link", name="Edit API calls").click()
    page.get_by_label("Slab 1 from").fill("5")
    page.get_by_label("Slab 1 rate (USD)").fill("0.20")
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_role("status")).to_contain_text("It has 1 error to fix before finalizing")
    row = cards.get_by_role("row", name="API calls")
    expect(row).to_contain_text("first slab must start after 0, not 5")
    expect(page.locator("#draft-errors-count")).to_have_text("1 to fix before finalizing")
    shot(page, "plan-draft-error", engine)

    # finalizing is refused while the draft has an error: in words, on the draft's page
    page.get_by_label("Accounts on the plan").select_option("START_OF_CURRENT_CYCLE")
    page.get_by_role("button", name="Preview finalizing").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be finalized: 1 error(s)")
    # the version in force did not change: the account's draft is as it was
    assert draft_totals(tenant, "acme") == [Decimal("100")]

    # Fix it, then add a fixed fee (in arrears) to the draft
    cards.get_by_role("link", name="Edit API calls").click()
    expect(page.get_by_label("Slab 1 rate (USD)")).to_have_value("0.20")  # the draft's card, as saved
    page.get_by_label("Slab 1 from").fill("0")
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_role("status")).to_have_text(f'Saved usage rate card "usage_{meter}" in the draft.')
    expect(page.locator("#draft-errors-count")).to_have_text("none: the draft can be finalized")
    page.get_by_role("link", name="+ Fixed fee").click()
    page.get_by_label("Fee name").fill("Support")
    page.get_by_label("Amount (USD)").fill("25")
    page.get_by_label("Billed").select_option("IN_ARREARS")
    page.get_by_role("button", name="Add fixed fee").click()
    expect(cards.get_by_role("row", name="Support")).to_contain_text("none")
    shot(page, "plan-draft-fixed", engine)

    # Preview: the account moves from the start of its current cycle; its draft goes from 100.00 to 225.00
    page.get_by_label("Accounts on the plan").select_option("START_OF_CURRENT_CYCLE")
    page.get_by_label("Which accounts").select_option("LATEST_VERSION")
    page.get_by_role("button", name="Preview finalizing").click()
    expect(page.get_by_role("heading", name="Finalize the draft of Metered?")).to_be_visible()
    expect(page.get_by_text("1 account moves to version 2")).to_be_visible()
    table = page.get_by_role("table", name="Accounts and their draft invoices before and after")
    expect(table.get_by_role("row", name=re.compile(r"Acme Inc \(acme\)"))).to_have_text(
        re.compile(r"Metered v1 → Metered v2\s*USD 100\.00\s*USD 225\.00\s*$")
    )
    shot(page, "plan-draft-finalize-confirm", engine)
    # the preview changed nothing
    assert draft_totals(tenant, "acme") == [Decimal("100")]

    page.get_by_role("button", name="Finalize draft").click()
    expect(page.get_by_role("status")).to_have_text(
        "Version 2 of Metered is in force. 1 account moved (they move from the start of their current cycle "
        "(the current cycle is re-priced))."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 2")
    shot(page, "plan-draft-finalized", engine)

    # as the preview said: the account's open draft now totals 225.00, on version 2
    assert draft_totals(tenant, "acme") == [Decimal("225")]
    assert [(p, v) for p, v, _, end in schedules(tenant, "acme") if end.startswith("9999")] == [(plan_id, 2)]
    with tenant.http() as http:
        v2 = http.get(f"/v2/price_plans/{plan_id}", params={"version": "ACTIVE"}).json()
    assert (v2["version"], v2["status"]) == (2, "ACTIVE")

    # a new draft, discarded: version 2 stays in force
    page.get_by_role("link", name="Draft", exact=True).click()
    page.get_by_role("table", name="Rate cards of the draft").get_by_role("link", name="Remove Support").click()
    page.get_by_role("button", name="Remove from draft").click()
    expect(page.get_by_role("status")).to_have_text('Removed "Support" from the draft.')
    page.get_by_role("link", name="Metered").click()  # the plan's page says a draft is pending
    expect(page.get_by_text("A draft of this plan (version 3) is pending")).to_be_visible()
    page.get_by_role("link", name="open the draft").click()
    page.get_by_role("link", name="Discard draft").click()
    expect(page.get_by_text("version 2 stays in force")).to_be_visible()
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_role("status")).to_have_text("Draft of Metered discarded; version 2 stays.")
    assert draft_totals(tenant, "acme") == [Decimal("225")]


def test_draft_forms_need_the_session_token_and_odd_input_gets_words(tenant: Tenant, person: tuple[str, str]) -> None:
    sdk = Sdk(tenant)
    meter = create_metering_catalog(sdk)["sum"]
    plan_id = usage_plan(sdk, meter, "Tokens")
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person).status_code == 303
        for path in (
            f"/price-plans/{plan_id}/draft/finalize",
            f"/price-plans/{plan_id}/draft/discard",
            f"/price-plans/{plan_id}/draft/cards/new?kind=fixed-fee",
            "/accounts/nobody/schedule-draft/edits",
            "/accounts/nobody/schedule-draft/finalize",
            "/accounts/nobody/schedule-draft/discard",
            "/accounts/nobody/schedule-draft/schedules/ps_x/cards/usage_x",
        ):
            answer = client.post(path, data={"csrf": "forged", "mode": "NONE", "versions": "LATEST_VERSION"})
            assert answer.status_code == 403, (path, answer.text)
        # a mode that is not one: words, a 400; a plan with no draft: words, a 400; an unknown plan: a 404
        odd = client.get(f"/price-plans/{plan_id}/draft/finalize", params={"mode": "SOMETIME"})
        assert odd.status_code == 400 and "Choose what happens to the accounts" in odd.text
        none = client.get(f"/price-plans/{plan_id}/draft/finalize", params={"mode": "NONE"})
        assert none.status_code == 400 and "has no draft to finalize" in none.text
        assert client.get(f"/price-plans/{plan_id}/draft/discard").status_code == 400
        assert client.get("/price-plans/nope/draft").status_code == 404
        assert client.get(f"/price-plans/{plan_id}/draft/cards/nope").status_code == 404
        assert client.get(f"/price-plans/{plan_id}/draft/cards/new", params={"kind": "odd"}).status_code == 404

        # the draft's cycle and currencies: a grace period that is not a number is said next to its field; EUR
        # added, the usage card (priced in USD only) is listed with its error, and the version in force is as it was
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/price-plans/{plan_id}/draft/edit").text)
        assert csrf is not None
        cycle = {"csrf": csrf[1], "interval": "MONTHLY", "day_offset": "1", "description": "With EUR"}
        typo = client.post(f"/price-plans/{plan_id}/draft/edit", data={**cycle, "grace": "two", "currencies": "USD"})
        assert typo.status_code == 400 and "A whole number of days, 0 or more" in typo.text
        saved = client.post(
            f"/price-plans/{plan_id}/draft/edit", data={**cycle, "grace": "0", "currencies": ["USD", "EUR"]}
        )
        assert saved.status_code == 303, saved.text
        page = client.get(saved.headers["location"]).text
        assert "The draft has 1 error to fix before finalizing" in page and "no rates in EUR" in page
        with tenant.http() as http:
            active = http.get(f"/v2/price_plans/{plan_id}", params={"version": "ACTIVE"}).json()
            draft = http.get(f"/v2/price_plans/{plan_id}").json()
        assert (active["supportedCurrencies"], draft["supportedCurrencies"]) == (["USD"], ["EUR", "USD"])


def test_an_account_schedule_staged_as_a_draft_and_finalized(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    meter = create_metering_catalog(sdk)["sum"]
    basic = usage_plan(sdk, meter, "Basic")
    pro = usage_plan(sdk, meter, "Pro", rate="0.30")
    now = datetime.now(UTC)
    first = month_start(now)
    sdk.accounts.update_pricing_schedule("acme", associate(basic, first, OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(first, datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("e1", "1000", at=at)]))
    assert draft_totals(tenant, "acme") == [Decimal("100")]

    sign_in(page, *person)
    page.goto("/accounts/acme?tab=schedule")
    page.get_by_role("link", name="Edit as a draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Schedule draft of Acme Inc")
    expect(page.get_by_text("Nothing is staged")).to_be_visible()

    # a mistake in words next to its field: the last day before the first
    page.get_by_label("Price plan").select_option(label="Pro")
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_label("Until, last day (optional)").fill((first - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Stage", exact=True).click()
    expect(page.get_by_text(f"Until: pick {first.isoformat()} or a later day")).to_be_visible()

    # stage Pro from the 1st, open: listed, the draft schedules shown; the schedule in force has not changed
    page.get_by_label("Until, last day (optional)").fill("")
    page.get_by_role("button", name="Stage", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "Staged: attach Pro (its newest version, 1) from " + _words(first) + ", with no end."
    )
    staged = page.get_by_role("list", name="Staged changes")
    expect(staged.get_by_role("listitem")).to_have_count(1)
    expect(page.get_by_role("list", name="Schedules after finalizing")).to_contain_text("Pro")
    assert [p for p, _, _, end in schedules(tenant, "acme") if end.startswith("9999")] == [basic]
    shot(page, "schedule-draft-staged", engine)

    # discard, then stage again
    page.get_by_role("link", name="Discard").click()
    page.get_by_role("button", name="Discard staged changes").click()
    expect(page.get_by_role("status")).to_have_text("Staged schedule changes of Acme Inc discarded.")
    expect(page.get_by_text("Nothing is staged")).to_be_visible()
    page.get_by_label("Price plan").select_option(label="Pro")
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_role("button", name="Stage", exact=True).click()

    # finalize: the confirmation shows the draft invoice before (100.00 on Basic) and after (300.00 on Pro)
    page.get_by_role("link", name="Finalize").click()
    expect(page.get_by_role("heading", name="Finalize the staged schedule changes of Acme Inc?")).to_be_visible()
    table = page.get_by_role("table", name="Draft invoices before and after")
    expect(table).to_contain_text(re.compile(r"Basic v1 → Pro v1\s*USD 100\.00\s*USD 300\.00"))
    shot(page, "schedule-draft-finalize-confirm", engine)
    page.get_by_role("button", name="Finalize schedule").click()
    expect(page.get_by_role("status")).to_have_text("Staged schedule changes of Acme Inc finalized.")
    assert [p for p, _, _, end in schedules(tenant, "acme") if end.startswith("9999")] == [pro]
    assert draft_totals(tenant, "acme") == [Decimal("300")]
    shot(page, "schedule-draft-finalized", engine)


def usage_card(meter: str, rate: str) -> tc.UsageRateCard:
    return tc.UsageRateCard(
        display_name="API calls",
        usage_meter_id=meter,
        rate_plan=tc.RatePlan(pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]),
        rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=Decimal(rate))])],
    )


def test_a_schedule_draft_attaches_a_chosen_plan_version_then_ends_the_schedule(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """Basic's version 2 raises the rate to 0.20; the account, on version 2, is moved back to version 1 from the
    1st (chosen in the draft, replacing; the preview says 200.00 -> 100.00), then its schedule is ended from the
    next month's first day."""
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    meter = create_metering_catalog(sdk)["sum"]
    basic = usage_plan(sdk, meter, "Basic")
    sdk.price_plans.update_price_plan(
        basic,
        tc.UpdatePricePlanRequest(
            migration_mode="NONE",
            price_plan_details=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[usage_card(meter, "0.20")]),
        ),
    )
    now = datetime.now(UTC)
    first = month_start(now)
    nxt = (first + timedelta(days=32)).replace(day=1)
    sdk.accounts.update_pricing_schedule("acme", associate(basic, first, OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(first, datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("e1", "1000", at=at)]))
    assert draft_totals(tenant, "acme") == [Decimal("200")]  # version 2: 1,000 calls at 0.20

    sign_in(page, *person)
    page.goto("/accounts/acme/schedule-draft")
    expect(page.get_by_text("Basic: versions 1 to 2")).to_be_visible()
    expect(page.get_by_text("schedules that touch and are alike")).to_be_visible()  # merge, in words
    page.get_by_label("Price plan").select_option(label="Basic")
    page.get_by_label("Version", exact=True).select_option(label="Version 1")
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_role("button", name="Stage", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "Staged: attach Basic version 1 from " + _words(first) + ", with no end."
    )
    expect(page.get_by_role("list", name="Schedules after finalizing")).to_contain_text("Basic (version 1)")
    shot(page, "schedule-draft-version", engine)
    page.get_by_role("link", name="Finalize").click()
    table = page.get_by_role("table", name="Draft invoices before and after")
    expect(table).to_contain_text(re.compile(r"Basic v2 → Basic v1\s*USD 200\.00\s*USD 100\.00"))
    page.get_by_role("button", name="Finalize schedule").click()
    expect(page.get_by_role("status")).to_have_text("Staged schedule changes of Acme Inc finalized.")
    assert [(p, v) for p, v, _, end in schedules(tenant, "acme") if end.startswith("9999")] == [(basic, 1)]
    assert draft_totals(tenant, "acme") == [Decimal("100")]

    # end the schedule from next month's first day: staged, then finalized; this month's draft is as it was
    page.goto("/accounts/acme/schedule-draft")
    page.get_by_label("From", exact=True).fill(nxt.isoformat())
    page.get_by_role("button", name="Stage ending the schedule from that date").click()
    expect(page.get_by_role("status")).to_have_text(f"Staged: end the price plan from {_words(nxt)}.")
    expect(page.get_by_role("list", name="Staged changes")).to_contain_text(f"End the price plan from {_words(nxt)}")
    page.get_by_role("link", name="Finalize").click()
    page.get_by_role("button", name="Finalize schedule").click()
    expect(page.get_by_role("status")).to_have_text("Staged schedule changes of Acme Inc finalized.")
    assert [(p, v, end) for p, v, _, end in schedules(tenant, "acme")] == [(basic, 1, nxt.isoformat())]
    assert draft_totals(tenant, "acme") == [Decimal("100")]

    # a version the plan does not have, or not a number: said next to the Version field, a 400, nothing staged
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/accounts/acme/schedule-draft").text)
        assert csrf is not None
        form = {"csrf": csrf[1], "plan_id": basic, "start": nxt.isoformat(), "mode": "ASSOCIATE"}
        for version, said in (("3", "has no version 3 (its versions are 1 to 2)"), ("¹", "Version: pick a version")):
            answer = client.post("/accounts/acme/schedule-draft/edits", data={**form, "version": version})
            assert answer.status_code == 400 and said in answer.text, answer.text
        odd = client.post("/accounts/acme/schedule-draft/edits", data={**form, "merge": "sometimes"})
        assert odd.status_code == 400 and "Pick replace, or replace then merge" in odd.text
        assert "Nothing is staged" in client.get("/accounts/acme/schedule-draft").text


def test_a_card_override_staged_in_a_schedule_draft_previewed_and_finalized(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """The account's API calls overridden to 0.25 on its Basic schedule (0.10 on the plan): a plan rule's refusal
    next to its field, then staged, listed, previewed (100.00 -> 250.00) and finalized; read back through the SDK."""
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    meter = create_metering_catalog(sdk)["sum"]
    basic = usage_plan(sdk, meter, "Basic")
    now = datetime.now(UTC)
    first = month_start(now)
    sdk.accounts.update_pricing_schedule("acme", associate(basic, first, OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(first, datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("e1", "1000", at=at)]))
    assert draft_totals(tenant, "acme") == [Decimal("100")]
    api = tc.SchedulesApi(sdk.client)
    [before] = api.listaccount_schedules("acme", "ACTIVE").data

    sign_in(page, *person)
    page.goto("/accounts/acme/schedule-draft")
    where = f"the schedule Basic version 1 from {_words(first)}"
    cards = page.get_by_role("table", name=f"Rate cards of {where}")
    cards.get_by_role("link", name="Override API calls").click()
    expect(page.get_by_text("An override for this account only")).to_be_visible()
    expect(page.get_by_label("Slab 1 rate (USD)")).to_have_value("0.1")
    # a first slab from 5: the plan's rule refuses it next to its field, nothing staged
    page.get_by_label("Slab 1 from").fill("5")
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_text("first slab must start after 0, not 5")).to_be_visible()
    page.get_by_label("Slab 1 from").fill("0")
    page.get_by_label("Slab 1 rate (USD)").fill("0.25")
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_role("status")).to_have_text(f'Staged: "API calls" overridden for Acme Inc on {where}.')
    staged = page.get_by_role("list", name="Staged changes")
    expect(staged).to_contain_text(f"Rate cards or pricing rules of {where} changed")
    expect(page.get_by_role("table", name=f"Rate cards of {where}")).to_contain_text("overridden for this account")
    assert draft_totals(tenant, "acme") == [Decimal("100")]  # staged only
    shot(page, "schedule-draft-card-override", engine)

    page.get_by_role("link", name="Finalize").click()
    table = page.get_by_role("table", name="Draft invoices before and after")
    expect(table).to_contain_text(re.compile(r"USD 100\.00\s*USD 250\.00"))
    shot(page, "schedule-draft-card-override-confirm", engine)
    page.get_by_role("button", name="Finalize schedule").click()
    expect(page.get_by_role("status")).to_have_text("Staged schedule changes of Acme Inc finalized.")
    assert draft_totals(tenant, "acme") == [Decimal("250")]  # 1,000 calls at 0.25
    [after] = api.listaccount_schedules("acme", "ACTIVE").data
    assert (after.version, after.is_overridden, after.start_date) == (1, True, before.start_date)
    [usage] = [c for c in api.list_schedule_rate_cards(after.id, "ACTIVE").data if c.type == "USAGE"]
    assert usage.rate_card_details.usage_rate_card.rate_values[0].slab_rates[0].rate == Decimal("0.25")
    assert tc.SchedulesApi(sdk.client).listaccount_schedules("acme", "DRAFT").data[0].id == after.id


def test_pricing_rules_staged_in_a_schedule_draft_then_finalized(tenant: Tenant, person: tuple[str, str]) -> None:
    """The account's own rule on its schedule (the API calls' revenue halved), staged from the draft's rules editor:
    a mistake said next to its field, then staged (nothing billed differently), previewed 100.00 -> 50.00 and
    finalized; read back through the SDK."""
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    meter = create_metering_catalog(sdk)["sum"]
    basic = usage_plan(sdk, meter, "Basic")
    now = datetime.now(UTC)
    first = month_start(now)
    sdk.accounts.update_pricing_schedule("acme", associate(basic, first, OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(first, datetime.min.time(), UTC))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("e1", "1000", at=at)]))
    api = tc.SchedulesApi(sdk.client)
    [schedule] = api.listaccount_schedules("acme", "ACTIVE").data
    url = f"/accounts/acme/schedule-draft/schedules/{schedule.id}/pricing-rules"
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person).status_code == 303
        shown = client.get(url)
        assert shown.status_code == 200 and "stages them in the account" in shown.text, shown.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
        assert csrf is not None
        rule = {
            "csrf": csrf[1],
            "rules": "1",
            "r0_name": "half",
            "r0_order": "1",
            "r0_timing": "IN_ARREARS",
            "r0_computation": f'{{"*":[{{"var":"revenue.usage_{meter}"}},0.5]}}',
            "r0_type": "UPDATE",
            "r0_target": f"revenue.usage_{meter}",
        }
        odd = client.post(url, data={**rule, "r0_target": "revenue.nothing"})
        assert odd.status_code == 400 and "nothing" in odd.text, odd.text
        assert client.post(url, data={**rule, "csrf": "forged"}).status_code == 403
        staged = client.post(url, data=rule)
        assert staged.status_code == 303, staged.text
        page = client.get(staged.headers["location"]).text
        assert "Staged: 1 pricing rule of Acme Inc on Basic version 1." in page
        assert f"Rate cards or pricing rules of the schedule Basic version 1 from {_words(first)} changed" in page
        assert draft_totals(tenant, "acme") == [Decimal("100")]  # staged only
        asked = client.get("/accounts/acme/schedule-draft/finalize")
        assert asked.status_code == 200 and re.search(r"USD 100\.00\s*</td>\s*<td[^>]*>\s*USD 50\.00", asked.text)
        done = client.post("/accounts/acme/schedule-draft/finalize", data={"csrf": csrf[1]})
        assert done.status_code == 303, done.text
    assert draft_totals(tenant, "acme") == [Decimal("50")]
    [after] = api.listaccount_schedules("acme", "ACTIVE").data
    assert [r.name for r in api.list_pricing_rules(after.id, "ACTIVE").data] == ["half"]

    # a schedule that is not the account's, or a card it does not have: 404; a staged attach over the schedule: a
    # card override is refused in words on the form (finalize or discard first), nothing more staged
    api.bulk_edit_schedules("acme", tc.EditAccountScheduleRequest(edits=[v2_associate(basic, first)]))
    card = f"/accounts/acme/schedule-draft/schedules/{after.id}/cards/usage_{meter}"
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person).status_code == 303
        assert client.get("/accounts/acme/schedule-draft/schedules/ps_nope/cards/x").status_code == 404
        assert client.get(f"/accounts/acme/schedule-draft/schedules/{after.id}/cards/nope").status_code == 404
        assert client.get("/accounts/acme/schedule-draft/schedules/ps_nope/pricing-rules").status_code == 404
        shown = client.get(card)
        assert shown.status_code == 200, shown.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
        assert csrf is not None
        form = {"csrf": csrf[1], "meter": meter, "model": "TIERED", "rows": "1", "from_0": "0", "type_0": "PER_UNIT"}
        refused = client.post(card, data={**form, "rate_0_USD": "0.3"})
        assert refused.status_code == 400 and "finalize or discard the staged edits first" in refused.text


def _words(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def test_a_plan_never_finalized_is_activated_by_finalizing_or_archived_by_discarding(
    tenant: Tenant, person: tuple[str, str]
) -> None:
    sdk = Sdk(tenant)
    meter = create_metering_catalog(sdk)["sum"]
    cycle = tc.PricingCycleConfig(
        interval="MONTHLY",
        start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
        grace_period=0,
    )
    made = [
        sdk.price_plans.create_price_plan(
            tc.CreatePricePlanRequest(
                name=name,
                price_plan_details=tc.CreatePricePlanDetails(pricing_cycle_config=cycle, supported_currencies=["USD"]),
            )
        ).id
        for name in ("Fresh", "Scrap")
    ]
    fresh, scrap = made
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person).status_code == 303
        draft = client.get(f"/price-plans/{fresh}/draft")
        assert draft.status_code == 200 and "This plan was never finalized" in draft.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/price-plans/{fresh}/draft/edit").text)
        assert csrf is not None
        # a usage card into the draft (version 1), then the finalize preview: no account moves
        card = {
            "csrf": csrf[1],
            "meter": meter,
            "model": "TIERED",
            "rows": "1",
            "from_0": "0",
            "type_0": "PER_UNIT",
            "rate_0_USD": "0.5",
        }
        added = client.post(f"/price-plans/{fresh}/draft/cards/new?kind=usage", data=card)
        assert added.status_code == 303, added.text
        asked = client.get(f"/price-plans/{fresh}/draft/finalize", params={"mode": "NONE"})
        assert asked.status_code == 200 and "Fresh becomes ACTIVE (version 1)" in asked.text
        done = client.post(
            f"/price-plans/{fresh}/draft/finalize", data={"csrf": csrf[1], "mode": "NONE", "versions": "LATEST_VERSION"}
        )
        assert done.status_code == 303, done.text
        # discarding the draft of a plan never finalized archives it
        asked = client.get(f"/price-plans/{scrap}/draft/discard")
        assert asked.status_code == 200 and "archives the plan" in asked.text
        gone = client.post(f"/price-plans/{scrap}/draft/discard", data={"csrf": csrf[1]})
        assert (gone.status_code, gone.headers["location"]) == (303, "/price-plans")
        # a credit grant card (made through the API) is listed, not editable here, and can be taken off the draft
        with tenant.http() as http:
            addon = http.post("/addons", json={"name": "Pack", "type": "CREDIT_GRANT"}).json()["id"]
            grant = {
                "id": addon,
                "type": "RECURRING",
                "invoiceTiming": "IN_ADVANCE",
                "grantDetails": {"priority": 1, "expiryType": "PRICING_CYCLE", "applicableEntityIds": [meter]},
                "rateDetails": {
                    "pricingModel": "TIERED",
                    "currencySlabRateDetails": [
                        {
                            "currency": "USD",
                            "creditAmount": 100,
                            "slabDetails": [{"startAfter": 0, "priceType": "FLAT", "rate": 90}],
                        }
                    ],
                },
            }
            packs = http.post(
                "/price_plans",
                json={
                    "name": "Packs",
                    "pricePlanDetails": {
                        "supportedCurrencies": ["USD"],
                        "pricingCycleConfig": {
                            "interval": "MONTHLY",
                            "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                            "gracePeriod": 0,
                        },
                        "creditGrantRateCards": [grant],
                    },
                },
            )
            assert packs.status_code == 200, packs.text
        shown = client.get(f"/price-plans/{packs.json()['id']}/draft")
        assert shown.status_code == 200 and "Credit grant" in shown.text and "set through the API" in shown.text
        remove = client.get(f"/price-plans/{packs.json()['id']}/draft/cards/credit_grant_{addon}/remove")
        assert remove.status_code == 200 and "Remove the credit grant" in remove.text
        assert client.get(f"/price-plans/{packs.json()['id']}/draft/cards/credit_grant_{addon}").status_code == 404
    assert sdk.price_plans.get_price_plan(fresh).status == "ACTIVE"
    assert sdk.price_plans.get_price_plan(scrap).status == "ARCHIVED"
    with tenant.http() as http:
        [usage] = http.get(f"/price_plans/{fresh}").json()["pricingSchedule"][0]["pricePlanDetails"]["usageRateCards"]
    assert (usage["usageMeterId"], usage["name"]) == (meter, f"usage_{meter}")
