"""Reports in real headless Chromium against a live server on both engines: a template run over a period from the
Reports section, its page with its status and progress, its CSV downloaded through the signed link and checked
against the invoice, and a mistake said in words with what was typed kept (docs/reports.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant, new_tenant, start_server, stop_server
from tests.console.browsing import engine_of, fits, menu, shot, sign_in


@pytest.fixture(scope="module")
def reports_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with the local store (the one every test server of this database shares: tests/conftest.py)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, base_url = start_server(db_url, log)
    yield base_url
    stop_server(process)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the server logged errors:\n{log.read_text()}"


@pytest.fixture
def tenant(session_factory: sessionmaker[Session], reports_server: str) -> Tenant:
    return new_tenant(session_factory, reports_server)


def _invoice(tenant: Tenant) -> dict[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    with tenant.http() as http:
        made = http.post("/customers", json={"id": "acme", "name": "Acme", "primaryEmail": "a@x.test", "address": {}})
        assert made.status_code == 201, made.text
        body = {
            "accountId": "acme",
            "startDate": (now - timedelta(days=30)).isoformat(),
            "endDate": now.isoformat(),
            "status": "DUE",
            "lineItems": [{"description": "Setup", "value": 120.5}],
        }
        invoice = http.post("/invoices", json=body)
        assert invoice.status_code in (200, 201), invoice.text
        return dict(http.get(f"/invoices/{invoice.json()['id']}").json())


def test_a_report_is_run_followed_and_downloaded(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str, tmp_path: Path
) -> None:
    engine = engine_of(db_url)
    invoice = _invoice(tenant)
    sign_in(page, *person)
    menu(page, "Reports")
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.get_by_text("No reports yet.")).to_be_visible()
    today = datetime.now(UTC).date()
    # a mistake: the period ends before it starts; said in words, what was typed kept
    page.locator("select[name=template]").select_option("invoices_per_period")
    page.get_by_label("From").fill(today.isoformat())
    page.get_by_label("To", exact=True).fill((today - timedelta(days=3)).isoformat())
    page.get_by_label("Account", exact=True).fill("acme")
    page.get_by_role("button", name="Run report").click()
    expect(page.get_by_role("alert")).to_have_text("toDate: must be after fromDate")
    expect(page.get_by_label("Account", exact=True)).to_have_value("acme")
    # the report over the last 60 days, for acme
    page.get_by_label("From").fill((today - timedelta(days=60)).isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Run report").click()
    expect(page.get_by_role("status")).to_have_text(
        "The report is queued: this page follows it until its file is ready."
    )
    # the page refreshes itself while the server's report runner works: COMPLETED, with its progress full
    expect(page.locator(".facts .badge")).to_have_text("COMPLETED", timeout=60_000)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Invoices per period {today - timedelta(days=60)} to {today}"
    )
    progress = page.get_by_label("Rows written")
    expect(progress).to_have_attribute("value", "1")
    expect(progress).to_have_attribute("max", "1")
    expect(page.get_by_text("1 of 1 rows")).to_be_visible()
    expect(page.locator(".facts .badge")).to_have_text("COMPLETED")
    fits(page)
    shot(page, "report", engine)
    # the download goes through the signed link; the CSV is the invoice's
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("invoices_per_period-") and download.suggested_filename.endswith(
        ".csv"
    )
    saved = tmp_path / "report.csv"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == 1
    assert rows[0]["id"] == invoice["id"] and rows[0]["accountId"] == "acme"
    assert Decimal(rows[0]["totalAmount"]) == Decimal(str(invoice["totalAmount"])) == Decimal("120.5")
    # the list shows it, with its file
    menu(page, "Reports")
    row = page.get_by_role("row").filter(has_text="Invoices per period")
    expect(row).to_contain_text("COMPLETED")
    expect(row.get_by_role("link", name="Download CSV")).to_be_visible()
    fits(page)
    shot(page, "reports", engine)
