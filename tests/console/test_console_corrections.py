"""The event page's correction (at once, or waiting for confirmation) and the jobs pages with Confirm / Reject, in
headless Chromium against a live server, on both engines."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import togai_client as tc
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.events.schemas import CorrectionEvent
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.events import PENDING_FOR
from meterline.usecases.jobs import request_correction
from tests.api.billing_setup import growth_plan, month_start
from tests.api.conftest import Sdk, create_metering_catalog
from tests.api.test_event_corrections_sdk import jobs, pending
from tests.api.test_ingestion_sdk import ev
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant
from tests.console.browsing import engine_of, shot, sign_in


def _setup(tenant: Tenant) -> Sdk:
    """acme on Growth from the 1st of this month (D4's tiered card on the SUM meter us_calls): one open draft."""
    sdk = Sdk(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
    meter = create_metering_catalog(sdk)["sum"]
    plan = growth_plan(sdk, meter, fee)
    sdk.accounts.update_pricing_schedule("acme", associate(plan, month_start(datetime.now(timezone.utc)), OPEN))
    return sdk


def _open_event(page: Page, event_id: str) -> None:
    page.goto("/events")
    page.get_by_role("link", name=event_id, exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"Event {event_id}"))).to_be_visible()


def test_a_correction_waits_for_confirm_or_reject_on_its_job_page(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sdk = _setup(tenant)
    at = datetime.now(timezone.utc) - timedelta(minutes=5)
    ingestion = tc.EventIngestionApi(sdk.client)
    ingestion.ingest_batch(
        tc.IngestBatchEventRequest(
            events=[ev("c-1", calls="7", at=at), ev("c-2", calls="2", at=at), ev("c-3", calls="1", at=at)]
        )
    )
    sign_in(page, *person)

    # UNDO with "Require confirmation" (the default): a job page shows what changes; nothing changed yet
    _open_event(page, "c-1")
    expect(page.get_by_label(re.compile("Require confirmation"))).to_be_checked()
    page.get_by_role("button", name="Correct event").click()
    expect(page.get_by_role("heading", name=re.compile("Event correction"))).to_contain_text("WAITING_FOR_CONFIRMATION")
    expect(page.get_by_role("status")).to_contain_text("Nothing is changed yet")
    units = page.locator("table.preview-units tbody tr")
    expect(units.filter(has_text="us_calls")).to_contain_text("7")
    expect(units.filter(has_text="us_calls").locator("td").nth(2)).to_have_text("0")
    invoice = page.locator("table.preview-invoice")
    expect(invoice.locator("tr", has_text="Usage of us_calls").locator("td").nth(1)).to_have_text("10")
    expect(invoice.locator("tr", has_text="Usage of us_calls").locator("td").nth(2)).to_have_text("3")
    shot(page, "correction-job-waiting", engine)
    assert [e.ingestion_status.status for e in tc.EventManagementApi(sdk.client).get_single_event("c-1").events] == [
        "INGESTION_COMPLETED_EVENT_METERED"
    ]
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("The job ran: completed")
    expect(page.get_by_role("heading", name=re.compile("Event correction"))).to_contain_text("COMPLETED")
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    assert [e.ingestion_status.status for e in tc.EventManagementApi(sdk.client).get_single_event("c-1").events] == [
        "REVERTED"
    ]

    # REDO, confirmation asked, then rejected: nothing changed; the jobs list shows both
    _open_event(page, "c-2")
    page.get_by_role("radio", name=re.compile("Redo")).check()
    page.get_by_role("button", name="Correct event").click()
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("rejected: nothing was changed")
    expect(page.get_by_role("heading", name=re.compile("Event correction"))).to_contain_text("CANCELLED")
    page.goto("/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    expect(page.locator("table.jobs tbody tr").first).to_contain_text("CANCELLED")

    # an UNDO waiting while the event is undone directly: Confirm is refused in words, the job says why
    _open_event(page, "c-3")
    page.get_by_role("button", name="Correct event").click()
    expect(page.get_by_role("heading", name=re.compile("Event correction"))).to_contain_text("WAITING_FOR_CONFIRMATION")
    job_url = page.url
    tc.EventManagementApi(sdk.client).event_correction(
        action="UNDO", event_correction_request=tc.EventCorrectionRequest(event=ev("c-3", calls="1", at=at))
    )
    page.goto(job_url)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("stored statuses are REVERTED")
    expect(page.get_by_role("heading", name=re.compile("Event correction"))).to_contain_text("FAILED")
    expect(page.locator("table.entries")).to_contain_text("stored statuses are REVERTED")
    shot(page, "correction-job-failed", engine)

    # without confirmation the correction applies at once
    _open_event(page, "c-2")
    page.get_by_label(re.compile("Require confirmation")).uncheck()
    page.get_by_role("button", name="Correct event").click()
    expect(page.get_by_role("status")).to_contain_text("The event is corrected")
    assert [e.ingestion_status.status for e in tc.EventManagementApi(sdk.client).get_single_event("c-2").events] == [
        "REVERTED"
    ]


def test_the_correct_form_corrects_the_event_of_its_page_only(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """A page opened before the event was redone through the API (a new event with the same id) cannot correct the
    new one: the form is refused in words (409), at once or waiting for confirmation, and nothing changes."""
    sdk = _setup(tenant)
    at = datetime.now(timezone.utc) - timedelta(minutes=5)
    management = tc.EventManagementApi(sdk.client)
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("r-1", calls="7", at=at)]))
    sign_in(page, *person)
    _open_event(page, "r-1")
    other = page.context.new_page()  # the same page in a second tab: one form posted at once, one with confirmation
    other.goto(page.url)
    management.event_correction(
        action="REDO_EVENT", event_correction_request=tc.EventCorrectionRequest(event=ev("r-1", calls="3", at=at))
    )

    for tab, confirm in ((page, False), (other, True)):
        if not confirm:
            tab.get_by_label(re.compile("Require confirmation")).uncheck()
        tab.get_by_role("button", name="Correct event").click()
        expect(tab.get_by_role("status")).to_contain_text("The event was not corrected")
        expect(tab.get_by_role("status")).to_contain_text("was corrected since you opened it")
        stored = [e.ingestion_status.status for e in management.get_single_event("r-1").events]
        assert stored == ["REVERTED", "INGESTION_COMPLETED_EVENT_METERED"], stored  # the redone event stays
    page.goto("/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(0)


def test_a_redo_event_job_shows_what_it_will_ingest(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """A REDO_EVENT waiting for confirmation names the corrected payload: its account (another one here) and time in
    the job's metadata (newAccountId, newTimestamp) and on its page, with its attributes and dimensions."""
    sdk = _setup(tenant)
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="beta", name="Beta Ltd", primary_email="b@beta.test", address=tc.Address())
    )
    at = (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)
    moved = at - timedelta(minutes=1)
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=[ev("m-1", calls="7", at=at)]))
    _, job_id = pending(sdk, "REDO_EVENT", ev("m-1", calls="4", region="eu", account="beta", at=moved))
    shown = jobs(sdk).get_job_status(job_id).metadata
    stamp = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (shown["accountId"], shown["newAccountId"], shown["newTimestamp"]) == ("acme", "beta", stamp), shown

    sign_in(page, *person)
    page.goto(f"/jobs/{job_id}")
    ingests = page.locator("dd.payload")
    expect(ingests).to_contain_text(f"account beta at {stamp}")
    expect(ingests).to_contain_text("calls = 4")
    expect(ingests).to_contain_text("region = eu")
    expect(ingests.get_by_role("link", name="beta")).to_have_attribute("href", "/accounts/beta")


