"""What browser tests do again and again: sign in, open a tab, save a screenshot (test-results/console/)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "console"


def engine_of(db_url: str) -> str:
    """'sqlite' or 'postgresql': names screenshots per engine."""
    return db_url.split(":", 1)[0].split("+")[0]


def shot(page: Page, name: str, engine: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{engine}.png"), full_page=True)


def fits(page: Page) -> None:
    """Nothing is wider than the screen: no column cut off, no page that scrolls sideways (tables scroll inside
    their own box)."""
    wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 1, f"the page is {wide} px wider than the screen"


def tab(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Account").get_by_role("link", name=name).click()


def menu(page: Page, name: str) -> None:
    """Open a section from the side menu."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def http_sign_in(client: httpx.Client, email: str, password: str, next: str = "/customers") -> httpx.Response:
    """Sign in over plain HTTP as a browser does: the sign-in form first (its pre-session cookie and token), then
    the post."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    data = {"email": email, "password": password, "next": next, **({"csrf": token[1]} if token else {})}
    return client.post("/login", data=data)


def server_judges(page: Page, submit: Locator) -> None:
    """Turn the browser's own form checks off so the server judges what was typed. `submit` is the button the test
    presses next: waiting for it first means the page that holds the form has arrived (a click that opens a page
    returns before the page does)."""
    expect(submit).to_be_visible()
    page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")
