"""The Invoices list and Settings in real headless Chromium, against a live server on both engines (docs/console.md).

Invoices are made through the API (custom invoices, status changes and a payment give every status); the filters,
the paging, an API key's life and a new user's first sign-in are done in the browser, as a person would. A
screenshot of every page is written to `test-results/console/`.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import httpx
import simplejson
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.tenancy.repository import TenancyRepository
from tests.conftest import Tenant
from tests.console.browsing import engine_of, http_sign_in, menu, shot, sign_in


def _ok(response: httpx.Response) -> dict:
    assert response.status_code < 300, response.text
    return response.json()


def _customer(http: httpx.Client, cid: str, name: str, currency: str) -> None:
    _ok(
        http.post(
            "/customers",
            json={
                "id": cid,
                "name": name,
                "primaryEmail": f"billing@{cid}.test",
                "address": {},
                "account": {"id": cid, "name": f"{name} {currency}", "invoiceCurrency": currency},
            },
        )
    )


def _invoice(http: httpx.Client, account: str, month: str, status: str, *lines: dict) -> str:
    year, number = int(month[:4]), int(month[5:])
    until = f"{year + number // 12}-{number % 12 + 1:02d}-01"
    body = {
        "accountId": account,
        "startDate": f"{month}-01T00:00:00Z",
        "endDate": f"{until}T00:00:00Z",
        "status": status,
        "lineItems": list(lines),
    }
    # exact amounts: Decimals written as JSON numbers from their own digits
    return str(
        _ok(
            http.post(
                "/invoices",
                content=simplejson.dumps(body, use_decimal=True),
                headers={"Content-Type": "application/json"},
            )
        )["id"]
    )


def _rows(page: Page, count: int) -> list[list[str]]:
    """The invoice table's cells as a person reads them, once it shows `count` rows."""
    body = page.locator("table.invoices tbody tr")
    expect(body).to_have_count(count)
    return [[" ".join(text.split()) for text in row.locator("td").all_inner_texts()] for row in body.all()]


def _filter(page: Page, **fields: str) -> None:
    form = page.get_by_role("form", name="Filter invoices")
    for label, value in fields.items():
        label = {
            "status": "Status",
            "type": "Type",
            "account": "Account ID",
            "customer": "Customer ID",
            "start": "Period from",
            "end": "to",
        }[label]
        target = form.get_by_label(label, exact=label == "to")  # "to" is in "Customer"
        if label in ("Status", "Type"):
            target.select_option(label=value)
        else:
            target.fill(value)
    form.get_by_role("button", name="Filter").click()


