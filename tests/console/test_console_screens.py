"""Any screen (issue 15): every console page at desktop (1280 px) and phone (390 px) width on both engines.

- nothing is wider than the screen, a 255-character name without a space included (tables scroll in their own box),
  and no column of a table disappears: every header cell, the money columns' first, can be scrolled into view;
- every text on every page reads at 4.5:1 at least (WCAG 2 contrast, computed here from the browser's styles);
- the keyboard: "Skip to content" is the first thing Tab reaches, shows itself and jumps to the page; every focused
  control has a ring of 3:1 at least against what is around it, on the dark side menu too;
- signing in lands on the dashboard; an error (404, 403, 400) is a page in the layout, with the menu and a way back,
  while the API keeps answering `{"message": ...}`; a favicon, served by Meterline itself.

Screenshots of every page go to test-results/console/ (`screen-<page>-<width>-<engine>.png`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.accounts.schemas import CreateAccountRequestWithoutCustomerId
from meterline.catalog.plan_schemas import CreatePricePlanRequest
from meterline.catalog.plan_service import PricePlanService
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.schemas import Address
from meterline.credits.service import Grant
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.entitlements.feature_service import Association, FeatureService
from meterline.entitlements.service import FeatureCreditService, Grant as FeatureGrant
from meterline.entitlements.statuses import EntrySource
from meterline.events.models import Event as StoredEvent
from meterline.events.schemas import CorrectionEvent
from meterline.events.wire import event_from
from meterline.invoicing.service import InvoiceService
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
)
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization, User
from meterline.tenancy.service import TenancyService
from meterline.usecases import balances
from meterline.usecases.events import ingestion
from meterline.usecases.jobs import request_correction
from meterline.usecases.schedules import edit_schedules
from tests.conftest import Tenant
from tests.console.browsing import engine_of, fits, http_sign_in, shot, sign_in

LONG = "W" * 255  # the longest customer (and account) name the API takes, with no space to wrap at
LONG_CATALOG = "m" * 50  # the longest schema, meter and plan name
MONEY = re.compile(r"amount|total|balance|rate|price|consumed|held|accrued|value", re.IGNORECASE)


# -- WCAG 2 contrast, from the browser's computed colours ------------------------------------------------------------
def _channels(css: str) -> tuple[float, float, float, float]:
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 0.5)' as (r, g, b, alpha), r g b in 0..255."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    assert len(numbers) in (3, 4), css
    return numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 1.0


def _over(top: str, bottom: tuple[float, float, float]) -> tuple[float, float, float]:
    """A colour with alpha laid over an opaque one."""
    r, g, b, a = _channels(top)
    return (r * a + bottom[0] * (1 - a), g * a + bottom[1] * (1 - a), b * a + bottom[2] * (1 - a))


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2's relative luminance: each sRGB channel linearised, weighted 0.2126 R + 0.7152 G + 0.0722 B."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: tuple[float, float, float], other: tuple[float, float, float]) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter over the darker: 1 to 21."""
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def backdrop(layers: list[str]) -> tuple[float, float, float]:
    """The colour behind an element: its own background and its ancestors' (innermost first), over white."""
    colour = (255.0, 255.0, 255.0)
    for layer in reversed(layers):
        colour = _over(layer, colour)
    return colour


# For every visible element with text of its own: its colour (an SVG text's fill), the backgrounds behind it
# (itself and its ancestors, innermost first) and a name to report it by.
TEXTS = """() => {
  const out = [];
  const backgrounds = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') layers.push(bg);
    }
    return layers;
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'TITLE', 'OPTION', 'svg'].includes(el.tagName)) continue;
    if (el.closest('svg') && el.tagName !== 'text') continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const shown = el.checkVisibility({visibilityProperty: true, opacityProperty: true});
    if (!shown || box.width < 1 || box.height < 1) continue;
    if (box.bottom < 0 || box.right < 0) continue;  // off screen, as the skip link is until it is focused
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join(' ');
    out.push({
      what: `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${text.slice(0, 40)}"`,
      color: el.tagName === 'text' ? style.fill : style.color,
      layers: backgrounds(el),
    });
  }
  return out;
}"""


