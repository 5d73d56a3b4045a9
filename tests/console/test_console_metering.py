"""Event Schemas, Usage Meters and Events in real headless Chromium, against a live server on both engines: a person
creates a schema (a mistake first), edits it into version 2, builds a SUM meter filtered on a dimension, activates it;
events arrive through the API; the person finds them in the event log and opens their pipelines. What the browser
made is read back through the API. Screenshots go to `test-results/console/` (docs/console.md)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from meterline.console.metering_forms import RowError, condition_of, filter_words
from tests.conftest import Tenant
from tests.console.browsing import engine_of, http_sign_in, menu, shot, sign_in


def _event(event_id: str, account: str, tokens: str, region: str, schema: str, at: datetime) -> dict:
    return {
        "schemaName": schema,
        "id": event_id,
        "timestamp": at.isoformat(),
        "accountId": account,
        "attributes": [{"name": "tokens", "value": tokens}, {"name": "latency_ms", "value": "80"}],
        "dimensions": {"region": region, "model": "small", "plan": "pro"},
    }


def test_schema_meter_and_the_events_they_meter(
    page: Page, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    engine = engine_of(db_url)
    tag = secrets.token_hex(3)
    schema_name, meter_name, customer = f"llm_calls_{tag}", f"EU tokens {tag}", f"acme-{tag}"
    sign_in(page, *person)

    # -- Event Schemas: empty, then "+ New Event Schema" with a mistake shown next to its field ----------------
    menu(page, "Event Schemas")
    expect(page.get_by_role("heading", name="Event Schemas")).to_be_visible()
    expect(page.get_by_text("No event schemas yet")).to_be_visible()
    shot(page, "schemas-empty", engine)
    page.get_by_role("link", name="+ New Event Schema").first.click()
    page.get_by_label(re.compile(r"^Name\b")).fill(schema_name)
    page.get_by_label("Description (optional)").fill("Calls to the model API")
    page.get_by_label("Attribute 1 name").fill("tokens")
    page.get_by_label("Attribute 1 unit").fill("tok")
    page.get_by_label("Attribute 2 name").fill("latency/ms")  # a slash: not allowed in a name
    page.get_by_label("Dimension 1 name").fill("region")
    page.get_by_label("Dimension 2 name").fill("model")
    page.get_by_role("button", name="+ Add attribute").click()  # one more row, without JavaScript
    expect(page.get_by_label("Attribute 3 name")).to_have_value("")
    expect(page.get_by_label("Attribute 2 name")).to_have_value("latency/ms")
    page.get_by_role("button", name="Create Event Schema").click()
    expect(page.locator(".field-error")).to_have_text("Use letters, digits, '_', '-' and spaces only")
    expect(page.get_by_label("Attribute 1 name")).to_have_value("tokens")
    expect(page.get_by_label("Dimension 2 name")).to_have_value("model")
    shot(page, "schema-new-error", engine)
    page.get_by_label("Attribute 2 name").fill("latency_ms")
    page.get_by_label("Attribute 2 unit").fill("ms")
    page.get_by_role("button", name="Create Event Schema").click()

    # The schema's page: a draft; activate it, then add a dimension (an ACTIVE schema gets version 2)
    expect(page.get_by_role("heading", name=schema_name)).to_contain_text("Draft")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=schema_name)).to_contain_text("Active")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_text("saving makes version 2")).to_be_visible()
    page.get_by_label("Dimension 3 name").fill("plan")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row", name="v2 Active tokens, latency_ms region, model, plan")).to_be_visible()
    expect(page.get_by_role("row", name="v1 Archived tokens, latency_ms region, model")).to_be_visible()
    shot(page, "schema", engine)
    menu(page, "Event Schemas")
    expect(
        page.get_by_role(
            "row",
            name=f"{schema_name} Calls to the model API tokens (tok), latency_ms (ms) region, model, plan Active v2 0",
        )
    ).to_be_visible()
    shot(page, "schemas", engine)

    # -- Usage Meters: "+ New Usage Meter", SUM of tokens where region is eu; mistakes first ------------------
    menu(page, "Usage Meters")
    expect(page.get_by_text("No usage meters yet")).to_be_visible()
    page.get_by_role("link", name="+ New Usage Meter").first.click()
    expect(page.get_by_label("Event schema")).to_have_value(schema_name)
    page.get_by_label("Name", exact=True).fill(meter_name)
    page.get_by_label("SUM: add up an attribute").check()
    page.get_by_label("Filter 1 field").select_option(label="region (dimension)")
    page.get_by_label("Filter 1 operator").select_option(label="greater than")
    page.get_by_label("Filter 1 value").fill("eu")
    page.get_by_role("button", name="Create Usage Meter").click()
    expect(page.get_by_text("Pick the attribute a SUM meter adds up for each matching event")).to_be_visible()
    expect(page.get_by_text("Filter 1: region is a dimension (text): use is, is not or is one of")).to_be_visible()
    expect(page.get_by_label("Filter 1 value")).to_have_value("eu")
    expect(page.get_by_label("Name", exact=True)).to_have_value(meter_name)
    shot(page, "meter-new-error", engine)
    # an advanced jsonLogic that reads a field the schema lacks: the service's words, next to the textarea
    page.get_by_label("Attribute to sum (SUM only)").select_option(label="tokens")
    page.get_by_label("Filter 1 operator").select_option(label="is")
    page.get_by_label("Advanced: jsonLogic (optional)").fill('{">": [{"var": "attribute.cost"}, 1]}')
    page.get_by_role("button", name="Create Usage Meter").click()
    expect(page.locator(".field-error")).to_have_text(
        re.compile(
            r"var 'attribute\.cost' is not an attribute or "
            rf"dimension of event schema {schema_name}"
        )
    )
    page.get_by_label("Advanced: jsonLogic (optional)").fill("")
    page.get_by_role("button", name="Create Usage Meter").click()

    # The meter's page: a draft; activate it
    expect(page.get_by_role("heading", name=meter_name)).to_contain_text("Draft")
    meter_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_text("SUM of tokens")).to_be_visible()
    expect(page.get_by_text("dimension.region is eu")).to_be_visible()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=meter_name)).to_contain_text("Active")
    expect(page.get_by_role("button", name="Deactivate")).to_be_visible()
    shot(page, "meter", engine)
    menu(page, "Usage Meters")
    expect(
        page.get_by_role(
            "row",
            name=re.compile(
                rf"{meter_name} {meter_id} {schema_name} SUM of tokens · filtered "
                r"Active"
            ),
        )
    ).to_be_visible()
    shot(page, "meters", engine)

    # -- events arrive through the API: two EU, one US (filtered out), one for an account nobody has ---------------
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    with tenant.http() as http:
        r = http.post(
            "/customers", json={"id": customer, "name": "Acme Inc", "primaryEmail": "ops@acme.test", "address": {}}
        )
        assert r.status_code == 201, r.text
        r = http.post(
            "/ingestBatch",
            json={
                "events": [
                    _event(f"e1-{tag}", customer, "120.5", "eu", schema_name, at),
                    _event(f"e2-{tag}", customer, "30", "eu", schema_name, at),
                    _event(f"e3-{tag}", customer, "50", "us", schema_name, at),
                    _event(f"e4-{tag}", f"nobody-{tag}", "7", "eu", schema_name, at),
                ]
            },
        )
        assert r.status_code == 207, r.text
        assert [(e["eventId"], e["status"]) for e in r.json()["errors"]] == [
            (f"e4-{tag}", "INGESTION_FAILED_ACCOUNT_NOT_FOUND")
        ]

    # -- Events: filter by account, open one, see its pipeline ---------------------------------------------------
    menu(page, "Events")
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    expect(page.locator("table.events tbody tr")).to_have_count(4)
    shot(page, "events", engine)
    page.get_by_label("Account ID").fill(customer)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(f"e3-{tag}")  # newest first
    expect(page.get_by_role("link", name=f"e4-{tag}")).to_have_count(0)
    page.get_by_label("Status").select_option(label="All failed")
    page.get_by_label("Account ID").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"e4-{tag}")
    expect(rows.first).to_contain_text("Failed: account not found")
    shot(page, "events-filtered", engine)
    page.get_by_role("link", name=f"e4-{tag}").click()
    expect(page.get_by_text(f"No account has id or alias 'nobody-{tag}'").first).to_be_visible()
    expect(page.get_by_text("The event stopped before the meters")).to_be_visible()
    shot(page, "event-failed", engine)

    page.get_by_role("link", name="Events").first.click()
    page.get_by_label("Account ID").fill(customer)
    page.get_by_label("Event schema").fill(schema_name)
    page.get_by_label("From").fill(at.date().isoformat())
    page.get_by_label("to", exact=True).fill(at.date().isoformat())
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    page.get_by_role("link", name=f"e1-{tag}").click()
    expect(page.get_by_role("heading", name=f"Event e1-{tag}")).to_contain_text("Not metered (no plan then)")
    expect(page.get_by_text("INGESTION_COMPLETED_EVENT_NOT_METERED")).to_be_visible()
    expect(page.get_by_role("row", name="tokens 120.5 —")).to_be_visible()
    expect(page.get_by_role("row", name="region eu")).to_be_visible()
    expect(page.get_by_role("row", name=f"{meter_name} Units computed 120.5")).to_be_visible()
    shot(page, "event", engine)
    page.go_back()
    page.get_by_role("link", name=f"e3-{tag}").click()
    expect(page.get_by_role("row", name=f"{meter_name} Filtered out —")).to_be_visible()

    # -- what the browser made, read back through the API --------------------------------------------------------
    with tenant.http() as http:
        meter = http.get(f"/usage_meters/{meter_id}").json()
        schema = http.get(f"/event_schema/{schema_name}").json()
        start = at.replace(minute=at.minute - at.minute % 15, second=0)
        usage = http.get(
            f"/accounts/{customer}/usage",
            params={"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()},
        ).json()
    assert {k: meter[k] for k in ("name", "type", "aggregation", "status", "filters", "computations")} == {
        "name": meter_name,
        "type": "COUNTER",
        "aggregation": "SUM",
        "status": "ACTIVE",
        "filters": [],
        "computations": [
            {
                "matcher": '{"==":[{"var":"dimension.region"},"eu"]}',
                "computation": '{"var":"attribute.tokens"}',
                "order": 1,
            }
        ],
    }
    assert meter["lastActivatedAt"] is not None and meter.get("description") is None
    assert {k: schema[k] for k in ("version", "status", "description", "attributes", "dimensions")} == {
        "version": 2,
        "status": "ACTIVE",
        "description": "Calls to the model API",
        "attributes": [{"name": "tokens", "defaultUnit": "tok"}, {"name": "latency_ms", "defaultUnit": "ms"}],
        "dimensions": [{"name": "region"}, {"name": "model"}, {"name": "plan"}],
    }
    assert [(m["name"], Decimal(str(m["usage"])), m["events"]) for m in usage["meters"]] == [
        (meter_name, Decimal("150.5"), 2)
    ]


def test_a_meter_page_refuses_in_words(page: Page, person: tuple[str, str], tenant: Tenant, db_url: str) -> None:
    """A meter of a DRAFT schema cannot be activated: the page says why; an ACTIVE schema with a meter cannot be
    archived. Nothing changes."""
    tag = secrets.token_hex(3)
    with tenant.http() as http:
        assert (
            http.post(
                "/event_schema", json={"name": f"s_{tag}", "attributes": [{"name": "n"}], "dimensions": []}
            ).status_code
            == 201
        )
        meter = http.post(
            "/usage_meters",
            json={"name": f"m_{tag}", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": f"s_{tag}"},
        ).json()
    sign_in(page, *person)
    page.goto(f"/usage-meters/{meter['id']}")
    expect(page.get_by_text("none: every event of the schema")).to_be_visible()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"Usage meter m_{tag} cannot be activated: its event schema s_{tag} is DRAFT, not ACTIVE "
        "(activate the schema first)"
    )
    page.get_by_role("link", name=f"s_{tag}", exact=True).click()
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("link", name=f"m_{tag}", exact=True).click()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name=f"m_{tag}")).to_contain_text("Active")
    page.get_by_role("link", name=f"s_{tag}", exact=True).click()
    page.get_by_role("link", name="Archive").click()  # an irreversible action: a confirmation page first
    expect(page.get_by_role("heading", name=f"Archive the event schema s_{tag}?")).to_be_visible()
    page.get_by_role("button", name="Archive schema").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be deleted while ACTIVE usage meters use it")
    shot(page, "schema-refused", engine_of(db_url))
    with tenant.http() as http:
        assert http.get(f"/event_schema/s_{tag}").json()["status"] == "ACTIVE"


def test_filter_rows_become_jsonlogic_and_back() -> None:
    assert condition_of("dimension.region", "in", "eu, us") == {"in": [{"var": "dimension.region"}, ["eu", "us"]]}
    assert condition_of("attribute.tokens", "ge", "1,000.50") == {
        ">=": [{"var": "attribute.tokens"}, Decimal("1000.50")]
    }
    for field, op, value, words in [
        ("attribute.tokens", "gt", "ten", "tokens is a number attribute"),
        ("dimension.region", "lt", "eu", "region is a dimension"),
        ("", "is", "eu", "Pick the field"),
        ("dimension.region", "is", " ", "Enter the value"),
    ]:
        with pytest.raises(RowError, match=words):
            condition_of(field, op, value)
    assert filter_words(
        '{"and":[{"==":[{"var":"dimension.region"},"eu"]},{">":[{"var":"attribute.tokens"},10.5]}]}'
    ) == ["dimension.region is eu", "attribute.tokens greater than 10.5"]
    assert filter_words('{"in":[{"var":"dimension.model"},["a","b"]]}') == ["dimension.model is one of a, b"]
    assert filter_words('{"if":[true,1,2]}') is None and filter_words(None) == []


def test_mistakes_are_400_pages_in_words_never_500(tenant: Tenant, person: tuple[str, str]) -> None:
    """What a person can type or follow wrongly, through the forms as the browser posts them."""
    import httpx

    tag = secrets.token_hex(3)
    with tenant.http() as api:
        assert (
            api.post(
                "/event_schema",
                json={"name": f"my calls {tag}", "attributes": [{"name": "n"}], "dimensions": [{"name": "d"}]},
            ).status_code
            == 201
        )
        assert api.post(f"/event_schema/my calls {tag}/activate").status_code == 200
        assert (
            api.post(
                "/customers", json={"id": f"x-{tag}", "name": "Xeno Labs", "primaryEmail": "x@x.test", "address": {}}
            ).status_code
            == 201
        )
        r = api.post(
            "/ingestBatch",
            json={
                "events": [
                    {
                        "schemaName": f"my calls {tag}",
                        "timestamp": datetime.now(timezone.utc).isoformat(),
                        "accountId": f"x-{tag}",
                        "attributes": [{"name": "n", "value": "1"}],
                        "dimensions": {"d": "a"},
                    }
                ]
            },
        )
        assert r.json()["errors"][0]["status"] == "INGESTION_FAILED_NO_EVENT_ID"
        at = datetime.now(timezone.utc) - timedelta(minutes=5)
        assert (
            api.post(
                "/ingestBatch",
                json={
                    "events": [
                        {
                            "schemaName": f"my calls {tag}",
                            "id": f"p{i:02d}-{tag}",
                            "timestamp": (at + timedelta(seconds=i)).isoformat(),
                            "accountId": f"x-{tag}",
                            "attributes": [{"name": "n", "value": "1"}],
                            "dimensions": {"d": "a"},
                        }
                        for i in range(27)
                    ]
                },
            ).status_code
            == 202
        )
    with httpx.Client(base_url=tenant.base_url, timeout=30) as web:
        http_sign_in(web, person[0], person[1])
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/event-schemas/new").text)[1]  # type: ignore[index]

        def schema_form(**fields: object) -> httpx.Response:
            return web.post("/event-schemas/new", data={"csrf": csrf, **fields})  # type: ignore[arg-type]

        def meter_form(**fields: object) -> httpx.Response:
            base = {"csrf": csrf, "name": f"m {tag}", "event_schema": f"my calls {tag}", "aggregation": "COUNT"}
            return web.post("/usage-meters/new", data={**base, **fields})  # type: ignore[arg-type]

        for query, words in [
            ("status=bogus", "Pick a status from the list"),
            ("start=2024-13-01", "Pick a date"),
            ("start=2024-02-01&end=2024-01-01", "The last day comes on or after the first"),
            ("page=garbage", "Page: &#39;garbage&#39; is not a page number"),
        ]:
            r = web.get(f"/events?{query}")
            assert r.status_code == 400 and words in r.text, query
        assert web.get("/event-schemas/es.nope").status_code == 404
        assert web.get("/usage-meters/um.nope").status_code == 404
        assert web.get("/events/event.nope").status_code == 404
        assert web.post("/usage-meters/um.nope/bogus", data={"csrf": csrf}).status_code == 404

        r = schema_form(name=f"s{tag}", attr_name=["a", "a"], attr_unit=["", ""], dim_name=["b"])
        assert r.status_code == 400 and "&#39;a&#39; is given twice" in r.text
        r = schema_form(name=f"s{tag}", attr_name=["a"], attr_unit=["a-very-long-unit"], dim_name=["a"])
        assert r.status_code == 400 and "Unit: At most 10 characters, please" in r.text
        r = schema_form(name=f"s{tag}", attr_name=["a"], attr_unit=[""], dim_name=["a"])
        assert r.status_code == 400 and "is both an attribute and a dimension" in r.text
        r = schema_form(name=f"my calls {tag}", attr_name=["a"], attr_unit=[""], dim_name=[""])
        assert r.status_code == 400 and "already exists" in r.text
        r = schema_form(name="", attr_name=["a"], attr_unit=[""], dim_name=[""], action="add_dimension")
        assert r.status_code == 200 and r.text.count('name="dim_name"') == 2

        r = meter_form(advanced="{not json")
        assert r.status_code == 400 and "This is not valid JSON" in r.text
        r = meter_form(field=["attribute.n"], op=["ge"], value=["ten"])
        assert r.status_code == 400 and "Filter 1: n is a number attribute: enter a number" in r.text
        r = meter_form(event_schema="nope")
        assert r.status_code == 400 and "Event schema nope not found" in r.text
        r = meter_form(field=["dimension.d"], op=["is"], value=["a"], action="add_filter")
        assert r.status_code == 200 and r.text.count('name="value"') == 2
        r = meter_form(
            aggregation="SUM",
            sum_attribute="attribute.n",
            field=["attribute.n", "dimension.d", ""],
            op=["ge", "in", "is"],
            value=["10", "a, b", ""],
        )
        assert r.status_code == 303, r.text
        meter_id = r.headers["location"].rsplit("/", 1)[1]
        page = web.get(r.headers["location"]).text
        assert "attribute.n at least 10" in page and "dimension.d is one of a, b" in page
        events = web.get("/events", params={"status": "failed"}).text
        reference = re.search(r'href="/events/([^"]+)">no id</a>', events)[1]  # type: ignore[index]
        event = web.get(f"/events/{reference}")
        assert event.status_code == 200 and "An event needs an id" in event.text
        first = web.get("/events", params={"account": f"x-{tag}"}).text  # 28 events: 25, then 3
        ids = re.findall(r'href="/events/[^"]+">([^<]+)</a>', first)
        assert ids == [f"p{i:02d}-{tag}" for i in range(26, 1, -1)]  # newest received first
        assert "1–25 of 28 events" in first
        older = re.search(r'<a href="([^"]+)" rel="next">', first)[1].replace("&amp;", "&")  # type: ignore[index]
        second = web.get(older).text
        assert re.findall(r'href="/events/[^"]+">([^<]+)</a>', second) == [f"p01-{tag}", f"p00-{tag}", "no id"]
        assert "26–28 of 28 events" in second and 'rel="prev"' in second and 'rel="next"' not in second
        schemas = web.get("/event-schemas").text
        assert f"my calls {tag}" in schemas
    with tenant.http() as api:
        meter = api.get(f"/usage_meters/{meter_id}").json()
    assert meter["computations"] == [
        {
            "matcher": '{"and":[{">=":[{"var":"attribute.n"},10]},{"in":[{"var":"dimension.d"},["a","b"]]}]}',
            "computation": '{"var":"attribute.n"}',
            "order": 1,
        }
    ]


def test_saves_say_so_and_archiving_a_meter_asks_first(
    any_page: Page, screen: str, person: tuple[str, str], tenant: Tenant, db_url: str
) -> None:
    """Every save is confirmed by a notice (post-redirect-get: a reload posts nothing); archiving, which cannot be
    undone, goes through a page that says so, and Cancel changes nothing."""
    page, tag = any_page, secrets.token_hex(3)
    with tenant.http() as http:
        assert (
            http.post(
                "/event_schema", json={"name": f"s_{tag}", "attributes": [{"name": "n"}], "dimensions": []}
            ).status_code
            == 201
        )
        meter = http.post(
            "/usage_meters",
            json={"name": f"m_{tag}", "type": "COUNTER", "aggregation": "COUNT", "eventSchemaName": f"s_{tag}"},
        ).json()
    sign_in(page, *person)
    page.goto(f"/usage-meters/{meter['id']}")
    page.get_by_role("link", name="Archive").click()
    expect(page.get_by_role("heading", name=f"Archive the usage meter m_{tag}?")).to_be_visible()
    expect(page.get_by_text("It cannot be activated again")).to_be_visible()
    shot(page, f"meter-archive-confirm-{screen}", engine_of(db_url))
    page.get_by_role("link", name="Cancel").click()
    with tenant.http() as http:
        assert http.get(f"/usage_meters/{meter['id']}").json()["status"] == "DRAFT"
    page.get_by_role("link", name="Archive").click()
    page.get_by_role("button", name="Archive meter").click()
    expect(page.get_by_role("status")).to_have_text("The usage meter is archived.")
    page.reload()  # the notice is shown once, and the reload posts nothing
    expect(page.get_by_role("status")).to_have_count(0)
    with tenant.http() as http:
        assert http.get(f"/usage_meters/{meter['id']}").json()["status"] == "ARCHIVED"
