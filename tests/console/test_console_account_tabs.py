"""The account's tabs as a billing operator uses them (issue 15), in real headless Chromium on both engines, at
desktop and phone width: every refused form answers 400 with each mistake next to its field in words (never an API
path) and what was typed kept; every save says what it saved; removing a charge or an alias and voiding a credit ask
first; aliases are shown and edited on the account; Add Account offers every ISO 4217 currency; the wallet says
which draft invoices hold how much of it. What the pages say is read back through the API."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import togai_client as tc
from playwright.sync_api import Page, expect

from meterline.core.money import CURRENCIES
from tests.api.billing_setup import growth_plan, month_start
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant
from tests.console.browsing import engine_of, server_judges, shot, sign_in, tab

API_PATHS = re.compile(r"creditRequests|creditAmount|topupAmount|pricePlanId|effectiveFrom|effectiveUntil|items\[")


def _customer(tenant: Tenant, customer_id: str, name: str) -> None:
    with tenant.http() as http:
        r = http.post(
            "/customers",
            json={"id": customer_id, "name": name, "primaryEmail": f"billing@{customer_id}.test", "address": {}},
        )
        assert r.status_code == 201, r.text


def _acme_on_growth(tenant: Tenant) -> str:
    """acme (USD) on Growth (a 50.00 platform fee in arrears, D4's tiered card on the SUM meter) from the 1st of this
    month: one draft of USD 50.00. Returns the SUM meter's id (its card's line id)."""
    sdk = Sdk(tenant)
    _customer(tenant, "acme", "Acme Inc")
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
    meter = create_metering_catalog(sdk)["sum"]
    plan = growth_plan(sdk, meter, fee)
    sdk.accounts.update_pricing_schedule("acme", associate(plan, month_start(datetime.now(timezone.utc)), OPEN))
    return meter


def _this_month() -> str:
    """The ongoing invoice's days in words: "Dec 1 – Dec 31, 2026"."""
    today = datetime.now(timezone.utc).date()
    last = calendar.monthrange(today.year, today.month)[1]
    return f"{today:%b} 1 – {today:%b} {last}, {today.year}"


def _posted(page: Page, submit: Callable[[], None], method: str = "POST") -> int:
    """Submit a form; the status of its answer (400 refused, 303 saved; a GET form: 400 refused, 200 the
    confirmation page)."""
    with page.expect_response(lambda r: r.request.method == method and r.request.resource_type == "document") as answer:
        submit()
    return answer.value.status


def _field(page: Page, label: str) -> object:
    """The label around an input: where its mistake is shown."""
    return page.locator("label", has=page.get_by_label(label))


def _no_api_words(page: Page) -> None:
    assert not API_PATHS.search(page.locator("main").inner_text())