def assert_text_contrast(page: Page, where: str) -> int:
    """Every visible text of the page at 4.5:1 or more against what is behind it; returns how many were checked."""
    texts = page.evaluate(TEXTS)
    low = []
    for t in texts:
        behind = backdrop(t["layers"])
        ratio = contrast(_over(t["color"], behind), behind)
        if ratio < 4.5:
            low.append(f"{t['what']}: {ratio:.2f}:1 ({t['color']} on {behind})")
    assert not low, f"{where}: text below 4.5:1:\n" + "\n".join(low)
    return len(texts)


# -- a world with a long name, every kind of thing and every status that gets a badge ------------------------------
@dataclass(frozen=True)
class World:
    customer: str
    account: str
    plan: str
    schema: str
    meter: str
    draft: str
    voided: str
    event: str
    feature: str
    job: str  # a correction of the event, waiting for confirmation


def _ctx(s: Session, tenant: Tenant) -> Context:
    org = s.get(Organization, tenant.org.id)
    assert org is not None
    return Context(session=s, org=org, now=utc_now())


@pytest.fixture
def world(session_factory: sessionmaker[Session], tenant: Tenant) -> World:
    now = utc_now()
    customer, account = f"c-{secrets.token_hex(3)}", f"a-{secrets.token_hex(3)}"
    with unit_of_work(session_factory) as s:
        ctx = _ctx(s, tenant)
        CustomerService(ctx).create(
            CreateCustomerRequest(
                id=customer,
                name=LONG,
                primary_email=f"billing-department-of-a-very-long-company-name@{customer}.example.test",
                address=Address(line1="X" * 120, city="Berlin", postal_code="10115", country="DE"),
                account=CreateAccountRequestWithoutCustomerId(id=account, name=LONG, invoice_currency="USD"),
            )
        )
        schemas = EventSchemaService(ctx)
        schemas.create(
            CreateEventSchemaRequest(
                name=LONG_CATALOG,
                description="D" * 255,
                attributes=[EventAttributeSchema(name="tokens_" + "t" * 43, default_unit="tokens")],
                dimensions=[DimensionsSchema(name="region_" + "r" * 43)],
            )
        )
        schema = schemas.activate(LONG_CATALOG)
        meters = UsageMeterService(ctx)
        meter = meters.create(
            CreateUsageMeterRequest(
                name=LONG_CATALOG,
                billable_name="B" * 255,
                type="COUNTER",
                aggregation="SUM",
                event_schema_name=LONG_CATALOG,
                computations=[Computation(order=1, computation='{"var":"attribute.tokens_' + "t" * 43 + '"}')],
            )
        )
        meters.activate(meter.id)
        plans = PricePlanService(ctx)
        plan = plans.create(
            CreatePricePlanRequest.model_validate(
                {
                    "name": LONG_CATALOG,
                    "pricePlanDetails": {
                        "supportedCurrencies": ["USD"],
                        "pricingCycleConfig": {
                            "interval": "MONTHLY",
                            "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                            "gracePeriod": 0,
                        },
                        "usageRateCards": [
                            {
                                "displayName": "U" * 255,
                                "usageMeterId": meter.id,
                                "ratePlan": {
                                    "pricingModel": "TIERED",
                                    "slabs": [
                                        {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
                                        {"order": 2, "startAfter": 1000000, "priceType": "PER_UNIT"},
                                    ],
                                },
                                "rateValues": [
                                    {
                                        "currency": "USD",
                                        "slabRates": [
                                            {"order": 1, "rate": Decimal("0.00025")},
                                            {"order": 2, "rate": Decimal("0.0002")},
                                        ],
                                    }
                                ],
                            }
                        ],
                    },
                }
            )
        )
        plans.activate(plan.plan.id, ["USD"])
        archived = plans.create(
            CreatePricePlanRequest.model_validate(
                {
                    "name": "Retired plan",
                    "pricePlanDetails": {
                        "supportedCurrencies": ["USD"],
                        "pricingCycleConfig": {
                            "interval": "MONTHLY",
                            "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                            "gracePeriod": 0,
                        },
                    },
                }
            )
        )
        plans.archive(archived.plan.id)
        first = now.date().replace(day=1)
        edit_schedules(
            ctx,
            account,
            [
                UpdatePricingScheduleRequest.model_validate(
                    {"pricePlanId": plan.plan.id, "effectiveFrom": first.isoformat(), "effectiveUntil": "9999-01-01"}
                )
            ],
        )
    with unit_of_work(session_factory) as s:
        ctx = _ctx(s, tenant)
        event_id = "E" * 120
        moment = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - timedelta(minutes=5))
        results = ingestion(ctx).ingest(
            [
                event_from(
                    {
                        "schemaName": LONG_CATALOG,
                        "id": event_id,
                        "timestamp": moment.isoformat(),
                        "accountId": account,
                        "attributes": [{"name": "tokens_" + "t" * 43, "value": "1536150123"}],
                        "dimensions": {"region_" + "r" * 43: "eu-west-" + "z" * 80},
                    }
                )
            ]
        )
        assert [r.status for r in results] == ["INGESTION_COMPLETED_EVENT_METERED"], results
        s.flush()
        reference = s.scalars(
            select(StoredEvent.pk).where(StoredEvent.org_id == tenant.org.id, StoredEvent.event_id == event_id)
        ).one()
        balances.credits(ctx).grant(
            [
                Grant(
                    account_id=account,
                    purpose="P" * 200,
                    amount=Decimal("12345678.90"),
                    priority=1,
                    effective_from=first,
                    effective_until=None,
                )
            ]
        )
        balances.wallet(ctx).top_up(account, Decimal("987654321.12"))
        # a feature with the longest name, an active entry and a voided one whose id holds # and $
        feature = FeatureService(ctx).create("F" * 255, "B" * 255, [Association(LONG_CATALOG, "tokens_" + "t" * 43)])
        feature_credits = FeatureCreditService(ctx)
        feature_credits.grant(
            FeatureGrant(account_id=account, feature_id=feature.feature.pk, granted=Decimal("123456789012.5"))
        )
        cycle = feature_credits.grant(
            FeatureGrant(
                account_id=account,
                feature_id=feature.feature.pk,
                granted=Decimal(10),
                effective_until=now + timedelta(days=30),
                source=EntrySource.PRICE_PLAN,
                entry_id=f"ps.{'0' * 26}#20260101$PRICE_PLAN",
            )
        )
        feature_credits.void(account, feature.feature.pk, cycle.entry_id)
        invoices = InvoiceService(ctx)
        voided, _ = invoices.create_custom(
            account,
            now - timedelta(days=90),
            now - timedelta(days=60),
            "DUE",
            [{"description": "L" * 200, "value": Decimal("123456789.01")}],
            auto_advance=False,
            apply_credits=False,
            apply_wallet=False,
            idempotency_key=None,
        )
        invoices.update(voided.pk, "VOID", {})
        owner = AccountRepository(s, tenant.org.id).by_id(account)
        assert owner is not None
        ongoing = invoices.ongoing(owner)
        assert ongoing is not None
        job = request_correction(ctx, "UNDO", CorrectionEvent(id=event_id), expected_reference=None).job
        return World(
            customer=customer,
            account=account,
            plan=plan.plan.id,
            schema=schema.id,
            meter=meter.id,
            draft=ongoing.pk,
            voided=voided.pk,
            event=reference,
            feature=feature.feature.pk,
            job=job.pk,
        )


