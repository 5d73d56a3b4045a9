"""Ingestion, the events API and the usage read path, through the official SDK and raw HTTP on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client
from togai_client import (
    AddAccountAliasesRequest,
    Attribute,
    CreateAccountAliasRequest,
    Event,
    IngestBatchEventRequest,
    IngestEventRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def ev(
    event_id: str | None,
    calls: str = "10",
    region: str = "us",
    account: str = "acme",
    at: datetime = T0,
    schema: str = "api_calls",
) -> Event:
    return Event(
        schema_name=schema,
        id=event_id,
        timestamp=at,
        account_id=account,
        attributes=[Attribute(name="calls", value=calls)],
        dimensions={"region": region},
    )


def usage(tenant: Tenant, start: datetime, end: datetime, account: str = "acme") -> dict[str, tuple[Decimal, int]]:
    with tenant.http() as http:
        r = http.get(f"/accounts/{account}/usage", params={"start": start.isoformat(), "end": end.isoformat()})
    assert r.status_code == 200, r.text
    return {m["name"]: (Decimal(str(m["usage"])), m["events"]) for m in r.json()["meters"]}


def test_ingest_one_event_then_read_it_back(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_with_http_info(IngestEventRequest(event=ev("e1", calls="120.5")))
    assert response.status_code == 202
    events = togai_client.EventManagementApi(sdk.client)
    single = events.get_single_event("e1").events
    assert len(single) == 1
    stored = single[0]
    assert stored.ingestion_status.status == "INGESTION_COMPLETED_EVENT_NOT_METERED"  # no plan attached yet
    assert stored.event_payload.attributes[0].value == "120.5"
    assert stored.event_payload.timestamp == T0
    info = stored.event_pipeline_info
    assert info.event_schema.name == "api_calls" and info.event_schema.version == 1
    assert info.account.id == "acme" and info.invoice_currency == "USD"
    assert {(m.id, m.status, m.units) for m in info.usage_meters} == {
        (catalog["sum"], "PROCESSED_UNITS_COMPUTED", 120.5),
        (catalog["count"], "PROCESSED_UNITS_COMPUTED", 1),
    }
    assert usage(tenant, T0, T0 + timedelta(hours=1)) == {
        "us_calls": (Decimal("120.5"), 1),
        "requests": (Decimal(1), 1),
    }


def test_a_repeated_id_counts_once(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    ingestion.ingest(IngestEventRequest(event=ev("dup")))
    with pytest.raises(ApiException) as raised:
        ingestion.ingest(IngestEventRequest(event=ev("dup", calls="999")))  # whatever its payload
    assert raised.value.status == 409 and "already ingested" in message_of(raised.value)
    statuses = [
        e.ingestion_status.status for e in togai_client.EventManagementApi(sdk.client).get_single_event("dup").events
    ]
    assert statuses == ["INGESTION_COMPLETED_EVENT_NOT_METERED", "INGESTION_FAILED_DUPLICATE_EVENT"]
    assert usage(tenant, T0, T0 + timedelta(minutes=15))["us_calls"] == (Decimal(10), 1)


def test_batch_accepts_the_good_and_names_the_rejected(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    batch = [
        ev("b1", calls="1.25"),
        ev("b2", calls="2", region="eu"),  # reaches only the COUNT meter
        ev("b1", calls="5"),  # a second copy inside the batch
        ev("b3", account="nobody"),
        ev("b4", schema="unknown_schema"),
        ev(None),
        Event(
            schema_name="api_calls",
            id="b5",
            timestamp=T0,
            account_id="acme",
            attributes=[],
            dimensions={"region": "us"},
        ),
        ev("b6", at=datetime.now(UTC) + timedelta(days=2)),
    ]
    response = ingestion.ingest_batch_with_http_info(IngestBatchEventRequest(events=batch))
    assert response.status_code == 207
    errors = response.data.details["errors"]
    assert [(e["index"], e["status"]) for e in errors] == [
        (2, "INGESTION_FAILED_DUPLICATE_EVENT"),
        (3, "INGESTION_FAILED_ACCOUNT_NOT_FOUND"),
        (4, "INGESTION_FAILED_SCHEMA_NOT_DEFINED"),
        (5, "INGESTION_FAILED_NO_EVENT_ID"),
        (6, "INGESTION_FAILED"),
        (7, "INGESTION_FAILED"),
    ]
    assert "missing attribute calls" in errors[4]["message"]
    assert "future" in errors[5]["message"]
    assert usage(tenant, T0, T0 + timedelta(minutes=15)) == {
        "us_calls": (Decimal("1.25"), 1),
        "requests": (Decimal(2), 2),
    }
    all_ok = ingestion.ingest_batch_with_http_info(IngestBatchEventRequest(events=[ev("c1"), ev("c2")]))
    assert all_ok.status_code == 202 and all_ok.data.success is True


def test_events_list_filters_and_pages(sdk: Sdk, catalog: dict[str, str]) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    ingestion.ingest_batch(
        IngestBatchEventRequest(events=[ev(f"l{i}") for i in range(5)] + [ev("bad", account="nobody")])
    )
    events = togai_client.EventManagementApi(sdk.client)
    first = events.get_events(account_id="acme", page_size=3)
    second = events.get_events(account_id="acme", page_size=3, next_token=first.next_token)
    assert [e.event_payload.id for e in first.events + second.events] == [f"l{i}" for i in range(5)]
    failed = events.get_events(status="INGESTION_FAILED_ACCOUNT_NOT_FOUND")
    assert [e.event_payload.id for e in failed.events] == ["bad"]
    assert len(events.get_events(schema_name="api_calls").events) == 6
    with pytest.raises(NotFoundException, match="Event never not found"):
        events.get_single_event("never")


def test_aliases_resolve_at_the_event_timestamp(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    sdk.accounts.add_aliases(
        "acme",
        AddAccountAliasesRequest(
            account_aliases=[
                CreateAccountAliasRequest(
                    value="acme-phone", effective_from=T0, effective_until=T0 + timedelta(hours=1)
                )
            ]
        ),
    )
    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_batch_with_http_info(
        IngestBatchEventRequest(
            events=[
                ev("a1", account="acme-phone", at=T0 + timedelta(minutes=30)),
                ev("a2", account="acme-phone", at=T0 + timedelta(hours=1)),
            ]
        )
    )
    assert response.status_code == 207
    assert [e["eventId"] for e in response.data.details["errors"]] == ["a2"]
    assert usage(tenant, T0, T0 + timedelta(days=1))["requests"] == (Decimal(1), 1)


def test_usage_windows_follow_event_time(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    moments = [T0 - timedelta(microseconds=1), T0, T0 + timedelta(minutes=14, seconds=59), T0 + timedelta(minutes=15)]
    ingestion.ingest_batch(
        IngestBatchEventRequest(events=[ev(f"w{i}", calls=str(10**i), at=m) for i, m in enumerate(moments)])
    )
    assert usage(tenant, T0, T0 + timedelta(minutes=15))["us_calls"] == (Decimal(110), 2)
    assert usage(tenant, T0 - timedelta(minutes=15), T0 + timedelta(minutes=30))["us_calls"] == (Decimal(1111), 4)
    # +05:45: local midnight is 18:15 UTC, a 15-minute boundary
    kathmandu = timezone(timedelta(hours=5, minutes=45))
    day = datetime(2024, 3, 2, tzinfo=kathmandu)
    assert usage(tenant, day - timedelta(days=1), day)["us_calls"] == (Decimal(1111), 4)


def test_usage_read_path_refuses_bad_windows(tenant: Tenant, catalog: dict[str, str]) -> None:
    with tenant.http() as http:
        off = http.get("/accounts/acme/usage", params={"start": "2024-03-01T10:07:00Z", "end": "2024-03-01T11:00:00Z"})
        assert off.status_code == 400 and "15-minute" in off.json()["message"]
        backwards = http.get(
            "/accounts/acme/usage", params={"start": "2024-03-02T00:00:00Z", "end": "2024-03-01T00:00:00Z"}
        )
        assert (backwards.status_code, backwards.json()["message"]) == (400, "start must be before end")
        nobody = http.get(
            "/accounts/nobody/usage", params={"start": "2024-03-01T00:00:00Z", "end": "2024-03-02T00:00:00Z"}
        )
        assert (nobody.status_code, nobody.json()["message"]) == (404, "Account nobody not found")
        bare = http.get("/accounts/acme/usage")
        assert (bare.status_code, bare.json()["message"]) == (
            400,
            "start: this field is required; end: this field is required",
        )
        numeric = http.get("/accounts/acme/usage", params={"start": "0", "end": "2000-01-01T00:00:00Z"})
        assert numeric.status_code == 400 and numeric.json()["message"].startswith("start:")


def test_shape_errors_reject_the_whole_request(tenant: Tenant, catalog: dict[str, str]) -> None:
    with tenant.http() as http:
        too_many = http.post(
            "/ingestBatch",
            json={
                "events": [
                    {
                        "schemaName": "api_calls",
                        "id": str(i),
                        "timestamp": "2024-03-01T10:00:00Z",
                        "accountId": "acme",
                        "attributes": [],
                        "dimensions": {},
                    }
                    for i in range(1001)
                ]
            },
        )
        assert too_many.status_code == 400 and "events" in too_many.json()["message"]
        empty = http.post("/ingestBatch", json={"events": []})
        assert (empty.status_code, empty.json()["message"]) == (400, "events: Expected `array` of length >= 1")
        no_time = http.post(
            "/ingest",
            json={
                "event": {"schemaName": "api_calls", "id": "x", "accountId": "acme", "attributes": [], "dimensions": {}}
            },
        )
        assert no_time.status_code == 400 and "event.timestamp" in no_time.json()["message"]
        assert http.get("/events", params={"account_id": "acme"}).json()["events"] == []  # nothing was stored


def test_another_organization_cannot_see_or_feed_events(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, other_tenant: Tenant, catalog: dict[str, str]
) -> None:
    togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("mine")))
    with pytest.raises(NotFoundException, match="Event mine not found"):
        togai_client.EventManagementApi(other_sdk.client).get_single_event("mine")
    with pytest.raises(BadRequestException) as raised:  # their schema and account are unknown here
        togai_client.EventIngestionApi(other_sdk.client).ingest(IngestEventRequest(event=ev("theirs")))
    assert "not defined" in raised.value.data.message
    with other_tenant.http() as http:
        theirs = http.get(
            "/accounts/acme/usage", params={"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
        )
        assert (theirs.status_code, theirs.json()["message"]) == (404, "Account acme not found")
    # the same id is independent per organization
    assert usage(tenant, T0, T0 + timedelta(hours=1))["requests"] == (Decimal(1), 1)


def test_long_values_give_short_messages(tenant: Tenant, catalog: dict[str, str]) -> None:
    with tenant.http() as http:
        r = http.post(
            "/ingest",
            json={
                "event": {
                    "schemaName": "api_calls",
                    "id": "x" * 512,
                    "timestamp": T0.isoformat(),
                    "accountId": "0" * 512,
                    "attributes": [{"name": "calls", "value": "1"}],
                    "dimensions": {"region": "us"},
                }
            },
        )
        assert r.status_code == 400 and len(r.json()["message"]) < 200
        stored = http.get("/events", params={"status": "INGESTION_FAILED_ACCOUNT_NOT_FOUND"}).json()["events"]
        assert len(stored) == 1 and len(stored[0]["ingestionStatus"]["statusDescription"]) <= 250
