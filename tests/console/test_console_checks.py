"""Issue 14, defect 7, in the console (headless Chromium, both engines): an address's country and line lengths are
refused next to their fields in the customer forms, and an event's page shows the pipeline recorded at ingestion."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from playwright.sync_api import Page, expect

from tests.conftest import Tenant
from tests.console.browsing import engine_of, http_sign_in, menu, shot, sign_in


def field_error(page: Page, label: str) -> str:
    """The error shown inside the field's own label (next to its input)."""
    return page.locator("label", has=page.locator(f'input[name="{label}"]')).locator(".field-error").inner_text()


def test_address_mistakes_show_next_to_their_fields(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    sign_in(page, *person)
    menu(page, "Customers")
    page.get_by_role("link", name="+ New Customer").first.click()
    page.get_by_label("Customer Name").fill("Atlas Freight")
    page.get_by_label("Email ID").fill("billing@atlas.test")
    page.get_by_label("Customer ID").fill("atlas")
    page.get_by_label("Street").fill("s" * 256)
    page.get_by_label("Country").fill("USA")
    page.get_by_role("button", name="Add Customer").click()
    assert field_error(page, "country") == "Enter a two-letter ISO 3166-1 country code, such as US, DE or IN"
    assert field_error(page, "line1") == "At most 255 characters, please"
    expect(page.get_by_label("Customer Name")).to_have_value("Atlas Freight")
    shot(page, "customer-new-address-errors", engine)
    with tenant.http() as http:
        assert http.get("/customers/atlas").status_code == 404

    page.get_by_label("Street").fill("1 Harbour Road")
    page.get_by_label("Country").fill("us")
    page.get_by_role("button", name="Add Customer").click()
    expect(page.get_by_role("heading", name="Atlas Freight")).to_be_visible()
    with tenant.http() as http:
        assert http.get("/customers/atlas").json()["address"]["country"] == "US"

    page.goto("/customers/atlas/edit")
    page.get_by_label("City").fill("c" * 300)
    page.get_by_label("Postal code").fill("p" * 256)
    page.get_by_label("Country").fill("Germany")
    page.get_by_role("button", name="Save").click()
    assert field_error(page, "country").startswith("Country: enter a two-letter ISO 3166-1 country code")
    assert field_error(page, "city") == "City: at most 255 characters"
    assert field_error(page, "postalCode") == "Postal code: at most 255 characters"
    shot(page, "customer-edit-address-errors", engine)
    with tenant.http() as http:
        assert http.get("/customers/atlas").json()["address"]["country"] == "US"


def test_an_event_page_shows_the_pipeline_recorded_at_ingestion(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    at = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    event = {
        "schemaName": "rides",
        "id": "ride-1",
        "timestamp": at,
        "accountId": "atlas",
        "attributes": [{"name": "km", "value": "12"}],
        "dimensions": {"city": "oslo"},
    }
    with tenant.http() as http:
        assert (
            http.post(
                "/customers",
                json={"id": "atlas", "name": "Atlas Freight", "primaryEmail": "a@atlas.test", "address": {}},
            ).status_code
            == 201
        )
        assert (
            http.post(
                "/event_schema",
                json={"name": "rides", "attributes": [{"name": "km"}], "dimensions": [{"name": "city"}]},
            ).status_code
            == 201
        )
        assert http.post("/event_schema/rides/activate").status_code == 200
        meters = {}
        for name, city in (("oslo_km", "oslo"), ("bergen_km", "bergen")):
            made = http.post(
                "/usage_meters",
                json={
                    "name": name,
                    "type": "COUNTER",
                    "aggregation": "SUM",
                    "eventSchemaName": "rides",
                    "filters": [{"field": "city", "value": city}],
                    "computations": [{"order": 1, "computation": '{"*":[{"var":"attribute.km"},1]}'}],
                },
            ).json()
            assert http.post(f"/usage_meters/{made['id']}/activate").status_code == 200
            meters[name] = made["id"]
        assert http.post("/ingest", json={"event": event}).status_code == 202
        again = http.post("/ingest", json={"event": event})  # a duplicate, stored too
        assert (again.status_code, again.json()["message"]) == (409, "Event 'ride-1' was already ingested")
        # both meters are deactivated afterwards: the event's page still names them as they were
        for meter_id in meters.values():
            assert http.post(f"/usage_meters/{meter_id}/deactivate").status_code == 200
        original, duplicate = (e["referenceId"] for e in http.get("/events/ride-1").json()["events"])

    sign_in(page, *person)
    page.goto(f"/events/{original}")
    pipeline = page.locator("table.pipeline")
    expect(pipeline.get_by_role("row", name="oslo_km Units computed 12")).to_be_visible()
    expect(pipeline.get_by_role("row", name="bergen_km Filtered out")).to_be_visible()
    expect(pipeline).not_to_contain_text(meters["oslo_km"])
    shot(page, "event-pipeline-recorded", engine_of(db_url))
    page.goto(f"/events/{duplicate}")
    expect(page.get_by_text("The event stopped before the meters")).to_be_visible()
    expect(page.locator("table.pipeline")).to_have_count(0)


def test_the_metering_lists_refuse_an_unknown_status_in_words(tenant: Tenant, person: tuple[str, str]) -> None:
    """As the invoices and events lists do: a 400 page saying so next to the filter, not a silent "all"."""
    import httpx

    with httpx.Client(base_url=tenant.base_url, timeout=30) as web:
        http_sign_in(web, *person)
        for path in ("/event-schemas", "/usage-meters", "/events", "/invoices"):
            r = web.get(path, params={"status": "BOGUS"})
            assert r.status_code == 400 and "field-error" in r.text, path
            assert web.get(path).status_code == 200, path
        for path in ("/event-schemas", "/usage-meters"):
            assert web.get(path, params={"status": "ACTIVE"}).status_code == 200, path
