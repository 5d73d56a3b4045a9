"""The console in real headless Chromium (Debian's, driven by Playwright), against a live server on both engines.
Each step is a person's: sign in, create a customer, find it, open it. A screenshot of every page is written to
`test-results/console/` (docs/console.md)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.conftest import Tenant

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "console"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def person(session_factory: sessionmaker[Session], tenant: Tenant) -> tuple[str, str]:
    """A console user of the tenant's organization: (email, password)."""
    email, password = f"ops-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        service.create_user(org=service.organization(tenant.org.id), email=email, password=password, now=utc_now(),
                            name="Ops")
    return email, password


@pytest.fixture
def page(browser: Browser, tenant: Tenant) -> Iterator[Page]:
    context = browser.new_context(base_url=tenant.base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, name: str, engine: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{engine}.png"), full_page=True)


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_create_a_customer_find_it_open_it(page: Page, person: tuple[str, str], db_url: str) -> None:
    engine = db_url.split(":", 1)[0].split("+")[0]
    email, password = person
    # A wrong password says so, in words
    page.goto("/login")
    shot(page, "login", engine)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")

    sign_in(page, email, password)
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    expect(page.get_by_text("No customers yet")).to_be_visible()
    shot(page, "customers-empty", engine)

    # + New Customer: a mistake is shown next to its field, and what was typed stays
    page.get_by_role("link", name="+ New Customer").first.click()
    page.get_by_label("Customer Name").fill("Zed Industries")
    page.get_by_label("Email ID").fill("not-an-email")
    page.get_by_label("Customer ID").fill("zed")
    page.evaluate("document.querySelector('form.card').noValidate = true")  # let the server judge
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_text("Enter an email address")).to_be_visible()
    expect(page.get_by_label("Customer Name")).to_have_value("Zed Industries")
    shot(page, "customer-new-error", engine)
    page.get_by_label("Email ID").fill("billing@zed.test")
    page.get_by_label("City").fill("Zürich")
    page.get_by_role("button", name="Add Customer").click()

    # The customer's page, with its default account
    expect(page.get_by_role("heading", name="Zed Industries")).to_be_visible()
    expect(page.get_by_role("cell", name="zed", exact=True)).to_be_visible()
    expect(page.get_by_text("Zürich")).to_be_visible()
    shot(page, "customer", engine)

    # The list finds it by search
    page.get_by_role("link", name="Customers").first.click()
    page.get_by_placeholder("Search by name, id or email").fill("zed ind")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Zed Industries")).to_be_visible()
    page.get_by_placeholder("Search by name, id or email").fill("nobody-like-this")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text('No customer matches "nobody-like-this".')).to_be_visible()
    shot(page, "customers", engine)

    # A duplicate id is refused with the service's message
    page.goto("/customers/new")
    page.get_by_label("Customer Name").fill("Zed Again")
    page.get_by_label("Email ID").fill("again@zed.test")
    page.get_by_label("Customer ID").fill("zed")
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_role("alert")).to_contain_text("zed")

    # Sign out: the console asks to sign in again
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Meterline")).to_be_visible()
    page.goto("/customers")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_phone_screen_keeps_the_menu_and_the_list(page: Page, person: tuple[str, str], db_url: str) -> None:
    engine = db_url.split(":", 1)[0].split("+")[0]
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, *person)
    expect(page.get_by_role("link", name="Customers").first).to_be_visible()
    expect(page.get_by_role("link", name="+ New Customer").first).to_be_visible()
    shot(page, "customers-phone", engine)


def test_forms_need_the_session_token(tenant: Tenant, person: tuple[str, str]) -> None:
    """CSRF: a form posted without the session's token is refused, even with the session cookie."""
    import httpx

    with httpx.Client(base_url=tenant.base_url) as client:
        client.post("/login", data={"email": person[0], "password": person[1]})
        assert "meterline_session" in client.cookies
        r = client.post("/customers/new", data={"name": "Evil", "email": "e@evil.test", "id": "evil", "csrf": "x"})
        assert r.status_code == 403 and "expired" in r.text
        assert "HttpOnly" in client.get("/login").headers.get("set-cookie", "HttpOnly")