def test_an_expired_correction_shows_no_confirm(
    page: Page, person: tuple[str, str], tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    """A correction requested 8 days ago (its 7 days are over) still waits (GET /jobs/{id} says
    WAITING_FOR_CONFIRMATION) but the jobs list and its page say it expired and offer Reject only; one requested now
    offers both."""
    sdk = _setup(tenant)
    at = datetime.now(timezone.utc) - timedelta(minutes=5)
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(events=[ev("x-1", calls="7", at=at), ev("x-2", calls="1", at=at)])
    )
    made = {}
    for event_id, ago in (("x-1", PENDING_FOR + timedelta(days=1)), ("x-2", timedelta(0))):
        with unit_of_work(session_factory) as s:
            org = s.get(Organization, tenant.org.id)
            assert org is not None
            ctx = Context(session=s, org=org, now=utc_now() - ago)
            made[event_id] = request_correction(ctx, "UNDO", CorrectionEvent(id=event_id), expected_reference=None)
    old, fresh = made["x-1"].job.pk, made["x-2"].job.pk
    assert jobs(sdk).get_job_status(old).status == "WAITING_FOR_CONFIRMATION"

    sign_in(page, *person)
    page.goto("/jobs")
    expect(page.locator("tr", has_text=old).get_by_role("link", name="Expired: reject")).to_be_visible()
    expect(page.locator("tr", has_text=fresh).get_by_role("link", name="Confirm or reject")).to_be_visible()
    page.goto(f"/jobs/{old}")
    expect(page.locator("dd.expired")).to_contain_text("expired: it can no longer be confirmed")
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_be_visible()
    page.goto(f"/jobs/{fresh}")
    expect(page.locator("dd.expired")).to_have_count(0)
    expect(page.get_by_role("button", name="Confirm")).to_be_visible()
