"""Settings → Webhooks in real headless Chromium, against a live server (and its delivery worker) on both engines:
an endpoint added with its secret shown once, the secret rotated through its confirmation, a delivery to a real
local receiver seen failing in the log with its attempts, then replayed (a range, then one delivery) until it
arrives; an endpoint changed, disabled, enabled and deleted; mistakes said in words with what was typed kept
(docs/console.md, docs/webhooks.md). Screenshots go to `test-results/console/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant, new_tenant
from tests.console.browsing import engine_of, fits, menu, server_judges, shot, sign_in
from tests.webhook_receiver import Receiver, wait_for


@pytest.fixture
def tenant(session_factory: sessionmaker[Session], sending_server: str) -> Tenant:
    """The organization on a server that delivers webhooks (the shared server does not): the pages open on it."""
    return new_tenant(session_factory, sending_server)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(answer=500).start()  # the receiver is broken at first: every attempt fails with a 500
    yield r
    r.stop()


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def _custom_invoice(tenant: Tenant) -> str:
    """A customer and a custom invoice: the invoice.created message."""
    now = datetime.now(UTC).replace(microsecond=0)
    with tenant.http() as http:
        _ok(http.post("/customers", json={"id": "acme", "name": "Acme", "primaryEmail": "a@x.test", "address": {}}))
        body = {
            "accountId": "acme",
            "startDate": (now - timedelta(days=30)).isoformat(),
            "endDate": now.isoformat(),
            "status": "DUE",
            "lineItems": [{"description": "Setup", "value": 120}],
        }
        return str(_ok(http.post("/invoices", json=body))["id"])


def _log(tenant: Tenant, endpoint_id: str) -> list[dict[str, Any]]:
    with tenant.http() as http:
        return list(_ok(http.get(f"/webhooks/endpoints/{endpoint_id}/deliveries"))["data"])


def test_an_endpoint_is_added_rotated_and_its_failed_delivery_replayed(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str, receiver: Receiver
) -> None:
    page, engine = any_page, engine_of(db_url)
    sign_in(page, *person)
    menu(page, "Settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()
    page.get_by_role("link", name="+ New endpoint").first.click()

    # Mistakes first, each in words on the form, what was typed kept (the browser's own checks off: the server judges)
    server_judges(page, page.get_by_role("button", name="Add endpoint"))
    page.get_by_label("URL").fill("ftp://files.example.com/in")
    page.get_by_label("Description").fill("ERP")
    page.get_by_label("invoice.created", exact=True).check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".field-error")).to_have_text(
        "URL: 'ftp://files.example.com/in' must be an http or https URL with a host, e.g. https://example.com/hooks"
    )
    expect(page.get_by_label("Description")).to_have_value("ERP")
    expect(page.get_by_label("invoice.created", exact=True)).to_be_checked()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("invoice.created", exact=True).uncheck()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".field-error")).to_have_text("Event types: tick at least one")
    expect(page.get_by_label("URL")).to_have_value(receiver.url)
    shot(page, f"webhooks-new-error-{screen}", engine)
    page.get_by_label("invoice.created", exact=True).check()
    page.get_by_role("button", name="Add endpoint").click()

    # The secret, shown once (post-redirect-get); a reload does not show it again
    expect(page).to_have_url(re.compile(r"/once$"))
    expect(page.get_by_text("Copy it now: it won't be shown again.")).to_be_visible()
    first = page.get_by_label("New webhook secret").input_value()
    assert first.startswith("whsec_")
    shot(page, f"webhooks-secret-once-{screen}", engine)
    page.reload()
    expect(page.get_by_role("heading", name="Shown already")).to_be_visible()
    assert first not in page.content()
    with tenant.http() as http:
        [endpoint] = _ok(http.get("/webhooks/endpoints"))["data"]
    assert (endpoint["url"], endpoint["eventTypes"], endpoint["description"]) == (
        receiver.url,
        ["invoice.created"],
        "ERP",
    )
    page.goto("/settings/webhooks")
    row = page.get_by_role("row").filter(has_text=receiver.url)
    expect(row).to_contain_text("invoice.created")
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("None yet")
    fits(page)
    row.get_by_role("link", name=receiver.url).click()
    expect(page.get_by_role("heading", name=receiver.url)).to_be_visible()
    assert first not in page.content()

    # Rotate through the confirmation: the old secret keeps verifying for the overlap window
    page.get_by_role("link", name="Rotate secret").click()
    expect(page.get_by_role("heading", name=f"Rotate the secret of {receiver.url}?")).to_be_visible()
    expect(page.locator(".consequence")).to_contain_text("The current secret keeps verifying for 24 hours")
    shot(page, f"webhooks-rotate-{screen}", engine)
    page.get_by_role("button", name="Rotate secret").click()
    expect(page).to_have_url(re.compile(r"/once$"))
    expect(page.get_by_text("The previous secret keeps verifying until")).to_be_visible()
    rotated = page.get_by_label("New webhook secret").input_value()
    assert rotated.startswith("whsec_") and rotated != first
    with tenant.http() as http:
        assert _ok(http.get(f"/webhooks/endpoints/{endpoint['id']}"))["secretRotatedUntil"]
    page.get_by_role("link", name="I have copied it").click()
    expect(page.get_by_role("heading", name=receiver.url)).to_be_visible()
    expect(page.get_by_text("The previous secret still signs until")).to_be_visible()

    # A custom invoice: the worker tries to deliver invoice.created, the receiver answers 500
    receiver.secrets = [rotated]
    _custom_invoice(tenant)
    wait_for(lambda: any(d["attempts"] >= 1 for d in _log(tenant, endpoint["id"])))
    [delivery] = _log(tenant, endpoint["id"])
    page.reload()
    row = page.get_by_role("row").filter(has_text=delivery["messageId"])
    expect(row).to_contain_text("invoice.created")
    expect(row).to_contain_text("Pending")  # to be retried
    expect(row).to_contain_text("500")
    shot(page, f"webhooks-endpoint-{screen}", engine)
    fits(page)
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="invoice.created delivery")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").nth(1)).to_contain_text("500")
    expect(page.get_by_text('"type":"invoice.created"')).to_be_visible()  # the payload
    fits(page)
    page.get_by_role("link", name=receiver.url).click()

    # Replay the failed deliveries of a range (the last 7 days by default): the count is shown before anything is sent
    page.get_by_role("button", name="Replay failed deliveries…").click()
    expect(page.get_by_role("heading", name=f"Replay the failed deliveries of {receiver.url}?")).to_be_visible()
    expect(page.locator(".consequence")).to_contain_text("1 message sent to this endpoint from")
    expect(page.locator(".consequence")).to_contain_text("with the same webhook-id")  # as docs/webhooks.md says
    page.get_by_role("button", name="Replay deliveries").click()
    expect(page.get_by_role("status")).to_have_text("1 message sent again: each is a new pending delivery.")
    expect(page.get_by_role("row").filter(has_text=delivery["messageId"])).to_have_count(2)

    # The receiver is fixed; replay the first delivery through its confirmation: it arrives, same webhook-id
    receiver.answer = 204
    page.goto(f"/settings/webhooks/{endpoint['id']}/deliveries/{delivery['id']}")
    page.get_by_role("link", name="Replay").click()
    expect(page.get_by_role("heading", name="Replay this invoice.created delivery?")).to_be_visible()
    shot(page, f"webhooks-replay-{screen}", engine)
    page.get_by_role("button", name="Replay delivery").click()
    expect(page.get_by_role("status")).to_contain_text(f"The invoice.created message {delivery['messageId']} is sent")
    wait_for(lambda: delivery["messageId"] in {r.webhook_id for r in receiver.accepted})
    made = page.url.rsplit("/", 1)[1]
    assert made != delivery["id"]
    wait_for(lambda: {d["id"]: d["status"] for d in _log(tenant, endpoint["id"])}[made] == "SUCCEEDED")
    page.reload()
    expect(page.locator(".facts")).to_contain_text("Delivered")
    expect(page.get_by_role("table").get_by_role("row").nth(1)).to_contain_text("204")
    shot(page, f"webhooks-delivery-{screen}", engine)
    fits(page)


def test_an_endpoint_is_changed_disabled_enabled_and_deleted(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    with tenant.http() as http:
        made = _ok(
            http.post("/webhooks/endpoints", json={"url": "http://127.0.0.1:9/in", "eventTypes": ["invoice.paid"]})
        )
    path = f"/settings/webhooks/{made['id']}"
    sign_in(page, *person)
    page.goto(path)

    # Edit: a refusal in words with what was typed kept, then saved
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("invoice.paid", exact=True)).to_be_checked()
    page.get_by_label("URL").fill("http://127.0.0.1:9/erp")
    page.get_by_label("invoice.paid", exact=True).uncheck()
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.locator(".field-error")).to_have_text("Event types: tick at least one")
    expect(page.get_by_label("URL")).to_have_value("http://127.0.0.1:9/erp")
    page.get_by_label("payment.created", exact=True).check()
    page.get_by_label("invoice.voided", exact=True).check()
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_role("status")).to_have_text("Webhook endpoint http://127.0.0.1:9/erp is saved.")
    with tenant.http() as http:
        read = _ok(http.get(f"/webhooks/endpoints/{made['id']}"))
    assert (read["url"], read["eventTypes"]) == ("http://127.0.0.1:9/erp", ["invoice.voided", "payment.created"])

    # A range that ends before it starts: said next to the field, the days kept
    page.get_by_label("From").fill("2026-12-10")
    page.get_by_label("Until").fill("2026-12-01")
    page.get_by_role("button", name="Replay failed deliveries…").click()
    expect(page.locator(".field-error")).to_have_text("Until: the last day must not be before From")
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-12-10")

    # Disable and enable, each asked first
    page.get_by_role("link", name="Disable").click()
    expect(page.get_by_role("heading", name="Disable http://127.0.0.1:9/erp?")).to_be_visible()
    page.get_by_role("button", name="Disable endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("is disabled: it gets no new messages")
    expect(page.locator(".facts")).to_contain_text("Disabled")
    expect(page.locator(".facts")).to_contain_text("disabled by hand")
    shot(page, "webhooks-disabled", engine)
    page.get_by_role("link", name="Enable").click()
    page.get_by_role("button", name="Enable endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("is enabled")
    with tenant.http() as http:
        assert _ok(http.get(f"/webhooks/endpoints/{made['id']}"))["status"] == "ENABLED"

    # Delete, asked first: gone from the list and from the API
    page.get_by_role("link", name="Delete").click()
    expect(page.locator(".consequence")).to_contain_text("This cannot be undone")
    page.get_by_role("button", name="Delete endpoint").click()
    expect(page.get_by_role("status")).to_have_text(
        "Webhook endpoint http://127.0.0.1:9/erp is deleted: it gets no more messages."
    )
    expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()
    with tenant.http() as http:
        assert http.get(f"/webhooks/endpoints/{made['id']}").status_code == 404
    assert page.goto(path).status == 404  # type: ignore[union-attr]