def _invoices(tenant: Tenant, owner: str) -> list[dict[str, object]]:
    with tenant.http() as http:
        r = http.get("/invoices", params={"owner_id": owner})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def test_charges_refused_in_words_saved_with_a_notice_and_removed_after_asking(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    meter = _acme_on_growth(tenant)
    _customer(tenant, "newco", "Newco")  # an account with no plan yet
    # A charge made through the API: 10^14 x the usage line, 0.00 while there is no usage; then 10 calls make it
    # 10^15, which no amount may reach: the draft can no longer take a charge until that one goes
    big = '{"*": [{"var": "' + meter + '"}, 100000000000000]}'
    with tenant.http() as http:
        r = http.put("/accounts/acme/miscellaneous_charges", json={"items": [{"name": "Big", "value": big}]})
        assert r.status_code == 200, r.text
    now = datetime.now(timezone.utc)
    at = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(minutes=1))
    tc.EventIngestionApi(Sdk(tenant).client).ingest_batch(
        tc.IngestBatchEventRequest(events=[ev("c1", "10", account="acme", at=at)])
    )
    sign_in(page, *person)
    page.goto("/accounts/acme")
    expect(page.locator("tr.total")).to_contain_text("USD 60.00")

    # The service refuses a charge after trying it on the draft: 400, why in words, what was typed kept, and the
    # page shown again lists no row for it (it used to list "Phantom check USD 0.00", never saved)
    page.get_by_label("Name").fill("Phantom check")
    page.get_by_label("Value (USD)").fill("10")
    assert _posted(page, page.get_by_role("button", name="Add charge").click) == 400
    expect(page.get_by_role("alert")).to_have_text(
        "The charge “Big” already on this invoice cannot be computed now (its amount reaches 10^15): nothing was "
        "added. Remove that charge first, or change it through the API"
    )
    expect(page.get_by_label("Name")).to_have_value("Phantom check")
    expect(page.get_by_label("Value (USD)")).to_have_value("10")
    expect(page.locator("table tr", has_text="Phantom check")).to_have_count(0)
    expect(page.locator("tr.total")).to_contain_text("USD 60.00")
    _no_api_words(page)
    shot(page, f"account-charge-refused-by-service-{screen}", engine)
    assert [i["totalAmount"] for i in _invoices(tenant, "acme")] == [60]
    # Removing the charge made through the API (asked first): its notice has no amount to state
    page.locator("table tr", has_text="Big").get_by_role("link", name="Remove").click()
    assert _posted(page, page.get_by_role("button", name="Remove charge").click) == 303
    expect(page.get_by_role("status")).to_have_text(f"Charge “Big” removed from the draft invoice for {_this_month()}")
    expect(page.locator("table tr", has_text="Big")).to_have_count(0)

    # The form's own checks: 400, the mistake next to Value in words, both fields as typed, and no row for it
    server_judges(page, page.get_by_role("button", name="Add charge"))
    page.get_by_label("Name").fill("Phantom check")
    page.get_by_label("Value (USD)").fill("12.345")
    assert _posted(page, page.get_by_role("button", name="Add charge").click) == 400
    expect(_field(page, "Value (USD)")).to_contain_text("Value: USD amounts have at most 2 decimals, such as 25.00")
    expect(page.get_by_label("Name")).to_have_value("Phantom check")
    expect(page.get_by_label("Value (USD)")).to_have_value("12.345")
    expect(page.locator("table tr", has_text="Phantom check")).to_have_count(0)
    expect(page.locator("tr.total")).to_contain_text("USD 60.00")
    server_judges(page, page.get_by_role("button", name="Add charge"))
    page.get_by_label("Name").fill("")
    page.get_by_label("Value (USD)").fill("forty")
    assert _posted(page, page.get_by_role("button", name="Add charge").click) == 400
    expect(_field(page, "Name")).to_contain_text("Name: give the charge a name, as the invoice will show it")
    expect(_field(page, "Value (USD)")).to_contain_text(
        "Value: enter an amount, such as 25.00, or a negative amount for a discount (USD)"
    )
    _no_api_words(page)
    shot(page, f"account-charge-refused-{screen}", engine)
    assert [i["totalAmount"] for i in _invoices(tenant, "acme")] == [60]  # nothing was saved

    # Saved: back on the tab, a notice that says what was saved and where
    page.get_by_label("Name").fill("Setup")
    page.get_by_label("Value (USD)").fill("120")
    assert _posted(page, page.get_by_role("button", name="Add charge").click) == 303
    expect(page).to_have_url(re.compile(r"/accounts/acme\?tab=summary$"))
    expect(page.get_by_role("status")).to_have_text(
        f"Charge “Setup” of USD 120.00 added to the draft invoice for {_this_month()}"
    )
    expect(page.locator("table tr", has_text="Setup")).to_contain_text("USD 120.00")
    expect(page.locator("tr.total")).to_contain_text("USD 180.00")
    expect(page.get_by_label("Name")).to_have_value("")  # a saved form starts empty again
    shot(page, f"account-charge-saved-{screen}", engine)
    page.reload()
    expect(page.get_by_role("status")).to_have_count(0)  # the notice is said once
    assert [i["totalAmount"] for i in _invoices(tenant, "acme")] == [180]

    # Remove asks first (Cancel changes nothing), then takes the charge off the draft
    page.locator("table tr", has_text="Setup").get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name="Remove the charge “Setup”?")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("USD 120.00")
    expect(page.get_by_text(f"The charge comes off the draft invoice for {_this_month()}")).to_be_visible()
    shot(page, f"account-charge-remove-confirm-{screen}", engine)
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("table tr", has_text="Setup")).to_have_count(1)
    page.locator("table tr", has_text="Setup").get_by_role("link", name="Remove").click()
    assert _posted(page, page.get_by_role("button", name="Remove charge").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        f"Charge “Setup” of USD 120.00 removed from the draft invoice for {_this_month()}"
    )
    expect(page.locator("table tr", has_text="Setup")).to_have_count(0)
    assert [i["totalAmount"] for i in _invoices(tenant, "acme")] == [60]

    # An account with no plan: the charge form says why there is none, and where to go
    page.goto("/accounts/newco")
    charges = page.get_by_role("region", name="+ Add Customer Charges")
    expect(charges).to_contain_text(
        "Charges go on the ongoing invoice, and this account has none today: attach a price plan first"
    )
    shot(page, f"account-charge-no-plan-{screen}", engine)
    csrf = page.locator("input[name=csrf]").first.input_value()
    refused = page.request.post("/accounts/newco/charges", form={"csrf": csrf, "name": "Setup", "value": "10"})
    assert refused.status == 400 and "attach a price plan first" in refused.text()
    charges.get_by_role("link", name="Price Plan Schedule").click()
    expect(page.get_by_role("heading", name="Attach a price plan")).to_be_visible()


