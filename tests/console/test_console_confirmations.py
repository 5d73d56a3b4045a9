"""Nothing irreversible by accident (issue 15), in headless Chromium on both engines, at desktop and phone width:
attaching a plan from a past day shows each open draft's total before and after, then acts only when confirmed (and
a Cancel changes nothing); archiving a plan and removing a rate card each go through a page that says what follows.
What the pages claim is checked through the API afterwards. Screenshots go to test-results/console/."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import simplejson
from playwright.sync_api import Page, expect

from tests.api.conftest import Sdk, create_metering_catalog
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, http_sign_in, shot, sign_in

MONTHLY = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}


def api(tenant: Tenant, method: str, path: str, body: Any = None, **params: Any) -> Any:
    """One API call (exact decimals back); any answer but 2xx fails the test."""
    content = None if body is None else simplejson.dumps(body, use_decimal=True)  # decimals as JSON numbers
    with tenant.http() as client:
        response = client.request(
            method, path, content=content, params=params or None, headers={"Content-Type": "application/json"}
        )
    assert response.status_code < 300, response.text
    return json.loads(response.text, parse_float=Decimal)


def fee_plan(tenant: Tenant, name: str, amount: str, **details: Any) -> str:
    """An ACTIVE monthly USD plan billing a fixed fee in arrears (not prorated), plus `details`."""
    addon = api(tenant, "POST", "/addons", {"name": f"{name} fee", "type": "FIXED_FEE"})
    card = {"id": addon["id"], "rateValues": [{"currency": "USD", "rate": Decimal(amount)}], "enableProration": False}
    body = {
        "name": name,
        "pricePlanDetails": {
            "supportedCurrencies": ["USD"],
            "pricingCycleConfig": MONTHLY,
            "fixedFeeRateCards": [card],
            **details,
        },
    }
    plan = api(tenant, "POST", "/price_plans", body)
    api(tenant, "POST", f"/price_plans/{plan['id']}/activate", {"currencies": ["USD"]})
    return str(plan["id"])


def customer(tenant: Tenant, account_id: str = "acme", name: str = "Acme Inc") -> None:
    api(tenant, "POST", "/customers", {"id": account_id, "name": name, "primaryEmail": "a@acme.test", "address": {}})


def attach(tenant: Tenant, plan_id: str, start: date, account_id: str = "acme") -> None:
    body = {"pricePlanId": plan_id, "effectiveFrom": start.isoformat(), "effectiveUntil": "9999-01-01"}
    api(tenant, "POST", f"/accounts/{account_id}/price_plans", body)


def drafts(tenant: Tenant, account_id: str = "acme") -> list[tuple[str, str, Decimal]]:
    """The account's DRAFT invoices through the API: (start date, plan id, total), in period order."""
    rows = api(tenant, "GET", "/invoices", owner_id=account_id, status="DRAFT")["data"]
    return sorted((r["startDate"][:10], r["pricePlanId"], r["totalAmount"]) for r in rows)


def schedules(tenant: Tenant, account_id: str = "acme") -> list[tuple[str, str]]:
    rows = api(tenant, "GET", f"/accounts/{account_id}/pricing_schedules")["data"]
    return sorted((r["pricePlanId"], r["startDate"][:10]) for r in rows)


