"""The console's lists in headless Chromium, against a live server on both engines, at desktop and phone width
(docs/console.md, console/listing.py): sorting by a column both ways (aria-sort), paging forward and back with
counts, the invoices list's Overdue filter and finalized-first default, a customer's balance and recent invoices;
every value checked against what the API answers. Screenshots go to test-results/console/.

Invoices are made through the API in an organization with net terms of 15 days: a fixed-fee plan attached from two
months ago and a bill run give two invoices due weeks ago (one of them overdue whatever today's date), custom
invoices give the rest (finalized at once, due in 15 days).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import simplejson
import togai_client as tc
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.console import words
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.api.billing_setup import month_start
from tests.api.conftest import Sdk
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant, new_org
from tests.console.browsing import engine_of, http_sign_in, menu, shot, sign_in

UTC = timezone.utc
D = Decimal


# -- an organization with net terms of 15 days, and its console user ----------------------------------------------
@pytest.fixture
def org15(session_factory: sessionmaker[Session], server: str) -> Tenant:
    org = new_org(session_factory, net_term_days=15)
    with unit_of_work(session_factory) as s:
        created = TenancyService(s).create_api_key(org=org, now=utc_now(), name="tests")
    return Tenant(org=org, token=created.token, base_url=server)


@pytest.fixture
def operator(session_factory: sessionmaker[Session], org15: Tenant) -> tuple[str, str]:
    email, password = f"ops-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        service.create_user(org=service.organization(org15.org.id), email=email, password=password, now=utc_now())
    return email, password


@pytest.fixture
def api(org15: Tenant) -> Iterator[httpx.Client]:
    with org15.http() as client:
        yield client


# -- through the API -----------------------------------------------------------------------------------------------
def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def exact(http: httpx.Client, method: str, path: str, body: dict[str, Any]) -> Any:
    """A request whose Decimals go as JSON numbers from their own digits."""
    content = simplejson.dumps(body, use_decimal=True)
    return ok(http.request(method, path, content=content, headers={"Content-Type": "application/json"}))


def add_customer(http: httpx.Client, cid: str, name: str, currency: str = "USD") -> None:
    account = {"id": cid, "name": f"{name} {currency}", "invoiceCurrency": currency}
    ok(
        http.post(
            "/customers",
            json={"id": cid, "name": name, "primaryEmail": f"b@{cid}.test", "address": {}, "account": account},
        )
    )


def custom_invoice(http: httpx.Client, account: str, month: str, status: str, *values: Decimal | int) -> str:
    year, number = int(month[:4]), int(month[5:])
    until = f"{year + number // 12}-{number % 12 + 1:02d}-01"
    body = {
        "accountId": account,
        "startDate": f"{month}-01T00:00:00Z",
        "endDate": f"{until}T00:00:00Z",
        "status": status,
        "lineItems": [{"description": f"Line {i + 1}", "value": v} for i, v in enumerate(values)],
    }
    return str(exact(http, "POST", "/invoices", body)["id"])


def pay(http: httpx.Client, account: str, currency: str, invoice_id: str, amount: Decimal) -> None:
    exact(
        http,
        "POST",
        "/payments",
        {
            "accountId": account,
            "currency": currency,
            "totalAmount": amount,
            "externalPaymentReference": {
                "sourceName": "bank",
                "sourceType": "BANK_TRANSFER",
                "transactionNumber": secrets.token_hex(4),
            },
            "lineItemRecords": [{"type": "INVOICE", "togaiId": invoice_id, "amount": amount, "order": 1}],
        },
    )


def all_pages(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of an API list, through its nextToken pages."""
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        answer = ok(http.get(path, params={**params, "pageSize": "50", **({"nextToken": token} if token else {})}))
        rows += answer["data"]
        token = answer.get("nextToken")
        if not token:
            return rows


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fixed_fee_plan(tenant: Tenant, name: str) -> str:
    """MONTHLY from the 1st, no grace period, a 50.00 USD platform fee in arrears."""
    sdk = Sdk(tenant)
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name=f"Platform fee {name}", type="FIXED_FEE")).id
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
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=fee, rate_values=[tc.CurrencyRateValue(currency="USD", rate=50)], enable_proration=False
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.close()
    return str(made.id)