def pages_of(w: World) -> dict[str, tuple[str, int]]:
    """Every console page: name -> (path, how many money columns it has at least)."""
    acct = f"/accounts/{w.account}"
    return {
        "dashboard": ("/dashboard", 0),
        "customers": ("/customers", 0),
        "customer": (f"/customers/{w.customer}", 0),
        "customer-edit": (f"/customers/{w.customer}/edit", 0),
        "customer-new": ("/customers/new", 0),
        "account-new": (f"/customers/{w.customer}/accounts/new", 0),
        "account-summary": (f"{acct}?tab=summary", 1),
        "account-schedule": (f"{acct}?tab=schedule", 0),
        "account-schedule-draft": (f"{acct}/schedule-draft", 0),
        "account-credits": (f"{acct}?tab=credits", 2),
        "account-invoices": (f"{acct}?tab=invoices", 1),
        "account-wallet": (f"{acct}?tab=wallet", 2),
        "account-entitlements": (f"{acct}?tab=entitlements", 2),
        "invoices": ("/invoices", 1),
        "invoice-draft": (f"/invoices/{w.draft}", 2),
        "invoice-void": (f"/invoices/{w.voided}", 1),
        "plans": ("/price-plans", 0),
        "plan": (f"/price-plans/{w.plan}", 1),
        "plan-new": ("/price-plans/new", 0),
        "plan-card": (f"/price-plans/{w.plan}/cards/new?kind=usage", 0),
        "plan-draft": (f"/price-plans/{w.plan}/draft", 0),
        "plan-draft-edit": (f"/price-plans/{w.plan}/draft/edit", 0),
        "meters": ("/usage-meters", 0),
        "meter": (f"/usage-meters/{w.meter}", 0),
        "meter-new": ("/usage-meters/new", 0),
        "schemas": ("/event-schemas", 0),
        "schema": (f"/event-schemas/{w.schema}", 0),
        "schema-new": ("/event-schemas/new", 0),
        "features": ("/features", 0),
        "feature": (f"/features/{w.feature}", 1),
        "feature-new": ("/features/new", 0),
        "feature-edit": (f"/features/{w.feature}/edit", 0),
        "events": ("/events", 0),
        "event": (f"/events/{w.event}", 1),
        "jobs": ("/jobs", 0),
        "reports": ("/reports", 0),
        "job": (f"/jobs/{w.job}", 0),
        "settings-organization": ("/settings?tab=organization", 0),
        "settings-api-keys": ("/settings?tab=api-keys", 0),
        "settings-users": ("/settings?tab=users", 0),
        "settings-password": ("/settings?tab=password", 0),
        "error-404": (f"/customers/{w.customer}-gone", 0),
    }


