"""Settings in real headless Chromium, against a live server on both engines (docs/console.md): an API key's life,
the organization's settings and a new user's first sign-in, done in the browser as a person would. A screenshot of
every page is written to `test-results/console/`. (The Invoices list's tests are in test_console_lists.py.)
"""

from __future__ import annotations

import re
import secrets

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.tenancy.repository import TenancyRepository
from tests.conftest import Tenant, refused_within
from tests.console.browsing import engine_of, http_sign_in, menu, server_judges, shot, sign_in


def _ok(response: httpx.Response) -> dict:
    assert response.status_code < 300, response.text
    return response.json()


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
    page.wait_for_load_state()  # the same tab again: wait for the new document, then read it whole
    assert secret not in page.content()

    # Revoke it (a confirmation page first), and the API refuses it
    page.get_by_role("link", name=f"Revoke {name}").click()
    expect(page.get_by_role("heading", name=f"Revoke the API key “{name}”?")).to_be_visible()
    shot(page, "settings-api-key-revoke", engine)
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_have_text(
        f"The API key “{name}” is revoked: requests with it get 401 within a second, in every process."
    )
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Revoked")
    expect(page.get_by_role("link", name=f"Revoke {name}")).to_have_count(0)
    shot(page, "settings-api-keys", engine)
    # (a server remembers a verified key for at most 0.5 s: refused within a second, tenancy/key_cache.py)
    refused = refused_within(lambda: httpx.get(api, headers={"Authorization": f"Bearer {secret}"}))
    assert refused.json() == {"message": "The API key has been revoked"}
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
    server_judges(page, page.get_by_role("button", name="Add user"))
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