@dataclass
class Books:
    """What `billing_books` made: the customers' ids, and every invoice as the API lists it, with its currency."""

    nw: str
    ky: str
    bulk: str
    invoices: list[dict[str, Any]]

    def finalized(self) -> list[dict[str, Any]]:
        return [i for i in self.invoices if i["status"] != "DRAFT"]

    def drafts(self) -> list[dict[str, Any]]:
        return [i for i in self.invoices if i["status"] == "DRAFT"]


def billing_books(tenant: Tenant, http: httpx.Client) -> Books:
    """Northwind (USD, on a fixed-fee plan from two months ago, billed: two invoices due weeks ago, the older one
    partly paid; a custom one paid, another partly paid; a EUR account with a custom invoice due), Kyoto Works (JPY,
    two custom invoices), Bulk Buyer (22 custom invoices due in 15 days, 3 drafts)."""
    tag = secrets.token_hex(3)
    nw, ky, bulk = f"nw-{tag}", f"ky-{tag}", f"bulk-{tag}"
    add_customer(http, nw, "Northwind", "USD")
    add_customer(http, ky, "Kyoto Works", "JPY")
    add_customer(http, bulk, "Bulk Buyer", "USD")
    ok(
        http.post(
            "/accounts", json={"customerId": nw, "id": f"{nw}-eu", "name": "Northwind EUR", "invoiceCurrency": "EUR"}
        )
    )
    plan = fixed_fee_plan(tenant, f"Platform {tag}")
    sdk = Sdk(tenant)
    sdk.accounts.update_pricing_schedule(nw, associate(plan, month_start(datetime.now(UTC), 2), OPEN))
    assert sdk.invoices.create_invoice_bill_run().success is True  # the two past months: DUE, net terms 15 days
    sdk.close()
    older = min(all_pages(http, "/invoices", owner_id=nw, status="DUE"), key=lambda i: i["invoiceDate"])
    pay(http, nw, "USD", older["id"], D("20"))
    custom_invoice(http, nw, "2024-02", "PAID", D("99.99"))
    part = custom_invoice(http, nw, "2024-05", "DUE", 80)
    pay(http, nw, "USD", part, D("30"))
    custom_invoice(http, f"{nw}-eu", "2024-05", "DUE", D("120.50"), D("0.25"))
    custom_invoice(http, ky, "2024-02", "DUE", 1234)
    custom_invoice(http, ky, "2024-03", "PAID", 500)
    for value in range(1, 23):
        custom_invoice(http, bulk, "2023-06", "DUE", value)
    for _ in range(3):
        custom_invoice(http, bulk, "2023-07", "DRAFT", D("1.25"))
    currencies = {nw: "USD", f"{nw}-eu": "EUR", ky: "JPY", bulk: "USD"}
    invoices = all_pages(http, "/invoices")
    for invoice in invoices:
        invoice["currency"] = currencies[invoice["ownerId"]]
    return Books(nw, ky, bulk, invoices)


# -- in the browser ------------------------------------------------------------------------------------------------
def column(page: Page, table: str, n: int) -> list[str]:
    """The text of the n-th cell (from 1) of every row of a table, as a person reads it."""
    return [" ".join(t.split()) for t in page.locator(f"table.{table} tbody tr td:nth-child({n})").all_inner_texts()]


def numbers(page: Page) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("table.invoices tbody tr td:first-child a").all_inner_texts()]


def number_of(invoice: dict[str, Any]) -> str:
    return invoice.get("sequenceId") or "Draft"


def heading(page: Page, name: str) -> Any:
    return page.locator("thead th").filter(has=page.get_by_role("link", name=name, exact=True))


def status_of(invoice: dict[str, Any], now: datetime) -> str:
    as_stored = type("Invoice", (), {"status": invoice["status"], "due_date": instant(invoice["dueDate"])})
    return words.invoice_status(as_stored, now).label


