"""Features and the account's Entitlements tab (issue 21) in real headless Chromium, against a live server on both
engines, at desktop and phone width: a person creates a feature reading an event schema's attribute (a schema that
already feeds another feature refused in words first, what was typed kept), a configuration feature, and edits one
(an attribute removed meanwhile refused in words); on an account they grant credits (mistakes in words first), see
the balance, update and void an entry whose id holds `#` and `$` through confirmations that say exactly what will
happen; the entries page through with counts. What the pages did is read back through the API. Screenshots go to
`test-results/console/` (docs/console.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import togai_client as tc
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.entitlements.service import FeatureCreditService, Grant
from meterline.entitlements.statuses import EntrySource
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from tests.api.conftest import Sdk
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, http_sign_in, menu, server_judges, shot, sign_in, tab

API_WORDS = re.compile(r"schemaAssociations|schemaName|attributeName|effectiveUntil|effectiveFrom|granted:")
# A schedule's cycle entry, as the plan step will grant them: `#` and `$` in an id that travels in URL paths
CYCLE_ENTRY = f"ps.{'0' * 20}CONSOL#20260101$PRICE_PLAN"


# -- setting up through the API ------------------------------------------------------------------------------------
def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _schema(tenant: Tenant, name: str, attributes: list[str], *, activate: bool = True) -> None:
    with tenant.http() as http:
        _ok(
            http.post(
                "/event_schema", json={"name": name, "attributes": [{"name": a} for a in attributes], "dimensions": []}
            )
        )
        if activate:
            _ok(http.post(f"/event_schema/{name}/activate"))


def _feature(tenant: Tenant, name: str, pairs: list[tuple[str, str]]) -> str:
    body = {"name": name, "schemaAssociations": [{"schemaName": s, "attributeName": a} for s, a in pairs]}
    with tenant.http() as http:
        return str(_ok(http.post("/features", json=body))["id"])


def _customer(tenant: Tenant, customer_id: str, name: str) -> None:
    with tenant.http() as http:
        _ok(
            http.post(
                "/customers",
                json={"id": customer_id, "name": name, "primaryEmail": f"b@{customer_id}.test", "address": {}},
            )
        )


def _get(tenant: Tenant, path: str) -> Any:
    with tenant.http() as http:
        return _ok(http.get(path))


def _entries(tenant: Tenant, feature_id: str) -> dict[str, dict[str, Any]]:
    """The account acme's entries of the feature through the API, by id (every page)."""
    found: dict[str, dict[str, Any]] = {}
    token = None
    while True:
        page = _get(
            tenant,
            f"/accounts/acme/features/{feature_id}/entries?pageSize=50" + (f"&nextToken={token}" if token else ""),
        )
        found.update({e["id"]: e for e in page["data"]})
        token = page.get("nextToken")
        if not token:
            return found


def _ctx(s: Session, tenant: Tenant) -> Context:
    org = s.get(Organization, tenant.org.id)
    assert org is not None
    return Context(session=s, org=org, now=utc_now())


def _midnight(days: int) -> datetime:
    """The start (UTC) of the day `days` from today."""
    return datetime.combine(datetime.now(timezone.utc).date() + timedelta(days=days), time(), timezone.utc)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _posted(page: Page, submit: Callable[[], None], method: str = "POST") -> int:
    """Submit a form; the status of its answer."""
    with page.expect_response(lambda r: r.request.method == method and r.request.resource_type == "document") as answer:
        submit()
    return answer.value.status


def _row(page: Page, n: int) -> Any:
    return page.get_by_label(f"Row {n}: event schema · attribute")


def _no_api_words(page: Page) -> None:
    assert not API_WORDS.search(page.locator("main").inner_text())