def test_attach_a_plan_from_a_past_day_shows_each_draft_before_and_after(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    # Given Acme on Basic (100.00 a month) since the first of last month: two open drafts, last month's and this
    # month's (no bill run yet); Pro charges 300.00 a month
    today = datetime.now(timezone.utc).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    customer(tenant)
    basic = fee_plan(tenant, "Basic", "100")
    pro = fee_plan(tenant, "Pro", "300")
    attach(tenant, basic, last_month)
    before = drafts(tenant)
    assert [(plan, total) for _, plan, total in before] == [(basic, Decimal("100.00"))] * 2

    # When a person attaches Pro from the first of last month, the page says what it does before it does it
    sign_in(page, *person)
    page.goto("/accounts/acme?tab=schedule")
    page.get_by_label("Price plan").select_option(label="Pro")
    page.get_by_label("From", exact=True).fill(last_month.isoformat())
    page.get_by_role("button", name="Attach").click()
    expect(page.get_by_role("heading", name=f"Attach Pro to Acme Inc from {last_month}?")).to_be_visible()
    expect(page.get_by_role("note")).to_have_text(
        f"{last_month} is in the past: the open draft invoices from that day on are re-priced at once (below, each "
        "total before and after). Finalized invoices never change."
    )
    table = page.get_by_role("table", name="Draft invoices before and after")
    # (at 390 px each draft is stacked and every value says what it is: "Total before: USD 100.00")
    changed = table.get_by_role(
        "row", name=re.compile(r"Basic v1 → Pro v1 (Total before: )?USD 100\.00 (Total after: )?USD 300\.00$")
    )
    expect(changed).to_have_count(2)
    for first in (last_month, today.replace(day=1)):  # last month's draft and this month's
        expect(changed.filter(has_text=f"{first} to")).to_have_count(1)
    expect(
        table.get_by_role(
            "row",
            name=re.compile(
                r"^Changed drafts in all \(USD\) (Total before: )?USD 200\.00 (Total after: )?USD 600\.00$"
            ),
        )
    ).to_be_visible()
    expect(page.get_by_role("button", name="Attach plan")).to_be_visible()
    fits(page)
    shot(page, f"schedule-attach-confirm-{screen}", engine)

    # Cancel: back on the schedule, and nothing changed
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/accounts/acme\?tab=schedule$"))
    expect(page.get_by_role("listitem").filter(has_text="Basic")).to_contain_text(f"from {last_month}")
    expect(page.get_by_role("listitem").filter(has_text="Pro")).to_have_count(0)
    assert drafts(tenant) == before and schedules(tenant) == [(basic, last_month.isoformat())]

    # Confirm: the drafts now carry Pro's totals, exactly as the page said
    page.get_by_label("Price plan").select_option(label="Pro")
    page.get_by_label("From", exact=True).fill(last_month.isoformat())
    page.get_by_role("button", name="Attach").click()
    page.get_by_role("button", name="Attach plan").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Price plan “Pro” attached from {last_month:%b} {last_month.day}, {last_month.year}, with no end"
    )
    expect(page.get_by_role("listitem").filter(has_text="Pro")).to_contain_text(f"from {last_month}")
    fits(page)
    shot(page, f"schedule-attached-{screen}", engine)
    after = drafts(tenant)
    assert [(start, plan, total) for start, plan, total in after] == [
        (start, pro, Decimal("300.00")) for start, _, _ in before
    ]
    assert schedules(tenant) == [(pro, last_month.isoformat())]


