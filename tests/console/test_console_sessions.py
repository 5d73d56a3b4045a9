"""Console sessions against live servers on both engines (issue 14, defect 6): a session ends for good at sign-out,
a password change and the user's removal; failed sign-ins are throttled, in the database, so that two server
processes agree; the sign-in form refuses cross-site posts; every answer carries the security headers, which the
console's pages and the Swagger UI satisfy in Chromium; a 405 names every method of its path."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.repository import TenancyRepository
from meterline.tenancy.service import TenancyService
from tests.conftest import Tenant, start_server, stop_server
from tests.console.browsing import http_sign_in, menu, sign_in

SECURITY_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


def _csrf(client: httpx.Client, path: str = "/customers/new") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found[1]


def _create_customer(client: httpx.Client, csrf: str, customer_id: str) -> httpx.Response:
    return client.post(
        "/customers/new", data={"csrf": csrf, "name": "Mallory", "email": "m@evil.test", "id": customer_id}
    )


def _exists(tenant: Tenant, customer_id: str) -> bool:
    with tenant.http() as api:
        return api.get(f"/customers/{customer_id}").status_code == 200


def _assert_ended(tenant: Tenant, cookies: dict[str, str], csrf: str) -> None:
    """A session captured earlier: its pages send to /login, and its CSRF token creates nothing."""
    with httpx.Client(base_url=tenant.base_url, cookies=cookies) as stale:
        page = stale.get("/customers")
        assert page.status_code == 303 and page.headers["location"].startswith("/login"), page.text
        customer_id = f"stale-{secrets.token_hex(4)}"
        posted = _create_customer(stale, csrf, customer_id)
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    assert not _exists(tenant, customer_id)


def _new_user(session_factory: sessionmaker[Session], tenant: Tenant, role: str = "ADMIN") -> tuple[str, str]:
    email, password = f"s-{secrets.token_hex(4)}@sessions.test", secrets.token_urlsafe(12)
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        service.create_user(
            org=service.organization(tenant.org.id), email=email, password=password, now=utc_now(), role=role
        )
    return email, password


def test_sign_out_ends_every_session_of_the_user(tenant: Tenant, person: tuple[str, str]) -> None:
    with httpx.Client(base_url=tenant.base_url) as first, httpx.Client(base_url=tenant.base_url) as second:
        assert http_sign_in(first, *person).status_code == 303
        assert http_sign_in(second, *person).status_code == 303
        csrf = _csrf(first)
        captured = dict(first.cookies)
        working = f"ok-{secrets.token_hex(4)}"
        assert _create_customer(first, csrf, working).status_code == 303 and _exists(tenant, working)
        other_csrf = _csrf(second)

        signed_out = first.post("/logout", data={"csrf": csrf})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    _assert_ended(tenant, captured, csrf)  # the cookie copied before "Sign out"
    _assert_ended(tenant, {"meterline_session": second.cookies["meterline_session"]}, other_csrf)  # another browser


def test_a_password_change_ends_the_other_sessions(
    page: Page, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    email, password = _new_user(session_factory, tenant, role="MEMBER")  # anyone changes their own password
    with httpx.Client(base_url=tenant.base_url) as elsewhere:
        http_sign_in(elsewhere, email, password)
        elsewhere_csrf = _csrf(elsewhere)
        elsewhere_cookies = dict(elsewhere.cookies)
    sign_in(page, email, password)
    menu(page, "Settings")
    captured = {c["name"]: c["value"] for c in page.context.cookies()}
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    assert csrf
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Your password").click()

    # A wrong current password, then two different new ones: said next to the field, nothing changes
    page.get_by_label("Current password").fill("not my password")
    page.locator('input[name="new_password"]').fill("a brand new one")
    page.get_by_label("New password again").fill("a brand new one")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password")).to_be_visible()
    page.get_by_label("Current password").fill(password)
    page.locator('input[name="new_password"]').fill("a brand new one")
    page.get_by_label("New password again").fill("another one")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two new passwords are not the same")).to_be_visible()

    page.get_by_label("Current password").fill(password)
    page.locator('input[name="new_password"]').fill("a brand new one")
    page.get_by_label("New password again").fill("a brand new one")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    menu(page, "Customers")  # this browser goes on, with a new session
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()

    _assert_ended(tenant, captured, csrf)  # this browser's cookie from before the change
    _assert_ended(tenant, elsewhere_cookies, elsewhere_csrf)  # and another browser's
    with httpx.Client(base_url=tenant.base_url, headers=_client_address()) as client:
        assert http_sign_in(client, email, password).status_code == 400
        assert http_sign_in(client, email, "a brand new one").status_code == 303


def test_removing_a_user_ends_their_sessions(
    tenant: Tenant, person: tuple[str, str], session_factory: sessionmaker[Session]
) -> None:
    email, password = _new_user(session_factory, tenant)
    with httpx.Client(base_url=tenant.base_url) as theirs, httpx.Client(base_url=tenant.base_url) as admin:
        http_sign_in(theirs, email, password)
        their_csrf = _csrf(theirs)
        their_cookies = dict(theirs.cookies)
        http_sign_in(admin, *person)
        with unit_of_work(session_factory, write=False) as s:
            user_id = TenancyRepository(s).user_by_email(email).id  # type: ignore[union-attr]
        removed = admin.post(f"/settings/users/{user_id}/remove", data={"csrf": _csrf(admin, "/settings")})
        assert removed.status_code == 303
    _assert_ended(tenant, their_cookies, their_csrf)


def _client_address() -> dict[str, str]:
    """A client address of its own (uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind a local proxy), so the
    per-address count of one test is not another's."""
    return {"X-Forwarded-For": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}