# Each table's header cells, as (text, is a money column, display, its box after scrolling it into view)
HEADERS = """() => [...document.querySelectorAll('table')].map(t => {
  const cells = [...t.querySelectorAll('thead th, thead td')];
  const first = t.querySelector('tbody tr');
  if (first && getComputedStyle(first).display === 'grid') {  // a table that stacks on a phone: each cell labelled
    const width = document.documentElement.clientWidth;
    return [...t.querySelectorAll('tbody td')].filter(td => td.innerText.trim()).map(td => {
      const box = td.getBoundingClientRect();
      return {text: td.getAttribute('data-label') || '', display: getComputedStyle(td).display === 'none'
              ? 'none' : 'table-cell', left: box.left, right: box.right, width: box.width, rows: [],
              stacked: true, labelled: td.cellIndex === 0 || !!td.getAttribute('data-label')};
    });
  }
  return cells.map(th => {
    th.scrollIntoView({block: 'nearest', inline: 'nearest'});
    const box = th.getBoundingClientRect();
    const below = [...t.querySelectorAll('tbody tr')].map(r => r.cells[th.cellIndex] || r);
    return {text: th.innerText.trim(), display: getComputedStyle(th).display, left: box.left, right: box.right,
            width: box.width, rows: below.map(cell => getComputedStyle(cell).display)};
  });
})"""


def assert_columns_reachable(page: Page, where: str, money_columns: int) -> None:
    """No column is hidden: each header cell (and its cells below) is displayed, and scrolling its table (or the
    page) brings it wholly on screen. A table that stacks its rows on a phone (the invoice's lines) has no header
    row to see: each of its cells is shown, labelled and on screen instead."""
    width = page.evaluate("document.documentElement.clientWidth")
    money = 0
    for table in page.evaluate(HEADERS):
        seen: set[str] = set()
        for th in table:
            if th.get("stacked"):  # a stacked row's cells: each shown, labelled, on screen; a money label counts once
                assert th["labelled"], f"{where}: a stacked cell has no label: {th}"
                if th["text"] in seen:
                    th["text"] = ""
                seen.add(th["text"])
            assert th["display"] == "table-cell", f"{where}: column {th['text']!r} is {th['display']}"
            assert all(d != "none" for d in th["rows"]), f"{where}: cells of {th['text']!r} are hidden"
            assert th["width"] > 0 and th["left"] >= -1 and th["right"] <= width + 1, f"{where}: {th} off screen"
            money += bool(th["text"] and MONEY.search(th["text"]))
    assert money >= money_columns, f"{where}: {money} money columns, expected {money_columns} at least"
    page.evaluate("window.scrollTo(0, 0)")


