"""An event schema's enrichments and event id template in real headless Chromium, against a live server on both
engines: a person adds them in the schema form (a mistake first, shown next to the enrichments), sees them on the
schema's page; an event sent without an id through the API gets its id from the template, and its page shows what
was derived. What the browser made is read back through the API. Screenshots go to `test-results/console/`."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

from playwright.sync_api import Page, expect

from tests.conftest import Tenant
from tests.console.browsing import engine_of, menu, shot, sign_in


def test_enrichments_in_the_schema_form_and_on_the_event(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    tag = secrets.token_hex(3)
    schema_name, customer = f"uploads_{tag}", f"acme-{tag}"
    sign_in(page, *person)

    menu(page, "Event Schemas")
    page.get_by_role("link", name="+ New Event Schema").first.click()
    page.get_by_label(re.compile(r"^Name\b")).fill(schema_name)
    page.get_by_label("Attribute 1 name").fill("bytes")
    page.get_by_label("Dimension 1 name").fill("region")
    page.get_by_role("button", name="+ Add enrichment").click()  # one row, without JavaScript
    page.get_by_role("button", name="+ Add enrichment").click()
    page.get_by_label("Enrichment 1 name").fill("bytes")  # a mistake: the schema's own attribute
    page.get_by_label("Enrichment 1 value").fill('{"/":[{"var":"attribute.bytes"},1000]}')
    page.get_by_label("Enrichment 2 name").fill("tier")
    page.get_by_label("Enrichment 2 field").select_option(label="Dimension")
    page.get_by_label("Enrichment 2 kind").select_option(label="Constant")
    page.get_by_label("Enrichment 2 value").fill("gold")
    page.get_by_label("Event id template (optional)").fill("{{accountId}}-{{dimension.region}}-{{timestamp}}")
    page.get_by_role("button", name="Create Event Schema").click()
    expect(page.locator(".field-error")).to_have_text(
        re.compile(r"enrichments\.fields\[0\]\.name: 'bytes' is already an attribute or dimension of the schema")
    )
    expect(page.get_by_label("Enrichment 2 value")).to_have_value("gold")  # the rows are kept
    expect(page.get_by_label("Enrichment 2 kind")).to_have_value("VALUE")
    shot(page, "schema-enrichments-error", engine)
    page.get_by_label("Enrichment 1 name").fill("kb")
    page.get_by_role("button", name="Create Event Schema").click()

    expect(page.get_by_role("heading", name=schema_name)).to_contain_text("Draft")
    expect(
        page.get_by_role("row", name='1 kb attribute jsonLogic {"/":[{"var":"attribute.bytes"},1000]}')
    ).to_be_visible()
    expect(page.get_by_role("row", name="2 tier dimension constant gold")).to_be_visible()
    expect(page.get_by_text("{{accountId}}-{{dimension.region}}-{{timestamp}}")).to_be_visible()
    shot(page, "schema-enrichments", engine)
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=schema_name)).to_contain_text("Active")
    # the edit form shows them again, as saved
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Enrichment 1 name")).to_have_value("kb")
    expect(page.get_by_label("Enrichment 2 field")).to_have_value("DIMENSION")
    expect(page.get_by_label("Event id template (optional)")).to_have_value(
        "{{accountId}}-{{dimension.region}}-{{timestamp}}"
    )
    page.get_by_role("link", name="Cancel").click()

    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    event = {
        "schemaName": schema_name,
        "timestamp": at.isoformat(),
        "accountId": customer,
        "attributes": [{"name": "bytes", "value": "2500"}],
        "dimensions": {"region": "eu"},
    }
    event_id = f"{customer}-eu-{at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    with tenant.http() as http:
        r = http.post("/customers", json={"id": customer, "name": "Acme", "primaryEmail": "o@acme.test", "address": {}})
        assert r.status_code == 201, r.text
        r = http.post("/ingestBatch", json={"events": [event, event]})  # a producer's retry: no id of its own
        assert r.status_code == 207, r.text
        assert [(e["eventId"], e["status"]) for e in r.json()["errors"]] == [
            (event_id, "INGESTION_FAILED_DUPLICATE_EVENT")
        ]

    menu(page, "Events")
    page.get_by_label("Event schema").fill(schema_name)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("row").filter(has_text="No matching meters").get_by_role("link", name=event_id).click()
    expect(page.get_by_role("heading", name=f"Event {event_id}")).to_be_visible()
    expect(page.get_by_role("heading", name="Enrichments")).to_be_visible()
    expect(page.get_by_role("row", name="kb attribute 2.5")).to_be_visible()
    expect(page.get_by_role("row", name="tier dimension gold")).to_be_visible()
    shot(page, "event-enrichments", engine)

    with tenant.http() as http:
        schema = http.get(f"/event_schema/{schema_name}").json()
    assert schema["eventIdTemplate"] == "{{accountId}}-{{dimension.region}}-{{timestamp}}"
    assert schema["enrichments"] == {
        "fields": [
            {
                "name": "kb",
                "type": "ATTRIBUTE",
                "enrichmentType": "JSON_LOGIC",
                "value": '{"/":[{"var":"attribute.bytes"},1000]}',
                "order": 1,
            },
            {"name": "tier", "type": "DIMENSION", "enrichmentType": "VALUE", "value": "gold", "order": 2},
        ]
    }
