"""The customer portal (issue 18; docs/portal.md) in headless Chromium against a live server, on both engines: a
customer sees exactly their own data (accounts, live usage and the ongoing invoice, invoices and their PDFs, wallet,
credits, feature credits), nothing of another customer or of an account the token does not name; an expired token
sees nothing; the frame-ancestors allow-list (an iframe of the operator's product shows the portal only from an
allowed origin); and the console's two parts: the customer's "Portal link" and Settings' embed origins."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pypdf
import togai_client as tc
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.invoicing.models import Invoice
from meterline.portal.models import PortalToken
from meterline.tenancy.service import TenancyService
from tests.api.billing_setup import growth_plan, month_start
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, shot, sign_in
from tests.console.test_console_screens import assert_columns_reachable, assert_text_contrast

# Words only the other customer's data holds: none may ever appear in acme's portal.
BETA = ("Beta Corp", "beta-main", "Beta work", "Beta feature")


def world(tenant: Tenant) -> dict[str, str]:
    """acme (accounts acme and acme-2 "Acme Labs") and beta, in one organization. acme and beta are on Growth (a 50.00
    fee a month) since this month's 1st, acme with 7 calls this month; a DUE custom invoice each for acme ("Acme
    work", 40.00), acme-2 ("Labs work", 25.00) and beta ("Beta work", 99.00); acme has 30.00 in its wallet, a credit
    of 5.00 and 20 units of "Acme feature"; beta 3 units of "Beta feature". Returns the invoices' ids."""
    sdk = Sdk(tenant)
    try:
        catalog = create_metering_catalog(sdk)
        for customer_id, name, account in (("acme", "Acme Inc", "acme"), ("beta", "Beta Corp", "beta-main")):
            sdk.customers.create_customer(
                tc.CreateCustomerRequest(
                    id=customer_id,
                    name=name,
                    primary_email=f"billing@{customer_id}.test",
                    address=tc.Address(),
                    account=tc.CreateAccountRequestWithoutCustomerId(id=account, name=name),
                )
            )
        sdk.accounts.create_account(tc.CreateAccountRequest(id="acme-2", name="Acme Labs", customer_id="acme"))
        fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
        plan_id = growth_plan(sdk, catalog["sum"], fee)
        now = datetime.now(UTC)
        for account in ("acme", "beta-main"):
            sdk.accounts.update_pricing_schedule(account, associate(plan_id, month_start(now), OPEN))
        tc.EventIngestionApi(sdk.client).ingest(tc.IngestEventRequest(event=ev("acme-1", calls="7", at=now)))
        invoices = {}
        for account, text, value in (
            ("acme", "Acme work", 40),
            ("acme-2", "Labs work", 25),
            ("beta-main", "Beta work", 99),
        ):
            invoices[account] = sdk.invoices.create_custom_invoice(
                tc.CreateCustomInvoiceRequest(
                    account_id=account,
                    start_date=now - timedelta(days=40),
                    end_date=now - timedelta(days=10),
                    status="DUE",
                    line_items=[tc.CustomInvoiceLineItem(description=text, value=value)],
                )
            ).id
        tc.WalletApi(sdk.client).top_up_wallet_for_account("acme", tc.TopupWalletRequest(topup_amount=30))
        tc.CreditsApi(sdk.client).create_credit(
            tc.CreateCreditRequest(
                credit_requests=[
                    tc.CreditRequest(
                        account_id="acme",
                        purpose="Welcome",
                        credit_amount=5,
                        priority=1,
                        effective_from=date(2024, 1, 1),
                    )
                ]
            )
        )
        for account, name, granted in (("acme", "Acme feature", 20), ("beta-main", "Beta feature", 3)):
            feature = sdk.features.create_feature(
                tc.CreateFeatureRequest(
                    name=name,
                    schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")]
                    if account == "acme"
                    else [],
                )
            )
            with tenant.http() as http:
                answer = http.post(f"/accounts/{account}/features/{feature.id}/entries", json={"granted": granted})
                assert answer.status_code in (200, 201), answer.text
        return invoices
    finally:
        sdk.close()


def token(tenant: Tenant, **body: Any) -> str:
    with tenant.http() as http:
        answer = http.post("/portal/token", json={"customerId": "acme", **body})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["token"])


def pdf_text(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)


def portal_get(page: Page, path: str) -> Any:
    """A GET with the page's cookies (the portal session), as a link the browser follows."""
    return page.request.get(path, max_redirects=0)