def test_every_page_fits_any_screen_keeps_its_columns_and_reads_clearly(
    any_page: Page, screen: str, person: tuple[str, str], world: World, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    sign_in(page, *person)
    checked = 0
    for name, (path, money_columns) in pages_of(world).items():
        page.goto(path)
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        shot(page, f"screen-{name}-{screen}", engine)
        fits(page)
        assert_columns_reachable(page, f"{name} at {screen}", money_columns)
        checked += assert_text_contrast(page, f"{name} at {screen}")
    assert checked > 500  # the walk read real pages, not empty ones

    # The long name wraps inside the screen: on the customer's page and in a list
    page.goto(f"/customers/{world.customer}")
    heading = page.get_by_role("heading", name=LONG)
    assert heading.bounding_box()["width"] <= page.viewport_size["width"]  # type: ignore[index]
    assert heading.bounding_box()["height"] > 60  # type: ignore[index]  # several lines
    page.goto("/invoices")
    cell = page.locator("table.invoices tbody tr").first.get_by_role("link", name=LONG).first
    expect(cell).to_be_visible()
    assert cell.bounding_box()["height"] > 60  # type: ignore[index]


def test_signed_out_pages_fit_and_read_clearly(any_page: Page, screen: str, db_url: str) -> None:
    page, engine = any_page, engine_of(db_url)
    page.goto("/login")
    shot(page, f"screen-login-{screen}", engine)
    fits(page)
    assert_text_contrast(page, f"login at {screen}")
    page.get_by_label("Email").fill("nobody@example.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
    assert_text_contrast(page, f"login refused at {screen}")
    # An address no page has, signed out: a page in words with the way to sign in
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("There is no page at /no-such-page.")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    shot(page, f"screen-error-signed-out-{screen}", engine)
    fits(page)
    assert_text_contrast(page, f"signed-out 404 at {screen}")
    page.get_by_role("link", name="Sign in to the console").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/no-such-page$"))


# -- the keyboard ------------------------------------------------------------------------------------------------
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const layers = (start) => {
    const out = [];
    for (let e = start; e && e.nodeType === 1; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') out.push(bg);
    }
    return out;
  };
  const box = el.getBoundingClientRect();
  return {text: (el.innerText || el.value || el.getAttribute('aria-label') || el.tagName).trim().slice(0, 40),
          tag: el.tagName, inMain: !!el.closest('main'), inSide: !!el.closest('nav.side'),
          style: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor,
          offset: parseFloat(style.outlineOffset), own: layers(el), around: layers(el.parentElement),
          top: box.top, left: box.left, bottom: box.bottom, right: box.right};
}"""


def assert_focus_ring(page: Page, where: str) -> dict[str, Any]:
    """The focused element has a solid ring at least 2 px wide, 3:1 against what it is drawn over: the parent's
    background when it is drawn outside the element, the element's own when inside."""
    f = page.evaluate(FOCUSED)
    assert f["style"] not in ("none", "hidden") and f["width"] >= 2, f"{where}: {f['text']!r} has no visible ring: {f}"
    behind = backdrop(f["own"] if f["offset"] < 0 else f["around"])
    ratio = contrast(_over(f["color"], behind), behind)
    assert ratio >= 3, f"{where}: the ring of {f['text']!r} is {ratio:.2f}:1 ({f['color']} over {behind})"
    return f


def test_the_keyboard_skips_to_the_content_and_every_focus_shows(
    any_page: Page, screen: str, person: tuple[str, str], world: World, db_url: str
) -> None:
    page, engine = any_page, engine_of(db_url)
    sign_in(page, *person)
    for path in ("/dashboard", f"/accounts/{world.account}?tab=credits", "/invoices", "/settings?tab=users"):
        page.goto(path)
        skip = page.get_by_role("link", name="Skip to content")
        assert skip.bounding_box()["y"] + skip.bounding_box()["height"] <= 0  # type: ignore[index]  # hidden
        page.keyboard.press("Tab")  # the first thing Tab reaches
        expect(skip).to_be_focused()
        box = skip.bounding_box()
        assert box is not None and box["y"] >= 0 and box["x"] >= 0  # shown while focused
        assert_focus_ring(page, f"skip link on {path}")
        shot(page, f"screen-skip-link-{screen}", engine)
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")  # on into the page, past the menu
        assert page.evaluate(FOCUSED)["inMain"], f"{path}: Tab after the skip link left the content"

    # Every stop of the side menu and of the page shows a ring of 3:1 (the menu is dark, the page light)
    page.goto(f"/accounts/{world.account}?tab=credits")
    seen_side = seen_main = 0
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            break  # past the last control
        f = assert_focus_ring(page, f"credits tab at {screen}")
        seen_side += f["inSide"]
        seen_main += f["inMain"]
        if f["inSide"] and f["text"] == "Customers":
            shot(page, f"screen-focus-menu-{screen}", engine)
        if f["inMain"] and f["tag"] == "INPUT" and seen_main < 10:
            shot(page, f"screen-focus-content-{screen}", engine)
    assert seen_side >= 10 and seen_main >= 10  # the brand, 8 sections, sign out; the tabs, fields and buttons


# -- sign-in, errors and the favicon -----------------------------------------------------------------------------
def test_signing_in_lands_on_the_dashboard(page: Page, person: tuple[str, str], tenant: Tenant, db_url: str) -> None:
    page.goto("/login")
    assert page.locator("input[name=next]").input_value() == "/dashboard"
    page.get_by_label("Email").fill(person[0])
    page.get_by_label("Password").fill(person[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shot(page, "screen-signed-in", engine_of(db_url))
    # A page asked for before signing in is still where one lands; a target on another site is not followed
    with httpx.Client(base_url=tenant.base_url) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        landed = client.post("/login", data={"email": person[0], "password": person[1], "csrf": token[1]})
        assert landed.status_code == 303 and landed.headers["location"] == "/dashboard"
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person, next="/invoices").headers["location"] == "/invoices"
    with httpx.Client(base_url=tenant.base_url) as client:
        assert http_sign_in(client, *person, next="//evil.example/").headers["location"] == "/dashboard"


def _member(session_factory: sessionmaker[Session], tenant: Tenant) -> tuple[str, str]:
    email, password = f"member-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    with unit_of_work(session_factory) as s:
        service = TenancyService(s)
        org = service.organization(tenant.org.id)
        service.create_user(org=org, email=email, password=password, now=utc_now(), name="Member", role="MEMBER")
    return email, password


def _user_id(session_factory: sessionmaker[Session], email: str) -> str:
    with unit_of_work(session_factory) as s:
        return str(s.scalars(select(User.id).where(User.email == email)).one())


def test_errors_are_pages_in_the_layout_with_a_way_back(
    any_page: Page,
    screen: str,
    person: tuple[str, str],
    tenant: Tenant,
    session_factory: sessionmaker[Session],
    db_url: str,
) -> None:
    page, engine = any_page, engine_of(db_url)
    sign_in(page, *person)
    me = _user_id(session_factory, person[0])
    cases = [
        # (path, status, heading, message, the way back, the section lit in the menu)
        ("/customers/nobody-here", 404, "Not found", "Customer nobody-here not found", "Customers", "Customers"),
        ("/invoices/inv.nothing", 404, "Not found", "inv.nothing", "Invoices", "Invoices"),
        ("/customers/nobody-here/nothing", 404, "Not found", "There is no page at /customers/nobody-here/nothing.",
         "Customers", "Customers"),
        ("/no-such-page", 404, "Not found", "There is no page at /no-such-page.", "the dashboard", "Dashboard"),
        (f"/settings/users/{me}/remove", 400, "That could not be done", "You cannot remove yourself: ask another admin",
         "Settings", "Settings"),
        ("/price-plans/pp.nothing?version=2", 404, "Not found", "pp.nothing", "Price Plans", "Price Plans"),
    ]  # fmt: skip
    for path, status, heading, message, back, section in cases:
        response = page.goto(path)
        assert response is not None and response.status == status, path
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text(message)
        menu = page.get_by_role("navigation", name="Main")
        expect(menu.get_by_role("link", name=section, exact=True)).to_have_attribute("aria-current", "page")
        expect(menu.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("link", name=f"Back to {back}")).to_be_visible()
        fits(page)
        shot(page, f"screen-error-{status}-{path.strip('/').split('/')[0]}-{screen}", engine)
    page.get_by_role("link", name="Back to Price Plans").click()
    expect(page.get_by_role("heading", name="Price Plans")).to_be_visible()

    # 403: a stale form (its token no longer the session's), and a member opening an admin's page
    page.goto("/customers/new")
    page.locator("main input[name=csrf]").evaluate("input => input.value = 'stale'")
    page.get_by_label("Customer Name").fill("Stale Tab Inc")
    page.get_by_label("Email ID").fill("stale@tab.test")
    page.get_by_label("Customer ID").fill("stale-tab")
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("The form has expired: reload the page and send it again")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers")).to_be_visible()
    shot(page, f"screen-error-403-form-{screen}", engine)
    page.get_by_role("link", name="Back to Customers").click()
    expect(page.get_by_text("Stale Tab Inc")).to_have_count(0)  # nothing was saved

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, *_member(session_factory, tenant))
    response = page.goto(f"/settings/users/{me}/remove")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Only an admin can remove users")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_attribute(
        "aria-current", "page"
    )
    fits(page)
    assert_text_contrast(page, f"403 at {screen}")
    shot(page, f"screen-error-403-member-{screen}", engine)