def test_invoices_sort_both_ways_page_with_counts_and_filter_overdue(
    any_page: Page, screen: str, org15: Tenant, operator: tuple[str, str], api: httpx.Client, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    books = billing_books(org15, api)
    finalized = books.finalized()
    assert len(finalized) == 29 and len(books.drafts()) == 4

    # By default: the finalized invoices, newest invoice date first, 25 a page; the drafts counted, not listed
    sign_in(page, *operator)
    menu(page, "Invoices")
    newest = sorted(finalized, key=lambda i: (instant(i["invoiceDate"]), i["id"]), reverse=True)
    expect(page.get_by_text("1–25 of 29 invoices")).to_be_visible()
    assert numbers(page) == [number_of(i) for i in newest[:25]]
    expect(heading(page, "Invoice date")).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_text("4 drafts (invoices still being computed) not listed")).to_be_visible()
    shot(page, f"lists-invoices-{screen}", engine)

    # Forward and back, the counts with them
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–29 of 29 invoices")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/invoices\?page=2$"))
    assert numbers(page) == [number_of(i) for i in newest[25:]]
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    shot(page, f"lists-invoices-page-2-{screen}", engine)
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("1–25 of 29 invoices")).to_be_visible()
    assert numbers(page) == [number_of(i) for i in newest[:25]]
    expect(page.get_by_role("link", name="Previous page")).to_have_count(0)

    # Sorted by total: largest first on the first click, within each currency (A to Z), then the other way
    page.get_by_role("link", name="Total", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=-total"))
    expect(heading(page, "Total")).to_have_attribute("aria-sort", "descending")
    expect(heading(page, "Invoice date")).not_to_have_attribute("aria-sort", re.compile(".*"))

    def by_total(descending: bool) -> list[str]:
        ordered = sorted(
            finalized,
            key=lambda i: (D(str(i["totalAmount"])), i["id"]),
            reverse=descending,
        )
        ordered.sort(key=lambda i: i["currency"])  # stable: currencies A to Z, each in the order above
        return [words.money(D(str(i["totalAmount"])), i["currency"]) for i in ordered]

    expect(page.get_by_text("1–25 of 29 invoices")).to_be_visible()
    assert column(page, "invoices", 8) == by_total(True)[:25]
    shot(page, f"lists-invoices-by-total-{screen}", engine)
    page.get_by_role("link", name="Total", exact=True).click()
    expect(heading(page, "Total")).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=total"))
    assert column(page, "invoices", 8) == by_total(False)[:25]
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–29 of 29 invoices")).to_be_visible()
    assert column(page, "invoices", 8) == by_total(False)[25:]
    expect(page).to_have_url(re.compile(r"sort=total&page=2"))

    # Overdue: still owed past the due date, whatever the status says; the sort kept, the status in words
    form = page.get_by_role("form", name="Filter invoices")
    form.get_by_label("Status").select_option(label="Overdue")
    before = datetime.now(UTC)
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=OVERDUE&.*sort=total$"))
    after = datetime.now(UTC)
    late = [i for i in finalized if words.overdue_days(i["status"], instant(i["dueDate"]), before)]  # zone: UTC
    late.sort(key=lambda i: (i["currency"], D(str(i["totalAmount"])), i["id"]))
    assert late, "the invoice of two months ago is due since weeks"
    count = f"1–{len(late)} of {len(late)} invoices" if len(late) > 1 else "1 of 1 invoice"
    expect(page.get_by_text(count)).to_be_visible()
    assert numbers(page) == [number_of(i) for i in late]
    shown = column(page, "invoices", 7)
    assert shown in ([status_of(i, before) for i in late], [status_of(i, after) for i in late])
    assert all("Overdue · " in s for s in shown)
    assert any(s.startswith("Partially paid · Overdue · ") for s in shown)  # the older one, partly paid
    expect(page.get_by_label("Status")).to_have_value("OVERDUE")
    shot(page, f"lists-invoices-overdue-{screen}", engine)

    # "All, drafts too": drafts, whose totals are computed live, come last when sorted by total
    form.get_by_label("Status").select_option(label="All, drafts too")
    form.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1–25 of 33 invoices")).to_be_visible()
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–33 of 33 invoices")).to_be_visible()
    assert numbers(page)[-4:] == ["Draft"] * 4
    expect(page.get_by_text("sorted by them, drafts come last")).to_be_visible()


def rows(page: Page, count: int) -> list[list[str]]:
    """The invoice table's cells as a person reads them, once it shows `count` rows."""
    body = page.locator("table.invoices tbody tr")
    expect(body).to_have_count(count)
    return [[" ".join(text.split()) for text in row.locator("td").all_inner_texts()] for row in body.all()]


def test_every_status_in_words_the_filters_and_drafts_on_demand(
    page: Page, org15: Tenant, operator: tuple[str, str], api: httpx.Client, db_url: str
) -> None:
    """27 invoices through the API, every status, USD and JPY (moved from test_console_settings.py when the list
    got its own module): the finalized ones by default, drafts on demand, each filter kept in the URL."""
    engine = engine_of(db_url)
    nw, ky, bulk = (f"{p}-{secrets.token_hex(3)}" for p in ("nw", "ky", "bulk"))
    add_customer(api, nw, "Northwind", "USD")
    add_customer(api, ky, "Kyoto Works", "JPY")
    add_customer(api, bulk, "Bulk Buyer", "USD")
    custom_invoice(api, nw, "2024-01", "DUE", 100, D("20.50"))  # INV-000001
    custom_invoice(api, nw, "2024-02", "PAID", D("99.99"))  # INV-000002
    body = {
        "accountId": nw,
        "startDate": "2024-03-01T00:00:00Z",
        "endDate": "2024-04-01T00:00:00Z",
        "status": "DRAFT",
        "lineItems": [
            {"description": "Setup", "value": 10},
            {"description": "Hours", "quantity": 2, "valuePerQuantity": D("7.255")},
        ],
    }
    exact(api, "POST", "/invoices", body)  # a draft: 10 + 14.51, computed when read
    voided = custom_invoice(api, nw, "2024-04", "DUE", 50)  # INV-000003
    custom_invoice(api, ky, "2024-02", "DUE", 1234)  # INV-000004
    lost = custom_invoice(api, ky, "2024-03", "DUE", D("499.5"))  # INV-000005, JPY 500
    part = custom_invoice(api, nw, "2024-05", "DUE", 80)  # INV-000006
    ok(api.patch(f"/invoices/{voided}", json={"status": "VOID"}))
    ok(api.patch(f"/invoices/{lost}", json={"status": "UN_COLLECTIBLE"}))
    pay(api, nw, "USD", part, D("30"))
    for _ in range(20):
        custom_invoice(api, bulk, "2023-06", "DRAFT", D("1.25"))

    sign_in(page, *operator)
    menu(page, "Invoices")
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    finalized = rows(page, 6)  # the finalized ones, newest invoice date first (net terms 15: none overdue yet)
    assert [(r[0], r[6], r[7]) for r in finalized] == [
        ("INV-000006 Custom", "Partially paid", "USD 80.00"),
        ("INV-000005 Custom", "Uncollectible", "JPY 500"),
        ("INV-000004 Custom", "Due", "JPY 1,234"),
        ("INV-000003 Custom", "Void", "USD 50.00"),
        ("INV-000002 Custom", "Paid", "USD 99.99"),
        ("INV-000001 Custom", "Due", "USD 120.50"),
    ]
    northwind, kyoto = (f"Northwind USD {nw}", "Northwind"), (f"Kyoto Works JPY {ky}", "Kyoto Works")
    assert [(r[1], r[2]) for r in finalized] == [northwind, kyoto, kyoto, northwind, northwind, northwind]
    assert [r[5] for r in finalized] == [
        "2024-05-01 to 2024-05-31",
        "2024-03-01 to 2024-03-31",
        "2024-02-01 to 2024-02-29",
        "2024-04-01 to 2024-04-30",
        "2024-02-01 to 2024-02-29",
        "2024-01-01 to 2024-01-31",
    ]
    api_dates = {i["sequenceId"]: i for i in all_pages(api, "/invoices") if i.get("sequenceId")}
    today = datetime.now(UTC).date().isoformat()
    for r in finalized:  # dated when finalized (custom invoices), due 15 days later: as the API says
        invoice = api_dates[r[0].split()[0]]
        assert (r[3], r[4]) == (invoice["invoiceDate"][:10], invoice["dueDate"][:10]) and r[3] <= today
    expect(page.get_by_text("1–6 of 6 invoices")).to_be_visible()
    expect(page.get_by_text("21 drafts (invoices still being computed) not listed")).to_be_visible()
    shot(page, "lists-invoices-finalized", engine)

    # Drafts on demand: after the finalized ones (their invoice date is their period's end), computed live
    page.get_by_role("link", name="show the drafts").click()
    expect(page).to_have_url(re.compile(r"/invoices\?status=DRAFT$"))
    drafts = rows(page, 21)
    assert drafts[0][0] == "Draft Custom" and drafts[0][7] == "USD 24.51"
    assert {(r[2], r[6], r[7]) for r in drafts[1:]} == {("Bulk Buyer", "Draft", "USD 1.25")}
    form = page.get_by_role("form", name="Filter invoices")

    def filter_by(**fields: str) -> None:
        labels = {"account": "Account ID", "customer": "Customer ID", "start": "Period from", "end": "to"}
        for name, value in fields.items():
            if name in ("status", "type"):
                form.get_by_label(name.title()).select_option(label=value)
            else:
                form.get_by_label(labels[name], exact=name == "end").fill(value)  # "to" is in "Customer"
        form.get_by_role("button", name="Filter").click()

    filter_by(status="All, drafts too")
    expect(page.get_by_text("1–25 of 27 invoices")).to_be_visible()
    assert [r[0] for r in rows(page, 25)] == [r[0] for r in finalized] + ["Draft Custom"] * 19
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–27 of 27 invoices")).to_be_visible()
    assert [r[2] for r in rows(page, 2)] == ["Bulk Buyer", "Bulk Buyer"]
    page.get_by_role("link", name="Previous page").click()
    rows(page, 25)

    # By status: what is due, in both currencies; the filter stays in the URL
    filter_by(status="Due")
    expect(page).to_have_url(re.compile(r"/invoices\?status=DUE"))
    assert [(r[0], r[6], r[7]) for r in rows(page, 2)] == [
        ("INV-000004 Custom", "Due", "JPY 1,234"),
        ("INV-000001 Custom", "Due", "USD 120.50"),
    ]
    expect(page.get_by_label("Status")).to_have_value("DUE")
    shot(page, "lists-invoices-due", engine)
    page.reload()  # the URL alone gives the same list
    rows(page, 2)

    # By account (every status), then by period, then by customer, then by type
    filter_by(status="All, drafts too", account=nw)
    assert [(r[0], r[6], r[7]) for r in rows(page, 5)] == [
        ("INV-000006 Custom", "Partially paid", "USD 80.00"),
        ("INV-000003 Custom", "Void", "USD 50.00"),
        ("INV-000002 Custom", "Paid", "USD 99.99"),
        ("INV-000001 Custom", "Due", "USD 120.50"),
        ("Draft Custom", "Draft", "USD 24.51"),
    ]
    filter_by(status="Finalized (all but drafts)", account="", start="2024-02-01", end="2024-02-29")
    assert [(r[0], r[2], r[7]) for r in rows(page, 2)] == [
        ("INV-000004 Custom", "Kyoto Works", "JPY 1,234"),
        ("INV-000002 Custom", "Northwind", "USD 99.99"),
    ]
    filter_by(start="", end="", customer=ky)
    assert [r[0] for r in rows(page, 2)] == ["INV-000005 Custom", "INV-000004 Custom"]
    filter_by(customer="", type="In advance")
    expect(page.get_by_text("No invoice matches these filters.")).to_be_visible()
    shot(page, "lists-invoices-none", engine)

    # A day that is not one is shown in words next to its field (400)
    page.goto("/invoices?start=2024-02-30")
    expect(page.get_by_text("From: pick a day from the calendar (YYYY-MM-DD), not '2024-02-30'")).to_be_visible()

    # Open one: the invoice's own page
    page.goto(f"/invoices?account={nw}&status=PARTIALLY_PAID")
    page.get_by_role("link", name="INV-000006").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("INV-000006")
    expect(page.get_by_role("row", name="Total USD 80.00")).to_be_visible()
    expect(page.get_by_role("row", name="Paid USD 30.00")).to_be_visible()
    shot(page, "lists-invoices-open", engine)


def test_customers_sort_both_ways_page_with_counts_and_search(
    any_page: Page, screen: str, tenant: Tenant, person: tuple[str, str], db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    names = [
        "Zephyr Labs", "acme robotics", "Borealis", "Cedar & Pine", "delta Dental", "Evergreen", "Foxglove",
        "Granite Payments", "Harbor & Co", "Ion Mobility", "Juniper", "Kestrel", "Lumen", "Maple Freight",
        "Nimbus", "Orchid Health", "Pioneer", "Quartz", "Redwood", "Summit", "Tundra", "Umber", "Vantage",
        "Willow", "Xylem", "Yarrow", "Alder Analytics",
    ]  # fmt: skip
    with tenant.http() as http:
        for i, name in enumerate(names):
            add_customer(http, f"cust-{(i * 7) % 27:02d}", name)
        listed = all_pages(http, "/customers")  # in the order they were made
    assert [c["name"] for c in listed] == names
    by_name = [c["name"] for c in sorted(listed, key=lambda c: (c["name"].lower(), c["id"]))]

    sign_in(page, *person)
    menu(page, "Customers")
    expect(page.get_by_text("1–25 of 27 customers")).to_be_visible()
    assert column(page, "customers", 1) == by_name[:25]  # A to Z, whatever the case
    expect(heading(page, "Name")).to_have_attribute("aria-sort", "ascending")
    shot(page, f"lists-customers-{screen}", engine)

    page.get_by_role("link", name="Name", exact=True).click()  # the other way
    expect(heading(page, "Name")).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"/customers\?sort=-name$"))
    assert column(page, "customers", 1) == by_name[::-1][:25]
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–27 of 27 customers")).to_be_visible()
    assert column(page, "customers", 1) == by_name[::-1][25:]
    shot(page, f"lists-customers-page-2-{screen}", engine)
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("1–25 of 27 customers")).to_be_visible()
    assert column(page, "customers", 1) == by_name[::-1][:25]

    page.get_by_role("link", name="Customer ID", exact=True).click()  # ids A to Z
    expect(heading(page, "Customer ID")).to_have_attribute("aria-sort", "ascending")
    assert column(page, "customers", 2) == sorted(c["id"] for c in listed)[:25]
    page.get_by_role("link", name="Created", exact=True).click()  # newest first
    expect(heading(page, "Created")).to_have_attribute("aria-sort", "descending")
    assert column(page, "customers", 1) == names[::-1][:25]

    # A search keeps the sort; its count is of what it found
    page.get_by_placeholder("Search by name, id or email").fill("&")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=%26&sort=-created"))
    expect(page.get_by_text("1–2 of 2 customers")).to_be_visible()
    assert column(page, "customers", 1) == ["Harbor & Co", "Cedar & Pine"]
    expect(heading(page, "Created")).to_have_attribute("aria-sort", "descending")
    shot(page, f"lists-customers-search-{screen}", engine)