def nothing_of(text: str, words: tuple[str, ...]) -> None:
    assert not [w for w in words if w in text], [w for w in words if w in text]


def test_a_customer_sees_exactly_their_own_data(page: Page, tenant: Tenant, db_url: str) -> None:
    invoices = world(tenant)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"/portal?token={token(tenant, allAccountsAccess=True)}")
    # the token is exchanged for the cookie: it is out of the address bar (and the history)
    expect(page).to_have_url(re.compile(r"/portal$"))
    expect(page.locator(".portal-org")).to_have_text(tenant.org.name)
    expect(page.locator(".portal-who")).to_have_text("Acme Inc")
    acme = page.get_by_role("region", name=re.compile(r"^Acme Inc · acme · USD"))
    balances = acme.get_by_role("definition")
    expect(balances).to_have_text(["USD 30.00", "USD 30.00", "USD 5.00"])  # wallet, of it held by the draft, credits
    ongoing = acme.get_by_role("table", name="Ongoing invoice of acme")
    expect(ongoing).to_contain_text("Platform fee")
    expect(acme.get_by_role("table", name="Usage of acme")).to_contain_text("7")
    expect(acme.get_by_role("table", name="Entitlements of acme")).to_contain_text("Acme feature")
    labs = page.get_by_role("region", name=re.compile(r"^Acme Labs · acme-2"))
    expect(labs).to_contain_text("No wallet")
    rows = page.get_by_role("table", name="Invoices").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("USD 40.00")
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("USD 25.00")
    nothing_of(page.content(), BETA)
    fits(page)
    shot(page, "portal-customer", engine_of(db_url))

    # an invoice of its own, and its PDF
    page.get_by_role("table", name="Invoices").get_by_role("link", name=re.compile("INV|inv")).first.click()
    expect(page.get_by_role("table", name="Lines")).to_contain_text(re.compile("Acme work|Labs work"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    text = pdf_text(open(download.value.path(), "rb").read())  # noqa: SIM115 - read once
    assert ("Acme work" in text or "Labs work" in text) and "Beta" not in text
    # another customer's invoice and PDF: 404, nothing of it shown
    for path in (f"/portal/invoices/{invoices['beta-main']}", f"/portal/invoices/{invoices['beta-main']}/pdf"):
        answer = portal_get(page, path)
        assert answer.status == 404, (path, answer.status)
        nothing_of(answer.text(), BETA)
    page.goto(f"/portal/invoices/{invoices['beta-main']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert violations == []  # the portal's pages keep the policy (no inline script or style)


def test_a_token_for_account_a_never_opens_account_b(page: Page, tenant: Tenant) -> None:
    invoices = world(tenant)
    page.goto(f"/portal?token={token(tenant, accountIds=['acme'])}")
    expect(page.get_by_role("region", name=re.compile(r"^Acme Inc · acme · USD"))).to_be_visible()
    nothing_of(page.content(), ("Acme Labs", "acme-2", "Labs work", "USD 25.00", *BETA))
    expect(page.get_by_role("table", name="Invoices").locator("tbody tr")).to_have_count(1)
    assert portal_get(page, f"/portal/invoices/{invoices['acme']}").status == 200
    assert portal_get(page, f"/portal/invoices/{invoices['acme']}/pdf").status == 200
    for account in ("acme-2", "beta-main"):
        for path in (f"/portal/invoices/{invoices[account]}", f"/portal/invoices/{invoices[account]}/pdf"):
            answer = portal_get(page, path)
            assert answer.status == 404, (path, answer.status)
            nothing_of(answer.text(), ("Labs work", *BETA))
    # the console is not the portal: the cookie signs nobody in
    page.goto("/customers")
    expect(page).to_have_url(re.compile(r"/login"))


def expire(session_factory: sessionmaker[Session], tenant: Tenant) -> None:
    """Every portal token of the tenant expired a second ago (as an hour passing would leave them)."""
    with unit_of_work(session_factory) as s:
        s.execute(
            update(PortalToken)
            .where(PortalToken.org_id == tenant.org.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def test_an_expired_token_sees_nothing(
    page: Page, tenant: Tenant, session_factory: sessionmaker[Session], db_url: str
) -> None:
    world(tenant)
    # a session opened while the token lived ends with it: the next page says so, and shows nothing
    page.goto(f"/portal?token={token(tenant, allAccountsAccess=True)}")
    expect(page.locator(".portal-who")).to_have_text("Acme Inc")
    expire(session_factory, tenant)
    answer = page.goto("/portal")
    assert answer is not None and answer.status == 401
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be opened")
    expect(page.get_by_role("alert")).to_contain_text(f"This portal link has expired: ask {tenant.org.name}")
    nothing_of(page.content(), ("Acme Inc", "acme-2", "Acme work", "USD 30.00", *BETA))
    shot(page, "portal-expired", engine_of(db_url))
    assert not [c for c in page.context.cookies() if c["name"] == "meterline_portal"]  # the cookie is gone
    # an expired link, opened afresh
    stale = token(tenant, allAccountsAccess=True)
    expire(session_factory, tenant)
    answer = page.goto(f"/portal?token={stale}")
    assert answer is not None and answer.status == 401
    nothing_of(page.content(), ("Acme Inc", "Acme work"))
    # a token that was never issued, and no token at all
    for path in (f"/portal?token={stale[:-4]}abcd", "/portal", "/portal/invoices/x"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 401, path
        expect(page.get_by_role("alert")).to_contain_text("not valid")


@contextmanager
def product_site() -> Iterator[tuple[str, Callable[[str], None]]]:
    """The operator's product: a real HTTP server on 127.0.0.1 (a port of its own) whose page /app frames the URL set
    with the function it yields. (127.0.0.1 on another port is the same site as the server under test, so the
    SameSite=Lax cookie of plain HTTP is sent; a page fulfilled by the browser's router would count as public, and
    Chromium blocks a public page's frame from a local server.)"""
    framed = {"url": "about:blank"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = f'<!doctype html><title>Product</title><iframe src="{framed["url"]}" width="900"></iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", lambda url: framed.update(url=url)
    finally:
        server.shutdown()
        server.server_close()


def test_the_portal_is_framed_only_by_the_allowed_origins(
    browser: Browser, page: Page, tenant: Tenant, person: tuple[str, str]
) -> None:
    world(tenant)
    headers = httpx.get(f"{tenant.base_url}/portal", params={"token": token(tenant, allAccountsAccess=True)}).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    with product_site() as (allowed, frame_allowed), product_site() as (other, frame_other):
        framed_by_allowed_origin_only(browser, page, tenant, person, (allowed, frame_allowed), (other, frame_other))


def framed_by_allowed_origin_only(
    browser: Browser,
    page: Page,
    tenant: Tenant,
    person: tuple[str, str],
    allowed_site: tuple[str, Callable[[str], None]],
    other_site: tuple[str, Callable[[str], None]],
) -> None:
    (allowed, _), base = allowed_site, tenant.base_url

    # Settings: a wrong origin is refused in words; the list is saved
    sign_in(page, *person)
    page.goto("/settings")
    origins = page.get_by_label("Allowed origins")
    origins.fill("https://app.example.com/path")
    page.get_by_role("button", name="Save origins").click()
    expect(page.get_by_role("alert")).to_contain_text("is not an origin")
    for wrong, said in (
        ("https://*.com", "'https://*.com' allows too much: a wildcard needs at least two labels after it"),
        ("http://app.example.com", "is not served over https: http is allowed for localhost and 127.0.0.1 only"),
    ):
        page.get_by_label("Allowed origins").fill(wrong)
        page.get_by_role("button", name="Save origins").click()
        expect(page.get_by_role("alert")).to_contain_text(said)
    page.get_by_label("Allowed origins").fill(f"{allowed}\nhttps://app.example.com")
    page.get_by_role("button", name="Save origins").click()
    expect(page.get_by_role("status")).to_contain_text(f"embedded by {allowed}, https://app.example.com")

    headers = httpx.get(f"{base}/portal", params={"token": token(tenant, allAccountsAccess=True)}).headers
    policy = headers["content-security-policy"]
    assert f"frame-ancestors {allowed} https://app.example.com;" in policy and "x-frame-options" not in headers
    assert "samesite=lax" in headers["set-cookie"].lower()  # plain HTTP: Lax (docs/portal.md)

    for (origin, frame_url), shown in ((allowed_site, True), (other_site, False)):
        context = browser.new_context()
        framed = context.new_page()
        frame_url(f"{base}/portal?token={token(tenant, allAccountsAccess=True)}")
        framed.goto(f"{origin}/app")  # (the load event waits for the frame)
        frame = framed.frames[1]
        if shown:
            expect(frame.locator(".portal-who")).to_have_text("Acme Inc")
            expect(frame.get_by_role("table", name="Invoices")).to_contain_text("USD 40.00")
        else:
            assert "Acme Inc" not in frame.content()
        context.close()


def test_the_console_makes_a_portal_link_shown_once(
    browser: Browser, page: Page, tenant: Tenant, person: tuple[str, str], db_url: str
) -> None:
    world(tenant)
    sign_in(page, *person)
    page.goto("/customers/acme")
    form = page.get_by_role("form", name="Customer portal")
    # "All accounts" is the choice made until another is: ticking an account without "These accounts" is refused
    expect(form.get_by_label("All accounts")).to_be_checked()
    form.get_by_label("Acme Labs").check()
    form.get_by_role("button", name="Portal link").click()
    expect(page.get_by_role("alert")).to_contain_text("choose These accounts, or untick them")
    form = page.get_by_role("form", name="Customer portal")
    form.get_by_label("These accounts").check()
    form.get_by_role("button", name="Portal link").click()  # (Acme Labs kept its tick)
    expect(page.get_by_role("heading", level=1)).to_have_text("New portal link")
    page.goto("/customers/acme")
    form = page.get_by_role("form", name="Customer portal")
    form.get_by_label("These accounts").check()
    form.get_by_role("button", name="Portal link").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the accounts the link opens, or choose All accounts")
    form = page.get_by_role("form", name="Customer portal")
    form.get_by_label("Acme Labs").check()
    form.get_by_label("Works for").select_option(label="1 day")
    form.get_by_role("button", name="Portal link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New portal link")
    link = page.get_by_label("New portal link").input_value()
    assert re.fullmatch(r"http://[^/]+/portal\?token=mlp_\w+_[\w-]+", link), link
    shot(page, "portal-link", engine_of(db_url))
    page.get_by_role("link", name="I have copied it").click()
    page.goto("/once")
    expect(page.get_by_role("heading", level=1)).to_have_text("Shown already")

    customer = browser.new_context()
    portal = customer.new_page()
    portal.goto(link)
    expect(portal.locator(".portal-who")).to_have_text("Acme Inc")
    expect(portal.get_by_role("region", name=re.compile(r"^Acme Labs · acme-2"))).to_be_visible()
    nothing_of(portal.content(), ("Acme work", *BETA))  # acme's own account was not ticked
    customer.close()

    # six accounts ticked: refused in words, on the customer's page
    for n in range(3, 7):
        with tenant.http() as http:
            body = {"id": f"acme-{n}", "name": f"Acme {n}", "customerId": "acme"}
            assert http.post("/accounts", json=body).status_code in (200, 201)
    page.goto("/customers/acme")
    form = page.get_by_role("form", name="Customer portal")
    form.get_by_label("These accounts").check()
    for box in form.get_by_role("checkbox").all()[:6]:
        box.check()
    form.get_by_role("button", name="Portal link").click()
    expect(page.get_by_role("alert")).to_have_text("A link opens at most 5 accounts: choose All accounts for more")


def test_the_console_lists_and_revokes_portal_links_and_a_removed_user_ends_theirs(
    browser: Browser, page: Page, tenant: Tenant, person: tuple[str, str], session_factory: sessionmaker[Session]
) -> None:
    """A customer's page lists its live links (when, by whom, accounts, expiry) with Revoke (one) and Revoke all; a
    revoked link opens nothing, even in a portal already open; removing the user who issued a link ends it."""
    world(tenant)
    by_api = token(tenant, accountIds=["acme-2"])
    sign_in(page, *person)
    page.goto("/customers/acme")
    page.get_by_role("form", name="Customer portal").get_by_role("button", name="Portal link").click()
    by_person = page.get_by_label("New portal link").input_value()
    page.goto("/customers/acme")
    links = page.get_by_role("table", name="Live portal links")
    expect(links.locator("tbody tr")).to_have_count(2)
    expect(links.locator("tbody tr").nth(0)).to_contain_text("Ops")
    expect(links.locator("tbody tr").nth(0)).to_contain_text("All accounts")
    expect(links.locator("tbody tr").nth(1)).to_contain_text("API key “tests”")
    expect(links.locator("tbody tr").nth(1)).to_contain_text("acme-2")

    customer = browser.new_context(base_url=tenant.base_url)
    portal = customer.new_page()
    portal.goto(f"/portal?token={by_api}")
    expect(portal.locator(".portal-who")).to_have_text("Acme Inc")
    links.get_by_role("button", name=re.compile("by API key")).click()  # revoke the API's link
    expect(page.get_by_role("status")).to_contain_text("The portal link is revoked")
    expect(page.get_by_role("table", name="Live portal links").locator("tbody tr")).to_have_count(1)
    answer = portal.goto("/portal")  # the open portal stops on its next request
    assert answer is not None and answer.status == 401
    expect(portal.get_by_role("alert")).to_contain_text("not valid")
    nothing_of(portal.content(), ("Acme Inc", "Acme work"))

    # a second person removes the first: the first's link ends
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        other = service.create_user(
            org=service.organization(tenant.org.id), email="admin2@example.test", password="secret-pass", now=utc_now()
        )
        assert other.id
    portal.goto(by_person)
    expect(portal.locator(".portal-who")).to_have_text("Acme Inc")
    admin = browser.new_context(base_url=tenant.base_url).new_page()
    sign_in(admin, "admin2@example.test", "secret-pass")
    admin.goto("/settings?tab=users")
    admin.get_by_role("link", name=f"Remove {person[0]}").click()
    expect(admin.get_by_role("main")).to_contain_text("the customer portal links they issued end")
    admin.get_by_role("button", name="Remove user").click()
    expect(admin.get_by_role("status")).to_contain_text("is removed")
    answer = portal.goto("/portal")
    assert answer is not None and answer.status == 401
    customer.close()

    # Revoke all
    for _ in range(3):
        token(tenant, allAccountsAccess=True)
    admin.goto("/customers/acme")
    expect(admin.get_by_role("table", name="Live portal links").locator("tbody tr")).to_have_count(3)
    admin.get_by_role("button", name="Revoke all 3 portal links").click()
    expect(admin.get_by_role("status")).to_contain_text("Every portal link of acme is revoked")
    expect(admin.get_by_text("No live portal link.")).to_be_visible()


def test_what_the_portal_does_not_serve_is_said_on_a_portal_page(tenant: Tenant) -> None:
    """A path under /portal that no page has (404), a method the portal does not take (405, with Allow): the portal's
    own page, never the console's (no menu, no sign-in), and never framed without a token naming the organization."""
    with httpx.Client(base_url=tenant.base_url, timeout=30) as browser:
        missing = browser.get("/portal/nothing/here")
        assert missing.status_code == 404 and "There is no page at /portal/nothing/here." in missing.text
        posted = browser.post("/portal", data={"x": "1"})
        assert posted.status_code == 405 and posted.headers["allow"] == "GET"
        assert "/portal is read-only: it does not take a POST." in posted.text
        for answer in (missing, posted):
            assert 'class="portal-head"' in answer.text and "Sign in" not in answer.text
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_the_portal_fits_any_screen_and_reads_clearly(any_page: Page, screen: str, tenant: Tenant, db_url: str) -> None:
    """The portal's pages at 1280 px and 390 px: nothing wider than the screen, every column reachable, text
    contrast as the console's (tests/console/test_console_screens.py)."""
    invoices = world(tenant)
    page = any_page
    page.goto(f"/portal?token={token(tenant, allAccountsAccess=True)}")
    # the ongoing invoice's Amount is on the screen without scrolling sideways, on a phone too (its columns wrap)
    ongoing = page.get_by_role("table", name="Ongoing invoice of acme")
    expect(ongoing).to_contain_text("Platform fee")
    hidden = ongoing.evaluate(
        "t => [t, t.parentElement].map(e => e.scrollWidth - e.clientWidth).concat("
        "t.parentElement.getBoundingClientRect().right"
        " - t.querySelector('tr.total td.num').getBoundingClientRect().right)"
    )
    assert hidden[0] <= 0 and hidden[1] <= 0 and hidden[2] >= 0, (screen, hidden)  # nothing to scroll to
    for name, path, money_columns in (
        ("overview", "/portal", 2),
        ("invoice", f"/portal/invoices/{invoices['acme']}", 1),
    ):
        page.goto(path)
        expect(page.locator(".portal-who")).to_have_text("Acme Inc")
        fits(page)
        assert_columns_reachable(page, f"portal {name} at {screen}", money_columns)
        assert assert_text_contrast(page, f"portal {name} at {screen}") > 10
        shot(page, f"portal-{name}-{screen}", engine_of(db_url))


def test_a_page_of_the_portal_computes_a_bounded_number_of_accounts_and_invoices(page: Page, tenant: Tenant) -> None:
    """12 accounts and 26 invoices: the overview shows 10 accounts a page and 25 invoices a page, with Previous and
    Next; a page number that is no number is refused in words."""
    sdk = Sdk(tenant)
    try:
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(
                id="big",
                name="Big Co",
                primary_email="b@x.test",
                address=tc.Address(),
                account=tc.CreateAccountRequestWithoutCustomerId(id="big-01", name="Big 01"),
            )
        )
        for n in range(2, 13):
            sdk.accounts.create_account(
                tc.CreateAccountRequest(id=f"big-{n:02}", name=f"Big {n:02}", customer_id="big")
            )
        now = datetime.now(UTC)
        for n in range(26):
            sdk.invoices.create_custom_invoice(
                tc.CreateCustomInvoiceRequest(
                    account_id="big-01",
                    start_date=now - timedelta(days=40),
                    end_date=now - timedelta(days=10),
                    status="DUE",
                    line_items=[tc.CustomInvoiceLineItem(description=f"Work {n}", value=n + 1)],
                )
            )
    finally:
        sdk.close()
    page.goto(f"/portal?token={token(tenant, customerId='big', allAccountsAccess=True)}")
    accounts = page.locator("section.portal-account")
    expect(accounts).to_have_count(10)
    pager = page.get_by_role("navigation", name="Pages of accounts", exact=True)
    expect(pager).to_contain_text("Accounts 1–10 of 12")
    invoices = page.get_by_role("table", name="Invoices").locator("tbody tr")
    expect(invoices).to_have_count(25)
    page.get_by_role("navigation", name="Pages of invoices").get_by_role("link", name="Next").click()
    expect(invoices).to_have_count(1)
    expect(accounts).to_have_count(10)  # the accounts' page kept
    pager.get_by_role("link", name="Next").click()
    expect(accounts).to_have_count(2)
    expect(pager).to_contain_text("Accounts 11–12 of 12")
    expect(invoices).to_have_count(1)  # the invoices' page kept
    expect(page.get_by_role("region", name=re.compile(r"^Big 12 · big-12"))).to_be_visible()
    answer = page.goto("/portal?page=x")
    assert answer is not None and answer.status == 400
    expect(page.get_by_role("alert")).to_contain_text("page must be a page number from 1")


def test_the_ongoing_invoice_links_to_its_page_only_once_it_is_saved(
    page: Page, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """The overview computes the ongoing invoice even when the worker has not saved it yet; then there is no page of
    it to link to (its id would be a dead link)."""
    world(tenant)
    page.goto(f"/portal?token={token(tenant, accountIds=['acme'])}")
    acme = page.get_by_role("region", name=re.compile(r"^Acme Inc · acme · USD"))
    acme.get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("Draft|draft|Invoice"))
    with unit_of_work(session_factory) as s:  # the worker has not made this period's draft yet
        s.execute(delete(Invoice).where(Invoice.org_id == tenant.org.id, Invoice.status == "DRAFT"))
    page.goto("/portal")
    expect(acme.get_by_role("table", name="Ongoing invoice of acme")).to_contain_text("Platform fee")
    expect(acme.get_by_role("link", name="View")).to_have_count(0)


def test_an_ongoing_invoice_that_cannot_be_computed_is_said_without_the_operators_words(
    page: Page, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """Data that breaks computing the ongoing invoice (here its stored charges, damaged): the customer reads a plain
    sentence, never the operator's detail (which goes to the log); a wallet's stored balance is still shown."""
    world(tenant)
    with unit_of_work(session_factory) as s:
        s.execute(
            update(Invoice)
            .where(Invoice.org_id == tenant.org.id, Invoice.status == "DRAFT", Invoice.currency == "USD")
            .values(charges="{damaged")
        )
    page.goto(f"/portal?token={token(tenant, customerId='beta', accountIds=['beta-main'])}")
    beta = page.get_by_role("region", name=re.compile(r"^Beta Corp · beta-main · USD"))
    expect(beta.locator(".error")).to_have_text(
        "The ongoing invoice cannot be shown right now. Please try again later."
    )
    assert not [w for w in ("JSON", "Expecting", "damaged", "Error") if w in beta.inner_text()]
    # acme has a wallet and a credit, whose holds need the same draft: the page shows the stored wallet, no 500
    page.goto(f"/portal?token={token(tenant, accountIds=['acme'])}")
    acme = page.get_by_role("region", name=re.compile(r"^Acme Inc · acme · USD"))
    expect(acme.locator(".error")).to_have_text(
        "The ongoing invoice cannot be shown right now. Please try again later."
    )
    expect(acme).to_contain_text("USD 30.00")
