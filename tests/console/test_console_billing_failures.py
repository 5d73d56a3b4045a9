"""A failing invoice as an operator meets it (issue 14, defect 3), on both engines: `meterline serve` with its
billing worker on a database of three organizations, the middle one with a plan rate no amount can hold (written
straight into the database). The worker bills the other organizations and the broken one's other customer, counts
the failure in /metrics, logs it in one JSON line, and the console shows it on the dashboard and on the invoice."""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.tenancy.service import TenancyService
from tests.conftest import start_server, stop_server
from tests.console.browsing import engine_of, shot, sign_in
from tests.service import test_billing_isolation as isolation
from tests.service.test_billing_isolation import HUGE, _drafts, company, failures, invoices, set_rate

fresh_url, fresh = isolation.fresh_url, isolation.fresh  # the fixtures: a database of the test's own


def test_the_worker_bills_around_a_failing_invoice_and_the_console_shows_it(
    browser: Browser, fresh: sessionmaker[Session], fresh_url: str, tmp_path: Path
) -> None:
    # Given three organizations on plans since the start of last month (its invoice is due now: grace 0); in the
    # middle one, acme's plan rate cannot be computed; a console user of that organization
    now = utc_now()
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=1).date().isoformat()
    set_up = now - timedelta(days=70)
    first = company(fresh, "acme", start=last_month, set_up=set_up)
    broken = company(fresh, "acme", "zeta", start=last_month, set_up=set_up)
    last = company(fresh, "acme", start=last_month, set_up=set_up)
    set_rate(fresh, broken.org_id, broken.plans["acme"], HUGE)
    email, password = f"ops-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    with unit_of_work(fresh) as s:
        service = TenancyService(s)
        service.create_user(
            org=service.organization(broken.org_id), email=email, password=password, now=now, name="Ops"
        )

    # When `meterline serve` runs with its billing worker (a tick a second)
    log = tmp_path / "server.log"
    process, base_url = start_server(fresh_url, log, log_level="info", env={"METERLINE_WORKER_INTERVAL": "1"})
    try:
        deadline = time.monotonic() + 90  # waits for the worker's first tick; not a measure of speed

        def run_done() -> bool:  # the run bills organizations in order: the last one billed means it went past
            return (
                bool(failures(fresh, broken.org_id))
                and bool(invoices(fresh, last.org_id, this_month))
                and all(status == "DUE" for _, status, _, _ in invoices(fresh, last.org_id, this_month))
            )

        while not run_done() and time.monotonic() < deadline:
            time.sleep(0.2)

        # Then the organizations before and after the broken one are billed, and so is its other customer
        [failure] = failures(fresh, broken.org_id)
        [(draft,)] = _drafts(fresh, broken.org_id, this_month)
        assert failure.invoice_pk == draft and failure.attempts == 1
        for org in (first, last):
            billed = [(a, s, n) for a, s, n, _ in invoices(fresh, org.org_id, this_month)]
            assert billed == [("acme", "DUE", "INV-000001")]
        assert [(a, s, n) for a, s, n, _ in invoices(fresh, broken.org_id, this_month)] == [
            ("acme", "DRAFT", None),
            ("zeta", "DUE", "INV-000001"),
        ]

        # And /metrics counts the failure
        metrics = httpx.get(f"{base_url}/metrics", timeout=10).text
        found = re.search(r'^meterline_billing_failures_total\{stage="finalize"\} (\S+)$', metrics, re.M)
        assert found is not None and float(found.group(1)) >= 1

        # And the console's dashboard says which invoice failed, how often, why, and when it is tried next
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, email, password)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_role("heading", name="Billing failures")).to_be_visible()
        notice = page.locator(".billing-failures li")
        expect(notice).to_have_count(1)
        expect(notice).to_contain_text(
            f"Billing of draft invoice {draft} (account acme) failed once: "
            "InvalidOperation: an amount out of the range Meterline can compute"
        )
        expect(notice).to_contain_text(re.compile(r"next attempt at \d{4}-\d\d-\d\d \d\d:\d\d \(UTC\)"))
        shot(page, "billing-failure-dashboard", engine_of(fresh_url))

        # And the invoice's page (which cannot compute its lines) says the same instead of failing
        notice.get_by_role("link").click()
        expect(page).to_have_url(re.compile(f"/invoices/{re.escape(draft)}$"))
        expect(page.locator(".billing-failure")).to_contain_text(
            f"Billing of draft invoice {draft} failed once: InvalidOperation"
        )
        shot(page, "billing-failure-invoice", engine_of(fresh_url))

        # And the lists of invoices show the others, and this one's total as not computable
        page.goto("/invoices?status=ALL")  # drafts too (the list shows the finalized ones by default)
        rows = page.locator("table.invoices tbody tr")
        expect(rows).to_have_count(4)  # November's and December's of acme and zeta
        expect(rows.filter(has_text="cannot be computed")).to_have_count(2)  # acme's (its plan's rate)
        expect(rows.filter(has_text="USD 10.00")).to_have_count(2)  # zeta's
        page.goto(f"/invoices/{draft}")

        # And acme's account page says its ongoing invoice cannot be computed, instead of failing
        page.goto("/accounts/acme")
        expect(page.get_by_role("alert")).to_contain_text("The ongoing invoice cannot be computed: InvalidOperation")
        page.goto(f"/invoices/{draft}")

        # And "Finalize now" refuses with the reason, numbering nothing
        page.get_by_role("link", name="Finalize now").click()
        page.get_by_role("button", name="Finalize invoice").click()
        expect(page.get_by_role("alert").first).to_contain_text(f"Invoice {draft} could not be finalized")
        assert [(a, s, n) for a, s, n, _ in invoices(fresh, broken.org_id, this_month)][0] == ("acme", "DRAFT", None)
        context.close()
    finally:
        stop_server(process)

    # And the server logged the failure in one JSON line with its organization and invoice, and no bare traceback
    lines = log.read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{") and '"billing failed"' in line]
    assert [(e["org_id"], e["invoice_id"]) for e in logged][:1] == [(broken.org_id, draft)]
    assert not [line for line in lines if line.startswith("Traceback")]