def test_the_sixth_wrong_password_is_refused_with_retry_after(tenant: Tenant, person: tuple[str, str]) -> None:
    email, password = person
    with httpx.Client(base_url=tenant.base_url, headers=_client_address()) as client:
        for _ in range(5):
            wrong = http_sign_in(client, email, "not the password")
            assert wrong.status_code == 400 and "Wrong email or password" in wrong.text
        sixth = http_sign_in(client, email, "not the password")
        assert sixth.status_code == 429, sixth.text
        assert 0 < int(sixth.headers["retry-after"]) <= 15 * 60
        assert "Too many failed sign-ins: try again in 15 minutes" in sixth.text
        refused = http_sign_in(client, email, password)  # even the right password, until the window passes
        assert refused.status_code == 429 and "meterline_session" not in refused.cookies
    with httpx.Client(base_url=tenant.base_url, headers=_client_address()) as elsewhere:
        assert http_sign_in(elsewhere, email, password).status_code == 429  # per email: from anywhere


def test_a_success_clears_the_email_and_an_address_has_its_own_limit(tenant: Tenant, person: tuple[str, str]) -> None:
    email, password = person
    with httpx.Client(base_url=tenant.base_url, headers=_client_address()) as client:
        for _ in range(4):
            assert http_sign_in(client, email, "not the password").status_code == 400
        assert http_sign_in(client, email, password).status_code == 303  # forgets the email's 4 failures
        for _ in range(5):
            assert http_sign_in(client, email, "not the password").status_code == 400
        assert http_sign_in(client, email, "not the password").status_code == 429
    with httpx.Client(base_url=tenant.base_url, headers=_client_address()) as guesser:
        for i in range(20):  # 20 emails, one guess each: the address is refused at the 21st
            assert http_sign_in(guesser, f"guess{i}-{secrets.token_hex(3)}@nobody.test", "x").status_code == 400
        assert http_sign_in(guesser, f"fresh-{secrets.token_hex(3)}@nobody.test", "x").status_code == 429


@pytest.fixture
def second_server(db_url: str, tmp_path: Path, server: str) -> Iterator[str]:
    """Another `meterline serve` process on the same database."""
    process, base_url = start_server(db_url, tmp_path / "second.log")
    yield base_url
    stop_server(process)


def test_two_server_processes_count_failures_together(
    tenant: Tenant, person: tuple[str, str], second_server: str
) -> None:
    email = person[0]
    address = _client_address()
    with (
        httpx.Client(base_url=tenant.base_url, headers=address) as one,
        httpx.Client(base_url=second_server, headers=address) as two,
    ):
        for client in (one, two, one, two, one):
            assert http_sign_in(client, email, "not the password").status_code == 400
        assert http_sign_in(two, email, "not the password").status_code == 429
        assert http_sign_in(one, email, "not the password").status_code == 429


