"""The one number rule in the console, in real headless Chromium on both engines (core/numbers.py): a rate, an amount
or a top-up past it is refused next to its field, in words, and nothing changes.

Issue 14: in the console a rate of 1e20 re-priced an open draft to USD 1.6e21 without a word, and "Finalize now"
numbered it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

import togai_client as tc
from playwright.sync_api import Page, expect

from tests.api.billing_setup import acme_invoices, bill_acme
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_ingestion_sdk import ev
from tests.conftest import Tenant
from tests.console.browsing import engine_of, shot, sign_in

BOUND = "Must be below 10^15 in magnitude"
AMOUNT_BOUND = "enter an amount below 10^15 (a thousand trillion)"  # an account's amounts, in words (issue 15)


def _totals(tenant: Tenant) -> list[Decimal]:
    with tenant.http() as http:
        listed = http.get("/invoices", params={"owner_id": "acme"})
    assert listed.status_code == 200, listed.text
    return [i["totalAmount"] for i in json.loads(listed.text, parse_float=Decimal)["data"]]


def test_a_rate_of_1e20_is_refused_next_to_its_field_and_the_draft_keeps_its_price(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    billed = bill_acme(sdk, create_metering_catalog(sdk))  # an ACTIVE plan on acme, with open drafts
    now = datetime.now(timezone.utc)
    at = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(minutes=1))
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("n1", "160", at=at)]))
    before = _totals(tenant)
    plan = sdk.price_plans.get_price_plan(billed["plan"])
    versions = [p.version for p in sdk.price_plans.get_price_plans().data]
    card = plan.pricing_schedule[0].price_plan_details.usage_rate_cards[0].name

    sign_in(page, *person)
    page.goto(f"/price-plans/{quote(billed['plan'], safe='')}/cards/{quote(card, safe='')}")
    page.get_by_label("Slab 1 rate (USD)").fill("1e20")
    page.get_by_label("Slab 2 rate (USD)").fill("0.0000000000001")
    page.get_by_role("button", name="Save usage rate card").click()
    expect(page.get_by_role("cell").filter(has=page.get_by_label("Slab 1 rate (USD)"))).to_contain_text(BOUND)
    expect(page.get_by_role("cell").filter(has=page.get_by_label("Slab 2 rate (USD)"))).to_contain_text(
        "Must have at most 12 digits after the decimal point"
    )
    expect(page.get_by_text("Nothing was saved: see the mistakes below.")).to_be_visible()
    expect(page.get_by_label("Slab 1 rate (USD)")).to_have_value("1e20")  # what was typed stays, to correct it
    shot(page, "numbers-rate-refused", engine)

    # nothing changed: no new version, the drafts keep their price, nothing was numbered
    assert [p.version for p in sdk.price_plans.get_price_plans().data] == versions
    assert _totals(tenant) == before
    assert [i.sequence_id for i in acme_invoices(sdk)] == [None] * len(before)

    # the account's amounts: a top-up and a credit past the rule, each next to its field
    page.goto("/accounts/acme?tab=wallet")
    page.get_by_label("Top up (USD)").fill("100000000000000000000")
    page.get_by_role("button", name="Top up").click()
    expect(page.locator("label", has=page.get_by_label("Top up (USD)"))).to_contain_text(f"Top up: {AMOUNT_BOUND}")
    page.goto("/accounts/acme?tab=credits")
    page.get_by_label("Amount (USD)").fill("1e400")
    page.get_by_label("Purpose").fill("Too much")
    page.get_by_role("button", name="Add Credits").click()
    expect(page.locator("label", has=page.get_by_label("Amount (USD)"))).to_contain_text(f"Amount: {AMOUNT_BOUND}")
    shot(page, "numbers-credit-refused", engine)
    assert tc.WalletApi(sdk.client).wallet_balance_for_account("acme").balance == 0
    assert tc.CreditsApi(sdk.client).list_credits(account_id="acme").data == []
    assert _totals(tenant) == before