def test_the_invoice_list_filters_pages_and_opens_invoices(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    nw, ky, bulk = (f"{p}-{secrets.token_hex(3)}" for p in ("nw", "ky", "bulk"))
    with tenant.http() as http:
        _customer(http, nw, "Northwind", "USD")
        _customer(http, ky, "Kyoto Works", "JPY")
        _customer(http, bulk, "Bulk Buyer", "USD")
        _invoice(
            http,
            nw,
            "2024-01",
            "DUE",
            {"description": "Platform", "value": 100},
            {"description": "Support", "value": Decimal("20.50")},
        )  # INV-000001
        _invoice(http, nw, "2024-02", "PAID", {"description": "Platform", "value": Decimal("99.99")})  # INV-000002
        _invoice(
            http,
            nw,
            "2024-03",
            "DRAFT",
            {"description": "Setup", "value": 10},
            {"description": "Hours", "quantity": 2, "valuePerQuantity": Decimal("7.255")},
        )  # 10 + 14.51
        voided = _invoice(http, nw, "2024-04", "DUE", {"description": "Platform", "value": 50})  # INV-000003
        _invoice(http, ky, "2024-02", "DUE", {"description": "Calls", "value": 1234})  # INV-000004
        lost = _invoice(http, ky, "2024-03", "DUE", {"description": "Calls", "value": Decimal("499.5")})  # INV-000005
        part = _invoice(http, nw, "2024-05", "DUE", {"description": "Platform", "value": 80})  # INV-000006
        _ok(http.patch(f"/invoices/{voided}", json={"status": "VOID"}))
        _ok(http.patch(f"/invoices/{lost}", json={"status": "UN_COLLECTIBLE"}))
        _ok(
            http.post(
                "/payments",
                json={
                    "accountId": nw,
                    "currency": "USD",
                    "totalAmount": 30,
                    "externalPaymentReference": {
                        "sourceName": "bank",
                        "sourceType": "BANK_TRANSFER",
                        "transactionNumber": "t1",
                    },
                    "lineItemRecords": [{"type": "INVOICE", "togaiId": part, "amount": 30, "order": 1}],
                },
            )
        )
        for _ in range(20):  # 27 invoices in all: a second page
            _invoice(http, bulk, "2023-06", "DRAFT", {"description": "Seat", "value": Decimal("1.25")})

    sign_in(page, *person)
    menu(page, "Invoices")
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    bulk_row = ["Draft Custom", f"Bulk Buyer USD {bulk}", "Bulk Buyer", "2023-06-01 to 2023-06-30", "Draft", "USD 1.25"]
    first = _rows(page, 25)  # newest first, 25 a page; drafts computed live
    assert first[:20] == [bulk_row] * 20
    assert first[20:] == [
        [
            "INV-000006 Custom",
            f"Northwind USD {nw}",
            "Northwind",
            "2024-05-01 to 2024-05-31",
            "Partially paid",
            "USD 80.00",
        ],
        [
            "INV-000005 Custom",
            f"Kyoto Works JPY {ky}",
            "Kyoto Works",
            "2024-03-01 to 2024-03-31",
            "Uncollectible",
            "JPY 500",
        ],
        ["INV-000004 Custom", f"Kyoto Works JPY {ky}", "Kyoto Works", "2024-02-01 to 2024-02-29", "Due", "JPY 1,234"],
        ["INV-000003 Custom", f"Northwind USD {nw}", "Northwind", "2024-04-01 to 2024-04-30", "Void", "USD 50.00"],
        ["Draft Custom", f"Northwind USD {nw}", "Northwind", "2024-03-01 to 2024-03-31", "Draft", "USD 24.51"],
    ]
    shot(page, "invoices", engine)
    page.get_by_role("link", name="Older invoices").click()
    assert _rows(page, 2) == [
        ["INV-000002 Custom", f"Northwind USD {nw}", "Northwind", "2024-02-01 to 2024-02-29", "Paid", "USD 99.99"],
        ["INV-000001 Custom", f"Northwind USD {nw}", "Northwind", "2024-01-01 to 2024-01-31", "Due", "USD 120.50"],
    ]
    expect(page.get_by_role("link", name="Older invoices")).to_have_count(0)
    page.get_by_role("link", name="Newest invoices").click()
    _rows(page, 25)

    # By status: what is due, in both currencies; the filter stays in the URL
    _filter(page, status="Due")
    expect(page).to_have_url(re.compile(r"/invoices\?.*status=DUE"))
    assert [(r[0], r[4], r[5]) for r in _rows(page, 2)] == [
        ("INV-000004 Custom", "Due", "JPY 1,234"),
        ("INV-000001 Custom", "Due", "USD 120.50"),
    ]
    expect(page.get_by_label("Status")).to_have_value("DUE")
    shot(page, "invoices-due", engine)
    page.reload()  # the URL alone gives the same list
    assert len(_rows(page, 2)) == 2

    # By account (every status), then by period, then by customer
    _filter(page, status="All statuses", account=nw)
    assert [(r[0], r[4], r[5]) for r in _rows(page, 5)] == [
        ("INV-000006 Custom", "Partially paid", "USD 80.00"),
        ("INV-000003 Custom", "Void", "USD 50.00"),
        ("Draft Custom", "Draft", "USD 24.51"),
        ("INV-000002 Custom", "Paid", "USD 99.99"),
        ("INV-000001 Custom", "Due", "USD 120.50"),
    ]
    _filter(page, account="", start="2024-02-01", end="2024-02-29")
    assert [(r[0], r[2], r[5]) for r in _rows(page, 2)] == [
        ("INV-000004 Custom", "Kyoto Works", "JPY 1,234"),
        ("INV-000002 Custom", "Northwind", "USD 99.99"),
    ]
    _filter(page, start="", end="", customer=ky)
    assert [r[0] for r in _rows(page, 2)] == ["INV-000005 Custom", "INV-000004 Custom"]
    _filter(page, customer="", type="In advance")
    expect(page.get_by_text("No invoice matches these filters.")).to_be_visible()
    shot(page, "invoices-none", engine)

    # A day that is not one is shown in words next to its field
    page.goto("/invoices?start=2024-02-30")
    expect(page.get_by_text("From: pick a day from the calendar (YYYY-MM-DD), not '2024-02-30'")).to_be_visible()

    # Open one: the invoice's own page
    page.goto(f"/invoices?account={nw}&status=PARTIALLY_PAID")
    page.get_by_role("link", name="INV-000006").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("INV-000006")
    expect(page.get_by_role("row", name="Total USD 80.00")).to_be_visible()
    expect(page.get_by_role("row", name="Paid USD 30.00")).to_be_visible()
    shot(page, "invoices-open", engine)


def test_an_api_key_is_created_used_and_revoked_in_the_browser(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    name = f"ingest-{secrets.token_hex(3)}"
    sign_in(page, *person)
    menu(page, "Settings")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("cell", name="tests", exact=True)).to_be_visible()  # the tenant's own key
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_text("Copy it now: it won't be shown again.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/once$"))  # post-redirect-get: the secret is not the POST's answer
    secret = page.get_by_label("New API key").input_value()
    assert re.fullmatch(r"mlk_[0-9a-f]{12}_[\w-]+", secret)
    prefix = secret.split("_")[1]
    shot(page, "settings-api-key-once", engine)
    page.reload()  # a reload neither shows the secret again nor makes a second key
    expect(page.get_by_role("heading", name="Shown already")).to_be_visible()
    assert secret not in page.content()
    page.go_back()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(1)
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(f"mlk_{prefix}_…")
    expect(row).to_contain_text("Active")
    shot(page, "settings-api-key-created", engine)

    api = f"{tenant.base_url}/api/customers"
    answer = httpx.get(api, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.json()["data"] == [], answer.text

    # Shown once: the list never shows it again
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API keys").click()
    expect(page.get_by_text("Copy it now")).to_have_count(0)
    assert secret not in page.content()

    # Revoke it (a confirmation page first), and the API refuses it
    page.get_by_role("link", name=f"Revoke {name}").click()
    expect(page.get_by_role("heading", name=f"Revoke the API key “{name}”?")).to_be_visible()
    shot(page, "settings-api-key-revoke", engine)
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_have_text(f"The API key “{name}” is revoked: requests with it now get 401.")
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Revoked")
    expect(page.get_by_role("link", name=f"Revoke {name}")).to_have_count(0)
    shot(page, "settings-api-keys", engine)
    refused = httpx.get(api, headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401 and refused.json() == {"message": "The API key has been revoked"}
    with tenant.http() as http:  # the other key still works
        assert http.get("/customers").status_code == 200


def test_users_are_added_sign_in_and_are_removed(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    engine = engine_of(db_url)
    email = f"dana-{secrets.token_hex(3)}@example.test"
    sign_in(page, *person)
    menu(page, "Settings")

    # Organization: its facts, a setting refused in words then saved (re-read through the API)
    expect(page.get_by_text(tenant.org.id)).to_be_visible()
    expect(page.get_by_text("INV-000001, INV-000002, …")).to_be_visible()
    page.get_by_label("Namespace").fill("billing")
    page.get_by_label("Setting ID").fill("tax_rate")
    page.get_by_label("Type").select_option("NUMERIC")
    page.locator('form[action="/settings/values"]').get_by_label("Value").fill("nineteen")
    page.get_by_role("button", name="Add setting").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Setting tax_rate: a NUMERIC value must be a decimal number, got 'nineteen'"
    )
    expect(page.get_by_label("Setting ID")).to_have_value("tax_rate")
    page.locator('form[action="/settings/values"]').get_by_label("Value").fill("0.19")
    page.get_by_role("button", name="Add setting").click()
    expect(page.get_by_role("status")).to_have_text("Setting tax_rate is added.")
    page.get_by_label("Value of tax_rate").fill("0.2")
    page.get_by_role("row").filter(has_text="tax_rate").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Setting tax_rate is saved.")
    page.locator('form[action="/settings/organization"]').get_by_label("Name").fill("Northwind Billing GmbH")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status")).to_have_text("The organization's name is saved.")
    shot(page, "settings-organization", engine)
    with tenant.http() as http:
        [setting] = _ok(http.get("/settings", params={"entity_type": "ORGANIZATION"}))["data"]
    assert (setting["id"], setting["namespace"], setting["dataType"], setting["value"]) == (
        "tax_rate",
        "billing",
        "NUMERIC",
        "0.2",
    )

    # Users: a mistake first, shown next to its field with what was typed kept
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    expect(page.get_by_role("row").filter(has_text=person[0])).to_contain_text("(you)")
    expect(page.get_by_role("link", name=f"Remove {person[0]}")).to_have_count(0)  # nobody removes themselves
    page.get_by_label("Email").fill("dana-at-example")
    page.get_by_label("Name").fill("Dana Scully")
    page.get_by_label("Role").select_option("MEMBER")
    page.evaluate("document.querySelector('form[action=\"/settings/users\"]').noValidate = true")  # the server judges
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("'dana-at-example' is not an email address")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Dana Scully")
    shot(page, "settings-users-error", engine)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Add user").click()  # no password typed: one is made and shown once
    expect(page.get_by_text("Copy it now: it won't be shown again.")).to_be_visible()
    password = page.get_by_label("New password").input_value()
    assert len(password) >= 16
    page.get_by_role("link", name="I have copied it").click()
    expect(page.get_by_role("row").filter(has_text=email)).to_contain_text("Dana Scully")
    shot(page, "settings-user-added", engine)
    with unit_of_work(session_factory, write=False) as s:
        added = TenancyRepository(s).user_by_email(email)
        assert added is not None and (added.name, added.role, added.org_id) == ("Dana Scully", "MEMBER", tenant.org.id)

    # Dana signs in: a member reads the settings but cannot change them
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, email, password)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(email)  # signed in as Dana
    menu(page, "Settings")
    expect(page.get_by_text("Northwind Billing GmbH")).to_be_visible()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API keys").click()
    expect(page.get_by_text("You are a member")).to_be_visible()
    expect(page.get_by_role("button", name="Create API key")).to_have_count(0)
    expect(page.get_by_role("link", name="Revoke tests")).to_have_count(0)
    shot(page, "settings-member", engine)
    with httpx.Client(base_url=tenant.base_url) as client:  # posting the form anyway is refused
        http_sign_in(client, email, password)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings").text).group(1)  # type: ignore[union-attr]
        refused = client.post("/settings/api-keys", data={"csrf": csrf, "name": "sneaky"})
        assert refused.status_code == 403 and "Only an admin can create API keys" in refused.text

    # The admin removes Dana (after a confirmation): her session ends and she cannot sign in again
    dana = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, *person)
    menu(page, "Settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    page.get_by_role("link", name=f"Remove {email}").click()
    expect(page.get_by_role("heading", name=f"Remove {email}?")).to_be_visible()
    shot(page, "settings-user-remove", engine)
    page.get_by_role("button", name="Remove user").click()
    expect(page.get_by_role("status")).to_have_text(f"{email} is removed.")
    expect(page.get_by_role("row").filter(has_text=email)).to_have_count(0)
    shot(page, "settings-users", engine)
    with httpx.Client(base_url=tenant.base_url, cookies={c["name"]: c["value"] for c in dana}) as client:
        assert client.get("/settings").status_code == 303  # her old session is gone: to /login
    with httpx.Client(base_url=tenant.base_url) as client:  # and nobody removes themselves, even by posting
        http_sign_in(client, person[0], person[1])
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings").text).group(1)  # type: ignore[union-attr]
        with unit_of_work(session_factory, write=False) as s:
            me = TenancyRepository(s).user_by_email(person[0]).id  # type: ignore[union-attr]
        refused = client.post(f"/settings/users/{me}/remove", data={"csrf": csrf})
        assert refused.status_code == 400 and "You cannot remove yourself" in refused.text
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