def test_simultaneous_wrong_passwords_cannot_slip_under_the_limit(
    tenant: Tenant, person: tuple[str, str], second_server: str
) -> None:
    """12 wrong passwords for one email at once, over two processes: the count, the password check and the failure
    it records take turns, so only the first 5 are checked (before, every one of them was)."""
    email, address = person[0], _client_address()
    bases = [tenant.base_url, second_server]
    forms = []
    for n in range(12):  # each with its own sign-in form (pre-session cookie and token), fetched beforehand
        client = httpx.Client(base_url=bases[n % 2], headers=address, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        forms.append(
            (
                client,
                {
                    "email": email,
                    "password": "not the password",
                    "next": "/customers",
                    **({"csrf": token[1]} if token else {}),
                },
            )
        )
    barrier = threading.Barrier(len(forms))
    codes: list[int] = [0] * len(forms)

    def send(n: int) -> None:
        client, data = forms[n]
        barrier.wait()
        codes[n] = client.post("/login", data=data).status_code

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client, _ in forms:
        client.close()
    assert sorted(codes) == [400] * 5 + [429] * 7, codes


def test_the_sign_in_form_refuses_cross_site_posts(tenant: Tenant, person: tuple[str, str]) -> None:
    email, password = person
    with httpx.Client(base_url=tenant.base_url) as client:
        token = _csrf(client, "/login")
        assert "meterline_login" in client.cookies
        form = {"email": email, "password": password, "csrf": token}
        evil = client.post("/login", data=form, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403 and "meterline_session" not in evil.cookies, evil.text
        assert client.post("/login", data=form, headers={"Origin": "null"}).status_code == 403
        assert client.post("/login", data={**form, "csrf": "guessed"}).status_code == 403  # token not the cookie's
        same_site = client.post("/login", data=form, headers={"Origin": tenant.base_url})
        assert same_site.status_code == 303 and "meterline_session" in same_site.cookies
    with httpx.Client(base_url=tenant.base_url) as no_cookie:  # a form posted from elsewhere has no cookie
        posted = no_cookie.post("/login", data={"email": email, "password": password, "csrf": token})
        assert posted.status_code == 403 and "meterline_session" not in posted.cookies
        assert "The sign-in form has expired" in posted.text


def _assert_secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, dict(response.headers))
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, (response.request.url, policy)


def test_every_answer_carries_the_security_headers(tenant: Tenant, person: tuple[str, str]) -> None:
    with httpx.Client(base_url=tenant.base_url) as console:
        for path in ("/login", "/customers", "/console-static/console.css", "/no-such-page", "/healthz"):
            _assert_secure(console.get(path))
        http_sign_in(console, *person)
        for path in ("/dashboard", "/customers", "/settings?tab=password", "/invoices", "/customers/nope"):
            _assert_secure(console.get(path))
        _assert_secure(console.post("/customers/new", data={"csrf": "x"}))  # a 403
    with httpx.Client(base_url=f"{tenant.base_url}/api") as anonymous:
        _assert_secure(anonymous.get("/customers"))  # 401
        _assert_secure(anonymous.get("/docs"))
        _assert_secure(anonymous.get("/openapi.json"))
    with tenant.http() as api:
        _assert_secure(api.get("/customers"))
        _assert_secure(api.post("/customers", json={}))  # 400
        _assert_secure(api.delete("/customers"))  # 405


def test_console_pages_and_the_swagger_ui_satisfy_the_policy(
    browser: Browser, tenant: Tenant, person: tuple[str, str]
) -> None:
    """In Chromium: no page of the console breaks the Content-Security-Policy (no inline script or style), the API
    docs still render, and another site cannot show the console in a frame."""
    context = browser.new_context(base_url=tenant.base_url)
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", watch)
    sign_in(page, *person)
    for section in (
        "Dashboard",
        "Customers",
        "Price Plans",
        "Usage Meters",
        "Event Schemas",
        "Features",
        "Events",
        "Invoices",
        "Reports",
        "Settings",
    ):
        menu(page, section)
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        page.wait_for_load_state()  # the whole page, so that a violation lower on it is reported
    # The Swagger UI's inline start-up script runs under its own policy: the UI draws itself (what it draws is its
    # own matter: the bundled Swagger UI 4.15 reads OpenAPI 3.0 documents, and FastAPI writes 3.1)
    page.goto("/api/docs")
    expect(page.locator("#swagger-ui .swagger-ui").first).to_be_attached()
    assert violations == []

    # A page of another origin framing the console: Chromium refuses to show it
    other = context.new_page()
    other.set_content(f'<iframe src="{tenant.base_url}/login" title="framed"></iframe>')  # waits for its load
    frame = other.frame_locator('iframe[title="framed"]')
    expect(frame.get_by_role("heading", name="Sign in to Meterline")).to_have_count(0)
    context.close()


def test_a_405_names_every_method_of_its_path(tenant: Tenant) -> None:
    """Generated from the API's route table: for each path, a method it does not take gets 405 with an Allow header
    listing exactly the methods it does take; and the console's paths the same."""
    with httpx.Client(base_url=f"{tenant.base_url}/api") as api:
        paths = api.get("/openapi.json").json()["paths"]
        assert len(paths) > 50
        templates = {re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"): path for path in paths}
        for path in paths:
            url = re.sub(r"\{[^}]+\}", "x", path)
            # what the URL is served with: a path without parameters is its own resource (/invoices/bill_runs takes
            # POST, as documented, though GET /invoices/{id} would match it); a templated one takes its template's
            # methods and those of any other template that matches it
            served = (
                {method.upper() for method in paths[path]}
                if "{" not in path
                else {
                    method.upper()
                    for regex, other in templates.items()
                    if regex.match(url) and "{" in other
                    for method in paths[other]
                }
            )
            unserved = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in served)
            answer = api.request(unserved, url)
            assert answer.status_code == 405, (unserved, path, answer.status_code)
            allowed = {m.strip() for m in answer.headers["allow"].split(",")}
            assert allowed == served, (path, answer.headers["allow"], served)
            assert answer.json()["message"]
    with httpx.Client(base_url=tenant.base_url) as console:
        for method, path, takes in (
            ("DELETE", "/login", "GET, POST"),
            ("PUT", "/customers/new", "GET, POST"),
            ("GET", "/logout", "POST"),
            ("DELETE", "/healthz", "GET"),
        ):
            answer = console.request(method, path)
            assert answer.status_code == 405 and answer.headers["allow"] == takes, (path, answer.headers)