def test_api_errors_stay_json(tenant: Tenant, person: tuple[str, str]) -> None:
    """The API's answers are not the console's pages: `{"message": ...}`, whoever asks (a signed-in browser too)."""
    with httpx.Client(base_url=tenant.base_url) as browser_like:
        http_sign_in(browser_like, *person)
        for client, headers in ((browser_like, {}), (browser_like, tenant.headers)):
            missing = client.get("/api/customers/nobody", headers=headers)
            unknown = client.get("/api/no-such-path", headers=headers)
            for answer in (missing, unknown):
                assert answer.headers["content-type"].startswith("application/json"), answer.text
                assert set(answer.json()) == {"message"}, answer.text
            assert unknown.status_code == 404 and unknown.json()["message"].startswith("No such API path")
        assert browser_like.get("/api/customers/nobody").status_code == 401  # a console cookie is no API key
    with tenant.http() as api:
        missing = api.get("/customers/nobody")
        assert missing.status_code == 404 and missing.json() == {"message": "Customer nobody not found"}
        refused = api.post("/customers", json={})
        assert refused.status_code == 400 and list(refused.json()) == ["message"]
        wrong = api.delete("/customers")
        assert wrong.status_code == 405 and list(wrong.json()) == ["message"]
    # ...while the console's own answer to the same kind of mistake is a page
    with httpx.Client(base_url=tenant.base_url) as console:
        http_sign_in(console, *person)
        page = console.get("/customers/nobody")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Customer nobody not found" in page.text and 'aria-label="Main"' in page.text
        wrong = console.delete("/customers")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET" and 'aria-label="Main"' in wrong.text
        # a form field the page cannot read (a file where a name is typed): a 400 page in words, not FastAPI's JSON
        odd = console.post("/customers/new", data={"csrf": "x"}, files={"name": ("name.txt", b"Acme")})
        assert odd.status_code == 400 and odd.headers["content-type"].startswith("text/html"), odd.text
        assert "The page could not read what was sent (name)" in odd.text and 'aria-label="Main"' in odd.text


def test_a_favicon_of_its_own(page: Page, person: tuple[str, str], tenant: Tenant) -> None:
    answer = httpx.get(f"{tenant.base_url}/console-static/favicon.svg")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.text.startswith("<svg") and "http" not in answer.text.replace("http://www.w3.org/2000/svg", "")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/login")
    assert page.locator("link[rel=icon]").get_attribute("href") == "/console-static/favicon.svg"
    sign_in(page, *person)
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/console-static/favicon.svg")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.wait_for_load_state()
    assert all(url.startswith(tenant.base_url) for url in requests), requests  # nothing from another site