def test_customer_page_shows_balance_and_recent_invoices(
    any_page: Page, screen: str, org15: Tenant, operator: tuple[str, str], api: httpx.Client, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    books = billing_books(org15, api)
    exact(api, "POST", f"/accounts/{books.nw}/wallet_topup", {"topupAmount": D("250")})
    exact(
        api,
        "POST",
        "/credits",
        {
            "creditRequests": [
                {
                    "accountId": f"{books.nw}-eu",
                    "purpose": "Migration credit",
                    "effectiveFrom": datetime.now(UTC).date().isoformat(),
                    "creditAmount": D("40"),
                    "priority": 1,
                }
            ]
        },
    )
    mine = [i for i in all_pages(api, "/invoices", customer_id=books.nw)]
    wallet = ok(api.get(f"/accounts/{books.nw}/wallet"))
    credits = ok(api.get(f"/accounts/{books.nw}-eu/credit_balance"))

    sign_in(page, *operator)
    menu(page, "Customers")
    page.get_by_role("link", name="Northwind", exact=True).click()
    expect(page.get_by_role("heading", name="Northwind", level=1)).to_be_visible()
    before = datetime.now(UTC)

    # Balance: what is still owed per currency (the open invoices' amount due), of it what is overdue
    owed: dict[str, Decimal] = {}
    late: dict[str, Decimal] = {}
    for i in mine:
        if i["status"] in ("DUE", "PARTIALLY_PAID"):
            currency = "EUR" if i["ownerId"].endswith("-eu") else "USD"
            due = D(str(i["totalAmount"])) - D(str(i["paidAmount"]))
            owed[currency] = owed.get(currency, D(0)) + due
            if words.overdue_days(i["status"], instant(i["dueDate"]), before):  # past its due day
                late[currency] = late.get(currency, D(0)) + due

    def figure(name: str) -> list[str]:
        box = page.locator("dl.balance > div").filter(has=page.locator("dt", has_text=name))
        return [" ".join(t.split()) for t in box.locator("dd:not(.hint)").all_inner_texts()]

    assert figure("Outstanding") == [words.money(owed[c], c) for c in sorted(owed)]
    assert figure("Overdue") == [words.money(late[c], c) for c in sorted(late)]
    assert figure("Wallet") == [words.money(D(str(wallet["balance"])), "USD")]
    expect(page.get_by_text(f"{words.money(D(str(wallet['holdAmount'])), 'USD')} on hold for drafts")).to_be_visible()
    assert D(str(wallet["holdAmount"])) == D("50")  # the ongoing month's fee: the draft holds it
    assert figure("Credits") == [words.money(D(str(credits["availableBalance"])), "EUR")]
    assert D(str(credits["availableBalance"])) == D("40")
    shot(page, f"lists-customer-{screen}", engine)

    # Its five latest finalized invoices, newest first, statuses in words with overdue, and a link to all of them
    finalized = sorted(
        (i for i in mine if i["status"] != "DRAFT"), key=lambda i: (instant(i["invoiceDate"]), i["id"]), reverse=True
    )
    after = datetime.now(UTC)
    assert column(page, "recent", 1) == [number_of(i) for i in finalized[:5]]
    shown = column(page, "recent", 5)
    assert shown in ([status_of(i, before) for i in finalized[:5]], [status_of(i, after) for i in finalized[:5]])
    assert column(page, "recent", 6) == [
        words.money(D(str(i["totalAmount"])), "EUR" if i["ownerId"].endswith("-eu") else "USD") for i in finalized[:5]
    ]
    drafts = len([i for i in mine if i["status"] == "DRAFT"])
    expect(page.get_by_role("link", name=f"{drafts} draft in progress")).to_be_visible()
    page.get_by_role("link", name=f"All {len(finalized)} invoices of Northwind").click()
    expect(page).to_have_url(re.compile(rf"/invoices\?customer={books.nw}$"))
    expect(page.get_by_text(f"1–{len(finalized)} of {len(finalized)} invoices")).to_be_visible()
    assert numbers(page) == [number_of(i) for i in finalized]
    shot(page, f"lists-customer-invoices-{screen}", engine)


def test_plans_meters_schemas_and_events_page_with_counts(
    any_page: Page, screen: str, tenant: Tenant, person: tuple[str, str], db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    with tenant.http() as http:
        for i in range(27):
            schema = {"name": f"schema {(i * 5) % 27:02d}", "attributes": [{"name": "n"}], "dimensions": []}
            ok(http.post("/event_schema", json=schema))
        ok(http.post("/event_schema/schema 00/activate"))
        for name in ("meter b", "Meter a", "meter c"):
            ok(
                http.post(
                    "/usage_meters",
                    json={"name": name, "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": "schema 00"},
                )
            )
        at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        events = [
            {
                "id": f"e{i:02d}",
                "schemaName": "schema 00",
                "accountId": "nobody",
                "timestamp": at,
                "attributes": [{"name": "n", "value": "1"}],
                "dimensions": {},
            }
            for i in range(30)
        ]
        assert http.post("/ingestBatch", json={"events": events}).status_code in (200, 207)
    sign_in(page, *person)

    # Event schemas: by name, 25 a page, both ways
    menu(page, "Event Schemas")
    expect(page.get_by_text("1–25 of 27 event schemas")).to_be_visible()
    schema_names = [f"schema {i:02d}" for i in range(27)]
    assert [n.split("\n")[0] for n in column(page, "schemas", 1)] == schema_names[:25]
    page.get_by_role("link", name="Name", exact=True).click()
    expect(heading(page, "Name")).to_have_attribute("aria-sort", "descending")
    assert [n.split(" ")[0] + " " + n.split(" ")[1] for n in column(page, "schemas", 1)] == schema_names[::-1][:25]
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–27 of 27 event schemas")).to_be_visible()
    shot(page, f"lists-schemas-page-2-{screen}", engine)
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("1–25 of 27 event schemas")).to_be_visible()

    # Usage meters: by name (any case) and by creation, each both ways
    menu(page, "Usage Meters")
    expect(page.get_by_text("1–3 of 3 usage meters")).to_be_visible()
    assert [n.split(" um.")[0] for n in column(page, "meters", 1)] == ["Meter a", "meter b", "meter c"]
    page.get_by_role("link", name="Created", exact=True).click()
    expect(heading(page, "Created")).to_have_attribute("aria-sort", "descending")
    assert [n.split(" um.")[0] for n in column(page, "meters", 1)] == ["meter c", "Meter a", "meter b"]
    page.get_by_role("link", name="Created", exact=True).click()
    expect(heading(page, "Created")).to_have_attribute("aria-sort", "ascending")
    assert [n.split(" um.")[0] for n in column(page, "meters", 1)] == ["meter b", "Meter a", "meter c"]
    shot(page, f"lists-meters-{screen}", engine)

    # Events: newest received first, counted, forward and back (the failed ones too: nobody's account)
    menu(page, "Events")
    expect(page.get_by_text("1–25 of 30 events")).to_be_visible()
    assert column(page, "events", 1) == [f"e{i:02d}" for i in range(29, 4, -1)]
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("26–30 of 30 events")).to_be_visible()
    assert column(page, "events", 1) == [f"e{i:02d}" for i in range(4, -1, -1)]
    shot(page, f"lists-events-page-2-{screen}", engine)
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("1–25 of 30 events")).to_be_visible()

    # Price plans: counted, by name both ways
    for i in range(3):
        Sdk(tenant).price_plans.create_price_plan(
            tc.CreatePricePlanRequest(
                name=f"Plan {'cab'[i]}",
                price_plan_details=tc.CreatePricePlanDetails(
                    supported_currencies=["USD"],
                    pricing_cycle_config=tc.PricingCycleConfig(
                        interval="MONTHLY",
                        start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                        grace_period=0,
                    ),
                ),
            )
        )
    menu(page, "Price Plans")
    expect(page.get_by_text("1–3 of 3 price plans")).to_be_visible()
    assert [n.split(" ")[1] for n in column(page, "plans", 1)] == ["a", "b", "c"]
    page.get_by_role("link", name="Name", exact=True).click()
    expect(heading(page, "Name")).to_have_attribute("aria-sort", "descending")
    assert [n.split(" ")[1] for n in column(page, "plans", 1)] == ["c", "b", "a"]
    shot(page, f"lists-plans-{screen}", engine)