def test_credits_refused_in_words_and_void_asks_first(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    _acme_on_growth(tenant)
    sign_in(page, *person)
    page.goto("/accounts/acme?tab=credits")

    # The form's own checks, every mistake at once, each next to its field, what was typed kept
    server_judges(page, page.get_by_role("button", name="Add Credits"))
    page.get_by_label("Amount (USD)").fill("0")
    page.get_by_label("Purpose").fill("Welcome")
    page.get_by_label("Priority").fill("-1")
    page.get_by_label("Effective from").fill("2026-12-10")
    page.get_by_label("Until, last day (optional)").fill("2026-12-01")
    assert _posted(page, page.get_by_role("button", name="Add Credits").click) == 400
    expect(_field(page, "Amount (USD)")).to_contain_text("Amount: enter an amount above 0, such as 25.00 (USD)")
    expect(_field(page, "Priority")).to_contain_text("Priority: a whole number from 0 to 1,000,000")
    expect(_field(page, "Until, last day (optional)")).to_contain_text("Until: pick 2026-12-10 or a later day")
    expect(page.get_by_label("Purpose")).to_have_value("Welcome")
    expect(page.get_by_label("Priority")).to_have_value("-1")
    expect(page.get_by_label("Until, last day (optional)")).to_have_value("2026-12-01")
    _no_api_words(page)

    # The service's refusal, next to its field too
    page.get_by_label("Amount (USD)").fill("100")
    page.get_by_label("Priority").fill("1")
    page.get_by_label("Effective from").fill(datetime.now(timezone.utc).date().isoformat())
    page.get_by_label("Until, last day (optional)").fill("")
    page.get_by_label("Scope (optional)").fill("um.nope")
    assert _posted(page, page.get_by_role("button", name="Add Credits").click) == 400
    expect(_field(page, "Scope (optional)")).to_contain_text("Scope: “um.nope” is not a usage meter or an add-on id")
    expect(page.get_by_label("Amount (USD)")).to_have_value("100")
    _no_api_words(page)
    shot(page, f"account-credit-refused-{screen}", engine)

    # Saved
    page.get_by_label("Scope (optional)").fill("")
    assert _posted(page, page.get_by_role("button", name="Add Credits").click) == 303
    today = datetime.now(timezone.utc).date()
    expect(page.get_by_role("status")).to_have_text(
        f"Credit “Welcome” of USD 100.00 added: it applies from {today:%b} {today.day}, {today.year}, with no end"
    )
    row = page.locator("table tr", has_text="Welcome")
    expect(row).to_contain_text("USD 100.00")
    expect(row).to_contain_text("USD 50.00")  # the draft holds 50.00 of it

    # Void asks first: the credit, what is left and held, what voiding does
    row.get_by_role("link", name="Void").click()
    expect(page.get_by_role("heading", name="Void the credit “Welcome”?")).to_be_visible()
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Remaining")
    expect(facts).to_contain_text("USD 100.00")
    expect(facts).to_contain_text("Held by draft invoices")
    expect(page.get_by_text("the USD 100.00 left of it will not apply to any invoice")).to_be_visible()
    expect(page.get_by_text("The draft invoices lose the USD 50.00 they hold of it now")).to_be_visible()
    shot(page, f"account-credit-void-confirm-{screen}", engine)
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("table tr", has_text="Welcome")).to_contain_text("Active")
    page.locator("table tr", has_text="Welcome").get_by_role("link", name="Void").click()
    assert _posted(page, page.get_by_role("button", name="Void credit").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        "Credit “Welcome” voided: the USD 100.00 left of it no longer applies"
    )
    expect(page.locator("table tr", has_text="Welcome")).to_contain_text("Voided")
    expect(page.locator("table tr", has_text="Welcome").get_by_role("link", name="Void")).to_have_count(0)
    shot(page, f"account-credit-voided-{screen}", engine)
    [credit] = tc.CreditsApi(Sdk(tenant).client).list_credits(account_id="acme").data
    assert credit.status == "VOIDED"