def test_archive_a_plan_through_its_confirmation(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    customer(tenant)
    legacy = fee_plan(tenant, "Legacy", "80")
    this_month = datetime.now(timezone.utc).date().replace(day=1)
    attach(tenant, legacy, this_month)
    sign_in(page, *person)
    page.goto(f"/price-plans/{legacy}")

    # The Archive button is a link to a page that says what archiving does; Cancel leaves the plan as it was
    page.get_by_role("link", name="Archive").click()
    expect(page.get_by_role("heading", name="Archive Legacy?")).to_be_visible()
    consequence = page.locator(".consequence")
    expect(consequence).to_contain_text("No new account can be put on Legacy, and it becomes read-only")
    expect(consequence).to_contain_text("The account on it keeps it: its schedule runs as it is")
    expect(consequence).to_contain_text("An archived plan cannot be made active again.")
    expect(page.get_by_text("Accounts on it", exact=True)).to_be_visible()
    fits(page)
    shot(page, f"plan-archive-confirm-{screen}", engine)
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ACTIVE")
    assert api(tenant, "GET", f"/price_plans/{legacy}")["status"] == "ACTIVE"

    # Archive it: the notice says what happened; the account keeps its plan, the schedule tab no longer offers it
    page.get_by_role("link", name="Archive").click()
    page.get_by_role("button", name="Archive plan").click()
    expect(page.get_by_role("status")).to_have_text(
        "Legacy archived: no new account can be put on it; the account on it keeps it."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("ARCHIVED")
    expect(page.get_by_role("link", name="Archive")).to_have_count(0)
    fits(page)
    shot(page, f"plan-archived-notice-{screen}", engine)
    assert api(tenant, "GET", f"/price_plans/{legacy}")["status"] == "ARCHIVED"
    assert schedules(tenant) == [(legacy, this_month.isoformat())]
    page.goto("/accounts/acme?tab=schedule")
    expect(page.get_by_label("Price plan").locator("option", has_text="Legacy")).to_have_count(0)


def test_remove_a_rate_card_through_its_confirmation(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    meter = create_metering_catalog(Sdk(tenant))["sum"]
    usage = {
        "displayName": "API calls",
        "usageMeterId": meter,
        "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
        "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": Decimal("0.25")}]}],
    }
    customer(tenant)
    growth = fee_plan(tenant, "Growth", "49", usageRateCards=[usage])
    attach(tenant, growth, datetime.now(timezone.utc).date().replace(day=1))
    sign_in(page, *person)
    page.goto(f"/price-plans/{growth}")

    card = page.get_by_role("article", name="API calls")
    card.get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name='Remove the usage rate card "API calls" from Growth?')).to_be_visible()
    consequence = page.locator(".consequence")
    expect(consequence).to_contain_text("makes version 2 of Growth, without it.")
    expect(consequence).to_contain_text("The account on version 1 keeps being billed for it until you move it")
    fits(page)
    shot(page, f"plan-remove-card-confirm-{screen}", engine)
    page.get_by_role("button", name="Remove usage rate card").click()
    expect(page.get_by_role("status")).to_have_text(
        'Removed the usage rate card "API calls" from Growth. That made version 2; the accounts on version 1 stay '
        "on it until you move them (Versions)."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 2")
    expect(page.get_by_text("No usage is priced yet.")).to_be_visible()
    fits(page)
    shot(page, f"plan-card-removed-{screen}", engine)
    versions = api(tenant, "GET", f"/price_plans/{growth}")["pricingSchedule"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [c["displayName"] for c in versions[0]["pricePlanDetails"]["usageRateCards"]] == ["API calls"]
    assert not versions[1]["pricePlanDetails"].get("usageRateCards")
    assert [c["displayName"] for c in versions[1]["pricePlanDetails"]["fixedFeeRateCards"]] == ["Growth fee"]


def test_confirmation_pages_refuse_in_words_and_change_nothing(tenant: Tenant, person: tuple[str, str]) -> None:
    """What a stale tab or a hand-made link may ask: each confirmation page answers in words (400 or 404), and a
    confirmation page itself never changes anything."""
    customer(tenant)
    basic = fee_plan(
        tenant,
        "Basic",
        "100",
        minimumCommitment={"displayName": "Commitment", "rateValues": [{"currency": "USD", "rate": 150}]},
    )
    draft = api(
        tenant,
        "POST",
        "/price_plans",
        {"name": "Draft", "pricePlanDetails": {"supportedCurrencies": ["USD"], "pricingCycleConfig": MONTHLY}},
    )["id"]
    with httpx.Client(base_url=tenant.base_url) as client:
        http_sign_in(client, *person)
        cases = [
            (f"/price-plans/{draft}/activate", 400, "Tick the currencies to activate the plan in"),
            (f"/price-plans/{draft}/activate?currencies=USD", 200, "This cannot be undone"),
            (f"/price-plans/{basic}/activate?currencies=EUR", 400, "EUR"),
            (f"/price-plans/{basic}/migrate?mode=IMMEDIATE", 400, "no older version to move accounts from"),
            (f"/price-plans/{basic}/cards/nobody/remove", 404, "no rate card named nobody"),
            (f"/price-plans/{draft}/commitment/remove", 404, "has no minimum commitment"),
            (f"/price-plans/{basic}/commitment/remove", 200, "no true-up is added"),
            (f"/price-plans/{basic}/archive", 200, "No account is on it now."),
            ("/accounts/acme/schedule?plan_id=x&start=someday", 400, "From: pick a day from the calendar"),
            (f"/accounts/acme/schedule?plan_id={draft}&start=2024-01-01", 400, "Price plan: it is draft: activate it"),
            (f"/accounts/acme/schedule?plan_id={basic}&start=2024-01-01&until=9999-12-31", 400, "Until: pick a day"),
            (f"/accounts/acme/schedule?plan_id={basic}&start=2999-01-01", 200, "No open draft invoice changes"),
            (f"/accounts/nobody/schedule?plan_id={basic}&start=2024-01-01", 404, "not found"),
            ("/accounts/acme/schedule?start=2024-01-01&mode=DISASSOCIATE", 400, "no price plan runs on this account"),
        ]
        for url, status, text in cases:
            r = client.get(url)
            assert (r.status_code, text in r.text) == (status, True), (url, r.status_code, r.text[-600:])
        # the action's own POST still needs the session's token
        assert client.post(f"/price-plans/{basic}/archive", data={"csrf": "x"}).status_code == 403
    assert api(tenant, "GET", f"/price_plans/{draft}")["status"] == "DRAFT"
    plan = api(tenant, "GET", f"/price_plans/{basic}")
    assert plan["status"] == "ACTIVE" and plan["pricingSchedule"][0]["pricePlanDetails"]["minimumCommitment"]
    assert schedules(tenant) == [] and drafts(tenant) == []