@pytest.mark.parametrize(
    "path",
    ["/customers", "/invoices", "/price-plans", "/usage-meters", "/event-schemas", "/features", "/events"],
)
def test_a_sort_or_page_that_is_not_one_is_a_400_page_in_words(
    tenant: Tenant, person: tuple[str, str], path: str
) -> None:
    with httpx.Client(base_url=tenant.base_url, timeout=30) as web:
        http_sign_in(web, *person)
        for query, said in [
            ("sort=bogus", "Sort: &#39;bogus&#39; is not a column of this list"),
            ("sort=-", "Sort: &#39;-&#39; is not a column of this list"),
            ("page=0", "Page: &#39;0&#39; is not a page number; pages are numbered 1, 2, 3…"),
            ("page=x", "Page: &#39;x&#39; is not a page number"),
            ("page=1e3", "Page: &#39;1e3&#39; is not a page number"),
            (f"page={10**30}", "Page: at most 100,000; narrow the list with its filters instead"),
        ]:
            answer = web.get(f"{path}?{query}")
            assert (answer.status_code, said in answer.text) == (400, True), (path, query, answer.text[-800:])
            assert 'role="alert"' in answer.text
        gone = web.get(f"{path}?page=7")  # past the end of a short list: no rows, a way back
        assert gone.status_code == 200 and "There is no page 7" in gone.text
        assert web.get(f"{path}?page=1").status_code == 200
        assert web.get(path, params={"sort": "名前"}).status_code == 400