def test_the_wallet_says_which_drafts_hold_how_much(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    _acme_on_growth(tenant)
    sign_in(page, *person)
    page.goto("/accounts/acme?tab=wallet")

    server_judges(page, page.get_by_role("button", name="Top up", exact=True))
    page.get_by_label("Top up (USD)").fill("-25")
    assert _posted(page, page.get_by_role("button", name="Top up", exact=True).click) == 400
    expect(_field(page, "Top up (USD)")).to_contain_text("Top up: enter an amount above 0, such as 25.00 (USD)")
    expect(page.get_by_label("Top up (USD)")).to_have_value("-25")
    _no_api_words(page)

    page.get_by_label("Top up (USD)").fill("500")
    assert _posted(page, page.get_by_role("button", name="Top up", exact=True).click) == 303
    expect(page.get_by_role("status")).to_have_text(
        "Wallet topped up with USD 500.00: balance USD 450.00; USD 50.00 of the wallet is on hold for draft "
        "invoices until they are finalized"
    )
    # The balance right after the top-up explains its hold: which draft, how much, why, with a link to it
    holds = page.get_by_role("region", name="On hold")
    expect(holds).to_contain_text("The balance is what the wallet has (USD 500.00) less what draft invoices hold")
    expect(holds).to_contain_text("A draft invoice's amount is held until the invoice is finalized")
    draft = holds.get_by_role("link", name=f"Draft invoice for {_this_month()}")
    expect(draft).to_be_visible()
    expect(holds.get_by_role("listitem")).to_contain_text(f"Draft invoice for {_this_month()} holds USD 50.00")
    expect(holds).to_contain_text(re.compile(r"As of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"))
    # Entries: the hold as a negative amount, every time in UTC
    hold_row = page.locator("table tr", has_text="On hold until finalized")
    expect(hold_row).to_contain_text("USD -50.00")
    for cell in page.locator("table tbody tr td:first-child").all():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", cell.inner_text().strip())
    shot(page, f"account-wallet-holds-{screen}", engine)
    [invoice] = _invoices(tenant, "acme")
    assert draft.get_attribute("href") == f"/invoices/{invoice['id']}"
    wallet = tc.WalletApi(Sdk(tenant).client).wallet_balance_for_account("acme")
    assert (wallet.balance, wallet.hold_amount) == (450, 50)

    # Once the draft is finalized, the hold is a payment: a negative entry, and no hold is left to explain
    with tenant.http() as http:
        assert http.patch(f"/invoices/{invoice['id']}", json={"status": "DUE"}).status_code == 200
    page.reload()
    expect(page.get_by_role("region", name="On hold")).to_have_count(0)
    expect(page.locator("table tr", has_text="Invoice payment")).to_contain_text("USD -50.00")
    expect(page.locator("dl.figures")).to_contain_text("USD 450.00")


def test_add_account_with_any_iso_currency_its_aliases_the_schedule_and_the_customer(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    _acme_on_growth(tenant)
    _customer(tenant, "granite", "Granite Payments")
    with tenant.http() as http:
        r = http.post("/accounts/granite/add_aliases", json={"aliases": ["granite-tenant-88"]})
        assert r.status_code == 200, r.text
    sign_in(page, *person)
    page.goto("/customers/acme")
    page.get_by_role("link", name="Add Account").click()

    # Every ISO 4217 currency, searchable without JavaScript: an input with a datalist
    currency = page.get_by_label("Currency")
    assert currency.get_attribute("list") == "currencies"
    expect(page.get_by_role("button", name="Add Account")).to_be_visible()  # after the datalist: all of it is there
    codes = page.locator("datalist#currencies option").evaluate_all("options => options.map(o => o.value)")
    assert sorted(codes) == sorted(CURRENCIES)
    expect(page.locator("datalist#currencies option[value=XOF]")).to_have_text("XOF · CFA Franc BCEAO")

    # The form's checks, then the service's: each next to its field, what was typed kept
    server_judges(page, page.get_by_role("button", name="Add Account"))
    page.get_by_label("Account Name").fill("A")
    currency.fill("Dollarz")
    page.get_by_label("Account ID").fill("acme")
    assert _posted(page, page.get_by_role("button", name="Add Account").click) == 400
    expect(_field(page, "Currency")).to_contain_text("Currency: “Dollarz” is not an ISO 4217 currency")
    expect(_field(page, "Account Name")).to_contain_text("Account Name: at least 3 characters")
    expect(currency).to_have_value("Dollarz")
    shot(page, f"account-new-refused-{screen}", engine)
    page.get_by_label("Account Name").fill("Acme Europe")
    currency.fill("euro")  # a name finds its code
    assert _posted(page, page.get_by_role("button", name="Add Account").click) == 400
    expect(_field(page, "Account ID")).to_contain_text("Account ID: “acme” is the id of another account")
    page.get_by_label("Account ID").fill("acme-eur")
    page.get_by_label("Alias (optional)").fill("granite-tenant-88")
    assert _posted(page, page.get_by_role("button", name="Add Account").click) == 400
    expect(_field(page, "Alias (optional)")).to_contain_text(
        "Alias: “granite-tenant-88” is taken: account granite uses it"
    )
    expect(page.get_by_label("Account Name")).to_have_value("Acme Europe")
    _no_api_words(page)
    page.get_by_label("Alias (optional)").fill("acme-eu")
    assert _posted(page, page.get_by_role("button", name="Add Account").click) == 303
    expect(page.get_by_role("status")).to_have_text(
        "Account “Acme Europe” (acme-eur) added to Acme Inc, invoiced in EUR, events may also name it acme-eu"
    )
    expect(page.get_by_role("heading", name="Acme Europe")).to_contain_text("EUR")

    # Its alias is shown on the account, and edited there: add (mistakes in words), remove (asking first)
    aliases = page.get_by_role("region", name="Aliases")
    expect(page.locator(".account-aliases")).to_contain_text("acme-eu")
    for taken, words in [
        ("acme", "Alias: “acme” is the id of another account"),
        ("granite-tenant-88", "Alias: “granite-tenant-88” is taken: account granite uses it"),
        ("a b", "Alias: 3 to 50 characters, with no spaces, slashes, ? or #"),
    ]:
        aliases.get_by_label("Add an alias").fill(taken)
        assert _posted(page, aliases.get_by_role("button", name="Add alias").click) == 400
        expect(_field(page, "Add an alias")).to_contain_text(words)
        expect(aliases.get_by_label("Add an alias")).to_have_value(taken)
    shot(page, f"account-alias-refused-{screen}", engine)
    aliases.get_by_label("Add an alias").fill("eu-tenant-7")
    assert _posted(page, aliases.get_by_role("button", name="Add alias").click) == 303
    expect(page.get_by_role("status")).to_have_text("Alias “eu-tenant-7” added: events may name account acme-eur by it")
    expect(aliases.get_by_role("listitem")).to_have_count(2)
    page.get_by_role("link", name="Remove alias acme-eu").click()
    expect(page.get_by_role("heading", name="Remove the alias “acme-eu”?")).to_be_visible()
    expect(page.get_by_text("From now on, events that name “acme-eu” no longer reach account acme-eur")).to_be_visible()
    shot(page, f"account-alias-remove-confirm-{screen}", engine)
    assert _posted(page, page.get_by_role("button", name="Remove alias").click) == 303
    expect(page.get_by_role("status")).to_contain_text("Alias “acme-eu” removed")
    expect(aliases.get_by_role("listitem")).to_have_count(1)
    expect(aliases).to_contain_text("eu-tenant-7")
    with tenant.http() as http:
        account = http.get("/accounts/acme-eur").json()
    assert (account["invoiceCurrency"], [a["alias"] for a in account["aliases"]]) == ("EUR", ["eu-tenant-7"])

    # The schedule's mistakes next to their fields: a plan not active in EUR, nothing to end
    tab(page, "Price Plan Schedule")
    page.get_by_label("Price plan").select_option(label="Growth")
    page.get_by_label("From", exact=True).fill("2026-01-01")
    assert _posted(page, page.get_by_role("button", name="Attach").click, "GET") == 400  # the preview refuses
    expect(_field(page, "Price plan")).to_contain_text(
        "Price plan: it is not active in EUR, this account's currency (active in USD)"
    )
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-01-01")
    assert _posted(page, page.get_by_role("button", name="End the schedule from that date").click, "GET") == 400
    expect(_field(page, "From")).to_contain_text("From: no price plan runs on this account from that day")
    _no_api_words(page)
    shot(page, f"account-schedule-refused-{screen}", engine)

    # Edit Customer: mistakes next to their fields, then a notice
    page.goto("/customers/acme/edit")
    server_judges(page, page.get_by_role("button", name="Save"))
    page.get_by_label("Email ID").fill("nope")
    page.get_by_label("Country").fill("Switzerland")
    page.get_by_label("City").fill("Zürich")
    assert _posted(page, page.get_by_role("button", name="Save").click) == 400
    expect(_field(page, "Email ID")).to_contain_text("Email ID: enter an email address, such as billing@company.com")
    expect(_field(page, "Country")).to_contain_text("Country: enter a two-letter ISO 3166-1 country code")
    expect(page.get_by_label("City")).to_have_value("Zürich")
    shot(page, f"customer-edit-refused-{screen}", engine)
    page.get_by_label("Email ID").fill("ap@acme.test")
    page.get_by_label("Country").fill("CH")
    assert _posted(page, page.get_by_role("button", name="Save").click) == 303
    expect(page.get_by_role("status")).to_have_text("Customer “Acme Inc” saved")
    with tenant.http() as http:
        customer = http.get("/customers/acme").json()
    assert (customer["primaryEmail"], customer["address"]["city"], customer["address"]["country"]) == (
        "ap@acme.test",
        "Zürich",
        "CH",
    )