# -- Features ------------------------------------------------------------------------------------------------------
def test_features_created_edited_and_listed(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    _schema(tenant, "api_calls", ["calls", "minutes"])
    _schema(tenant, "storage", ["gigabytes"])
    _schema(tenant, "draft_usage", ["minutes", "seconds"], activate=False)  # a DRAFT changes in place
    storage = _feature(tenant, "Storage", [("storage", "gigabytes")])
    sign_in(page, *person)

    menu(page, "Features")
    expect(page.get_by_role("heading", name="Features")).to_be_visible()
    expect(page.locator("table.features tr", has_text="Storage")).to_contain_text("storage · gigabytes")
    page.get_by_role("link", name="+ New Feature").first.click()
    # the list marks the schema another feature reads, and a pick of it is refused in words, what was typed kept
    expect(page.locator("optgroup[label='storage · feeds Storage']")).to_have_count(1)
    page.get_by_label("Name", exact=True).fill("API calls")
    page.get_by_label("Billable name (optional)").fill("API requests")
    _row(page, 1).select_option(label="storage · gigabytes")
    assert _posted(page, page.get_by_role("button", name="Create Feature").click) == 400
    expect(page.get_by_role("alert")).to_have_text(
        f"Row 1: event schema storage already feeds the feature “Storage” ({storage}). A schema feeds one feature, so "
        "that each of its events has one number of units: take it off that feature first, or pick another schema"
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("API calls")
    expect(page.get_by_label("Billable name (optional)")).to_have_value("API requests")
    expect(_row(page, 1)).to_have_value("storage/gigabytes")
    _no_api_words(page)
    shot(page, f"feature-new-refused-{screen}", engine)
    fits(page)
    # "+ Add a schema": one more row, the first kept; a blank name refused next to its field
    _row(page, 1).select_option(label="api_calls · calls")
    page.get_by_role("button", name="+ Add a schema").click()
    expect(_row(page, 2)).to_have_value("")
    expect(_row(page, 1)).to_have_value("api_calls/calls")
    server_judges(page, page.get_by_role("button", name="Create Feature"))
    page.get_by_label("Name", exact=True).fill("   ")
    assert _posted(page, page.get_by_role("button", name="Create Feature").click) == 400
    expect(page.get_by_role("alert")).to_have_text("Name: must not be blank")
    expect(_row(page, 1)).to_have_value("api_calls/calls")
    page.locator("input[name=name]").fill("API calls")  # (its label holds the mistake now)
    assert _posted(page, page.get_by_role("button", name="Create Feature").click) == 303

    expect(page.get_by_role("heading", name="API calls")).to_contain_text("Metered")
    feature_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("status")).to_have_text(
        f"Feature “API calls” created ({feature_id}): it reads api_calls · calls."
    )
    expect(page.get_by_role("row", name="api_calls calls")).to_be_visible()
    expect(page.get_by_text("No account has active credits of this feature")).to_be_visible()
    shot(page, f"feature-{screen}", engine)
    fits(page)
    made = _get(tenant, f"/features/{feature_id}")
    assert (made["name"], made["billableName"], made["displayName"]) == ("API calls", "API requests", "API requests")
    assert made["schemaAssociations"] == [{"schemaName": "api_calls", "attributeName": "calls"}]

    # Edit: another schema's attribute in row 2; the attribute is taken off that DRAFT schema meanwhile, so the
    # save is refused in words next to its row, the pick kept (marked as not in the list)
    page.get_by_role("link", name="Edit").click()
    expect(_row(page, 1)).to_have_value("api_calls/calls")
    expect(_row(page, 2)).to_have_value("")
    page.get_by_label("Name", exact=True).fill("API usage")
    _row(page, 2).select_option(label="draft_usage · seconds")
    with tenant.http() as http:
        _ok(http.patch("/event_schema/draft_usage", json={"attributes": [{"name": "minutes"}]}))
    assert _posted(page, page.get_by_role("button", name="Save").click) == 400
    expect(page.get_by_role("alert")).to_have_text(
        "Row 2: event schema draft_usage has no attribute “seconds” (any more); its attributes: minutes. Pick one of "
        "them"
    )
    expect(_row(page, 2)).to_have_value("draft_usage/seconds")
    expect(page.get_by_label("Name", exact=True)).to_have_value("API usage")
    shot(page, f"feature-edit-refused-{screen}", engine)
    fits(page)
    assert _get(tenant, f"/features/{feature_id}")["name"] == "API calls"  # nothing of the refused edit was kept
    _row(page, 2).select_option(label="draft_usage · minutes")
    assert _posted(page, page.get_by_role("button", name="Save").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        "Feature “API usage” saved: it reads api_calls · calls, draft_usage · minutes."
    )
    saved = _get(tenant, f"/features/{feature_id}")
    assert saved["name"] == "API usage" and saved["billableName"] == "API requests"
    assert saved["schemaAssociations"] == [
        {"schemaName": "api_calls", "attributeName": "calls"},
        {"schemaName": "draft_usage", "attributeName": "minutes"},
    ]

    # A configuration feature: no row picked
    menu(page, "Features")
    page.get_by_role("link", name="+ New Feature").first.click()
    page.get_by_label("Name", exact=True).fill("SSO")
    assert _posted(page, page.get_by_role("button", name="Create Feature").click) == 303
    expect(page.get_by_role("heading", name="SSO")).to_contain_text("Configuration")
    expect(page.get_by_role("status")).to_contain_text(
        "it reads no event schema: a configuration feature, whose value comes from settings."
    )
    sso = page.url.rsplit("/", 1)[1]
    assert _get(tenant, f"/features/{sso}")["schemaAssociations"] == []

    # The list: by name, both ways, with counts
    menu(page, "Features")
    expect(page.get_by_text("1–3 of 3 features")).to_be_visible()
    names = page.locator("table.features tbody tr td:first-child a")
    expect(names).to_have_text(["API usage", "SSO", "Storage"])
    expect(page.locator("table.features tr", has_text="SSO")).to_contain_text(
        "no event schema: a configuration feature"
    )
    page.get_by_role("link", name="Name", exact=True).click()
    expect(page.locator("th[aria-sort='descending']")).to_have_text(re.compile("Name"))
    expect(names).to_have_text(["Storage", "SSO", "API usage"])
    shot(page, f"features-{screen}", engine)
    fits(page)


# -- the account's Entitlements tab ------------------------------------------------------------------------------
def _acme_with_credits(tenant: Tenant, session_factory: sessionmaker[Session]) -> tuple[str, str]:
    """acme; feature "API calls" (api_calls' calls) with the cycle entry CYCLE_ENTRY of 10 units until day 40, of
    which an entitled event used 2.5; a configuration feature "Tier" set to gold for the organization. Returns the
    two features' ids."""
    _schema(tenant, "api_calls", ["calls"])
    _customer(tenant, "acme", "Acme Inc")
    calls = _feature(tenant, "API calls", [("api_calls", "calls")])
    tier = _feature(tenant, "Tier", [])
    Sdk(tenant).settings.insert_setting(
        tc.Setting(
            id=tier,
            value="gold",
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="entitlements",
            name="Tier",
            data_type="STRING",
        )
    )
    with unit_of_work(session_factory) as s:
        FeatureCreditService(_ctx(s, tenant)).grant(
            Grant(
                account_id="acme",
                feature_id=calls,
                granted=Decimal(10),
                effective_from=_midnight(-1),
                effective_until=_midnight(40),
                source=EntrySource.PRICE_PLAN,
                entry_id=CYCLE_ENTRY,
                origin=CYCLE_ENTRY.split("#")[0],
            )
        )
    event = {
        "schemaName": "api_calls",
        "id": "call-1",
        "timestamp": (utc_now() - timedelta(minutes=1)).isoformat(),
        "accountId": "acme",
        "attributes": [{"name": "calls", "value": "2.5"}],
        "dimensions": {},
    }
    with tenant.http() as http:
        _ok(http.post("/entitled", json={"event": event}))
    return calls, tier


def test_credits_granted_updated_and_voided_on_the_account(
    any_page: Page,
    screen: str,
    person: tuple[str, str],
    tenant: Tenant,
    db_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    page, engine = any_page, engine_of(db_url)
    calls, tier = _acme_with_credits(tenant, session_factory)
    sign_in(page, *person)
    page.goto("/accounts/acme")
    tab(page, "Entitlements")

    # Every feature: its value, granted and balance; the feature with credits is the one shown below
    features = page.locator("table.entitlements")
    expect(features.locator("tr", has_text="API calls")).to_contain_text("7.5")
    expect(features.locator("tr", has_text="API calls").locator("td.num")).to_have_text(["7.5", "10", "7.5"])
    expect(features.locator("tr", has_text="Tier")).to_contain_text("gold")
    expect(page.get_by_role("heading", name=re.compile("^API calls"))).to_be_visible()
    row = page.locator("table.entries tbody tr", has_text=CYCLE_ENTRY)
    expect(row).to_contain_text("Price Plan")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text(f"{_when(_midnight(-1))}")
    expect(row.locator("td.num")).to_have_text(["10", "2.5", "7.5"])
    shot(page, f"entitlements-{screen}", engine)
    fits(page)

    # Grant credits: the form's mistake, then the service's, each next to its field, what was typed kept
    page.get_by_label("Units").fill("none")
    assert _posted(page, page.get_by_role("button", name="Grant credits").click) == 400
    expect(page.locator("label", has=page.get_by_label("Units"))).to_contain_text(
        "Units: enter a number of units above 0, such as 100 or 2.5"
    )
    expect(page.get_by_label("Units")).to_have_value("none")
    yesterday = (_midnight(-1)).date().isoformat()
    page.get_by_label("Units").fill("100")
    page.get_by_label("Until, last day (optional)").fill(yesterday)
    assert _posted(page, page.get_by_role("button", name="Grant credits").click) == 400
    expect(page.locator("label", has=page.get_by_label("Until, last day (optional)"))).to_contain_text(
        "Until: pick today or a later day: an entry that has ended can no longer be used"
    )
    expect(page.get_by_label("Units")).to_have_value("100")
    expect(page.get_by_label("Until, last day (optional)")).to_have_value(yesterday)
    _no_api_words(page)
    shot(page, f"entitlements-grant-refused-{screen}", engine)
    assert len(_entries(tenant, calls)) == 1  # nothing was granted
    page.get_by_label("Until, last day (optional)").fill("")
    assert _posted(page, page.get_by_role("button", name="Grant credits").click) == 303
    granted = next(e for e in _entries(tenant, calls).values() if e["source"] == "ENTITLEMENT")
    expect(page.get_by_role("status")).to_have_text(
        f"Granted 100 units of API calls to Acme Inc: entry {granted['id']}, from the start, with no end; "
        "balance now 107.5"
    )
    expect(page.locator(".figures")).to_contain_text("Balance107.5")
    expect(features.locator("tr", has_text="API calls").locator("td.num")).to_have_text(["107.5", "110", "107.5"])
    credits = _get(tenant, f"/accounts/acme/features/{calls}")
    assert (credits["granted"], credits["balance"]) == (110, 107.5)
    assert granted["granted"] == 100 and granted["effectiveUntil"].startswith("9999-12-31")

    # Update the cycle entry: its URL carries the id percent-encoded; too few units refused, then confirmed
    page.get_by_role("link", name=f"Update entry {CYCLE_ENTRY}").click()
    expect(page.get_by_role("heading", name=f"Update entry {CYCLE_ENTRY}")).to_be_visible()
    assert quote(CYCLE_ENTRY, safe="") in page.url and "%23" in page.url and "%24" in page.url
    page.get_by_label("Units granted (optional)").fill("2")
    assert _posted(page, page.get_by_role("button", name="Review the update").click, "GET") == 400
    expect(page.get_by_role("alert")).to_have_text("Units: at least 2.5, what the entry has used already")
    expect(page.get_by_label("Units granted (optional)")).to_have_value("2")
    fits(page)
    last_day = _midnight(59).date().isoformat()
    page.get_by_label("Units granted (optional)").fill("20")
    page.get_by_label("Until, last day (optional)").fill(last_day)
    assert _posted(page, page.get_by_role("button", name="Review the update").click, "GET") == 200
    said = (
        f"Update entry {CYCLE_ENTRY}: it grants 20 units instead of 10 and it ends at {_when(_midnight(60))} instead "
        f"of {_when(_midnight(40))}. What it used stays (2.5); left to use: 17.5 units (now 7.5 units)."
    )
    expect(page.locator(".consequence")).to_have_text(said)
    shot(page, f"entitlements-update-confirm-{screen}", engine)
    fits(page)
    page.get_by_role("link", name="Cancel").click()  # changes nothing
    expect(page.get_by_role("heading", name=re.compile("^API calls"))).to_be_visible()
    assert _entries(tenant, calls)[CYCLE_ENTRY]["granted"] == 10
    page.go_back()
    expect(page.locator(".consequence")).to_have_text(said)
    assert _posted(page, page.get_by_role("button", name="Update entry").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        f"Entry {CYCLE_ENTRY} updated: it grants 20 units until {_when(_midnight(60))}; left to use: 17.5 units"
    )
    entry = _entries(tenant, calls)[CYCLE_ENTRY]
    assert (entry["granted"], entry["used"], entry["balance"]) == (20, 2.5, 17.5)
    assert entry["effectiveUntil"].startswith(_midnight(60).strftime("%Y-%m-%dT00:00:00"))

    # Void it: the confirmation says what is lost and what stays
    page.get_by_role("link", name=f"Void entry {CYCLE_ENTRY}").click()
    expect(page.locator(".consequence")).to_have_text(
        f"Void entry {CYCLE_ENTRY}: its 17.5 units left can no longer be used; 2.5 used stay. A voided entry cannot "
        "be made active again, and what it left is not given back."
    )
    shot(page, f"entitlements-void-confirm-{screen}", engine)
    fits(page)
    assert _posted(page, page.get_by_role("button", name="Void entry").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        f"Entry {CYCLE_ENTRY} voided: its 17.5 units left can no longer be used; 2.5 used stay"
    )
    row = page.locator("table.entries tbody tr", has_text=CYCLE_ENTRY)
    expect(row).to_contain_text("Voided")
    expect(row.locator("td.num")).to_have_text(["20", "2.5", "0"])
    expect(row.get_by_role("link")).to_have_count(0)
    expect(page.locator(".figures")).to_contain_text("Balance100")
    shot(page, f"entitlements-voided-{screen}", engine)
    fits(page)
    assert _entries(tenant, calls)[CYCLE_ENTRY]["status"] == "VOIDED"
    assert _get(tenant, f"/accounts/acme/features/{calls}")["balance"] == 100

    # The feature's page lists the accounts holding credits of it, each back to its tab
    page.get_by_role("link", name="The feature's page").click()
    holder = page.locator("table.list tr", has_text="Acme Inc")
    expect(holder.locator("td.num")).to_have_text(["100", "100"])  # the voided entry counts no more
    fits(page)
    holder.get_by_role("link", name="Acme Inc").click()
    expect(page.get_by_role("heading", name=re.compile("^API calls"))).to_be_visible()
    assert f"feature={calls}" in page.url

    # The configuration feature: its value from the organization's setting, no credits to grant
    features.get_by_role("link", name="Tier").click()
    expect(page.get_by_role("heading", name=re.compile("^Tier"))).to_be_visible()
    expect(page.locator(".figures")).to_contain_text("Valuegold")
    expect(page.get_by_role("button", name="Grant credits")).to_have_count(0)
    assert f"feature={tier}" in page.url
    fits(page)


def test_the_entries_page_through_with_counts(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    calls, _ = _acme_with_credits(tenant, session_factory)
    with unit_of_work(session_factory) as s:
        service = FeatureCreditService(_ctx(s, tenant))
        for n in range(1, 56):  # 55 more: 56 entries, newest first
            service.grant(Grant(account_id="acme", feature_id=calls, granted=Decimal(n)))
    sign_in(page, *person)
    page.goto(f"/accounts/acme?tab=entitlements&feature={calls}")
    granted = page.locator("table.entries tbody tr td:nth-child(5)")
    expect(page.get_by_text("1–25 of 56 entries")).to_be_visible()
    expect(granted).to_have_count(25)
    expect(granted.first).to_have_text("55")
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–50 of 56 entries")).to_be_visible()
    expect(granted.first).to_have_text("30")
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("51–56 of 56 entries")).to_be_visible()
    expect(granted).to_have_text(["5", "4", "3", "2", "1", "10"])  # the cycle entry was made first
    assert "page=3" in page.url and f"feature={calls}" in page.url
    shot(page, "entitlements-page-3", engine_of(db_url))
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("26–50 of 56 entries")).to_be_visible()
    assert len(_entries(tenant, calls)) == 56

    # A page that is not one: 400 in words; past the end: a way back; a feature not found: 404
    response = page.goto(f"/accounts/acme?tab=entitlements&feature={calls}&page=0")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Page: '0' is not a page number")
    response = page.goto(f"/accounts/acme?tab=entitlements&feature={calls}&page=9")
    assert response is not None and response.status == 200
    expect(page.get_by_text("There is no page 9")).to_be_visible()
    response = page.goto("/accounts/acme?tab=entitlements&feature=feature.nothing")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text("Feature feature.nothing not found")


def test_odd_entitlement_forms_are_answered_in_words_never_a_500(
    person: tuple[str, str], tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    calls, tier = _acme_with_credits(tenant, session_factory)
    _schema(tenant, "spare", ["n"])
    entry = quote(CYCLE_ENTRY, safe="")
    base = f"/accounts/acme/features/{calls}/entries"
    with httpx.Client(base_url=tenant.base_url, timeout=30) as web:
        http_sign_in(web, *person)
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/features/new").text)
        assert csrf is not None
        token = csrf[1]
        # an update that changes nothing, a last day that is not one
        r = web.get(f"{base}/{entry}/update", params={"granted": "", "until": ""})
        assert r.status_code == 400 and "an empty form changes nothing" in r.text
        r = web.get(f"{base}/{entry}/update", params={"granted": "", "until": "2026-02-30"})
        assert r.status_code == 400 and "Until: pick a day from the calendar" in r.text
        # an entry or a feature that is not there: 404 pages
        assert web.get(f"{base}/nothing%23x/void").status_code == 404
        assert web.get(f"/accounts/acme/features/feature.nothing/entries/{entry}/void").status_code == 404
        assert web.post("/accounts/acme/features/feature.nothing/entries", data={"csrf": token}).status_code == 404
        # a void posted twice (a stale tab): the second is refused in words, nothing changes
        assert web.post(f"{base}/{entry}/void", data={"csrf": token}).status_code == 303
        r = web.post(f"{base}/{entry}/void", data={"csrf": token})
        assert r.status_code == 400 and "This entry is voided: only an active entry can be changed or voided" in r.text
        r = web.get(f"{base}/{entry}/void")
        assert r.status_code == 200 and "This entry is voided: only an active entry can be voided." in r.text
        r = web.post(f"{base}/{entry}/update", data={"csrf": token, "granted": "5"})
        assert r.status_code == 400 and "only an active entry can be changed" in r.text
        # without the form's token: 403
        assert web.post(f"{base}", data={"granted": "5"}).status_code == 403
        # feature forms posted oddly
        r = web.post("/features/new", data={"csrf": token, "name": "X", "pair": "nonsense"})
        assert r.status_code == 400 and "Row 1: pick an event schema&#39;s attribute from the list" in r.text
        r = web.post("/features/new", data={"csrf": token, "name": "X" * 256})
        assert r.status_code == 400 and "Name: at most 255 characters" in r.text
        r = web.post("/features/new", data={"csrf": token, "name": "X", "pair": ["spare/n", "spare/n"]})
        assert r.status_code == 400 and "Row 2: event schema spare is picked twice" in r.text
        named = web.post(f"/features/{tier}/edit", data={"csrf": token, "name": "Tier", "billable_name": "Plan tier"})
        assert named.status_code == 303
        r = web.post(f"/features/{tier}/edit", data={"csrf": token, "name": "Tier", "billable_name": ""})
        assert r.status_code == 400 and "a feature keeps its billable name once it has one" in r.text
        assert web.get("/features/feature.nothing").status_code == 404
        assert web.post("/features/feature.nothing/edit", data={"csrf": token, "name": "Y"}).status_code == 404
    assert _get(tenant, f"/features/{tier}")["billableName"] == "Plan tier"
    assert len(_entries(tenant, calls)) == 1


def test_a_plan_s_entries_and_unlimited_overage_on_the_tab(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """acme on a plan with 100 units a month and overage without a limit: the tab shows the plan's two entries (the
    cycle's grant, made on the first read) and the overage in words, after events used 130 units."""
    from tests.api.billing_setup import month_start
    from tests.api.test_entitlement_cards_sdk import entitlement_card, gated_plan, overage_card
    from tests.api.test_schedules_sdk import OPEN, associate

    _schema(tenant, "api_calls", ["calls"])
    _customer(tenant, "acme", "Acme Inc")
    calls = _feature(tenant, "API calls", [("api_calls", "calls")])
    sdk = Sdk(tenant)
    plan_id = gated_plan(
        sdk, calls, entitlements=[entitlement_card(calls, 100)], overage=[overage_card(calls, max_quantity=None)]
    )
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month_start(datetime.now(timezone.utc)), OPEN))
    event = {
        "schemaName": "api_calls",
        "id": "c1",
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "accountId": "acme",
        "attributes": [{"name": "calls", "value": "130"}],
        "dimensions": {},
    }
    with tenant.http() as http:
        _ok(http.post("/entitled", json={"event": event}))
    sign_in(page, *person)
    page.goto(f"/accounts/acme?tab=entitlements&feature={calls}")
    rows = page.locator("table.entries tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="$OVERAGE")).to_contain_text("no limit")
    expect(rows.filter(has_text="$PRICE_PLAN")).to_contain_text("100")
    expect(page.locator("dt", has_text="Used overage").locator("xpath=following-sibling::dd[1]")).to_have_text(
        "30 (no limit)"
    )
    fits(page)
    shot(page, "entitlements-plan-overage", engine_of(db_url))
