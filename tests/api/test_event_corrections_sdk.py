"""Event corrections (UNDO, REDO, REDO_EVENT) through the official SDK and raw HTTP, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client
from togai_client import (
    Attribute,
    Computation,
    CreateUsageMeterRequest,
    Event,
    EventCorrectionRequest,
    IngestBatchEventRequest,
    IngestEventRequest,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
HOUR = (T0, T0 + timedelta(hours=1))


def ev(event_id: str | None, calls: str = "10", region: str = "us", account: str = "acme", at: datetime = T0) -> Event:
    return Event(
        schema_name="api_calls",
        id=event_id,
        timestamp=at,
        account_id=account,
        attributes=[Attribute(name="calls", value=calls)],
        dimensions={"region": region},
    )


def usage(
    tenant: Tenant, window: tuple[datetime, datetime] = HOUR, account: str = "acme"
) -> dict[str, tuple[Decimal, int]]:
    start, end = window
    with tenant.http() as http:
        r = http.get(f"/accounts/{account}/usage", params={"start": start.isoformat(), "end": end.isoformat()})
    assert r.status_code == 200, r.text
    return {m["name"]: (Decimal(str(m["usage"])), m["events"]) for m in r.json()["meters"]}


def correct(sdk: Sdk, action: str, event: Event, **kwargs: object) -> togai_client.EventCorrectionInfo:
    response = togai_client.EventManagementApi(sdk.client).event_correction(
        action=action, event_correction_request=EventCorrectionRequest(event=event), **kwargs
    )
    assert len(response.data) == 1
    return response.data[0]


def ingest(sdk: Sdk, *events: Event) -> None:
    togai_client.EventIngestionApi(sdk.client).ingest_batch(IngestBatchEventRequest(events=list(events)))


def stored(sdk: Sdk, event_id: str) -> list[tuple[str, str]]:
    return [
        (e.reference_id, e.ingestion_status.status)
        for e in togai_client.EventManagementApi(sdk.client).get_single_event(event_id).events
    ]


def test_undo_removes_exactly_the_event_usage_and_frees_its_id(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("u1", calls="10.125"), ev("u2", calls="3"), ev("u3", calls="7", region="eu"))
    assert usage(tenant) == {"us_calls": (Decimal("13.125"), 2), "requests": (Decimal(3), 3)}
    [(original_ref, _)] = stored(sdk, "u1")

    info = correct(sdk, "UNDO", ev("u1", calls="10.125"))
    assert (info.status, info.reason, info.reference_id) == ("REVERTED", "reverted", original_ref)
    assert info.ingestion_status.status == "REVERTED"
    assert "Reverted by UNDO" in info.ingestion_status.status_description
    assert "INGESTION_COMPLETED_EVENT_NOT_METERED" in info.ingestion_status.status_description
    assert info.event_payload.id == "u1" and info.event_payload.attributes[0].value == "10.125"
    assert usage(tenant) == {"us_calls": (Decimal(3), 1), "requests": (Decimal(2), 2)}
    assert stored(sdk, "u1") == [(original_ref, "REVERTED")]

    # the id is free again, and counts once more
    response = togai_client.EventIngestionApi(sdk.client).ingest_with_http_info(
        IngestEventRequest(event=ev("u1", calls="0.5"))
    )
    assert response.status_code == 202
    assert usage(tenant) == {"us_calls": (Decimal("3.5"), 2), "requests": (Decimal(3), 3)}
    assert [s for _, s in stored(sdk, "u1")] == ["REVERTED", "INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_undo_with_only_the_id_over_raw_http(tenant: Tenant, catalog: dict[str, str], sdk: Sdk) -> None:
    ingest(sdk, ev("h1", calls="4"))
    with tenant.http() as http:
        r = http.post("/events/correction", params={"action": "UNDO"}, json={"event": {"id": "h1"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(d["status"], d["reason"], d["ingestionStatus"]["status"]) for d in body["data"]] == [
        ("REVERTED", "reverted", "REVERTED")
    ]
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}


def test_redo_keeps_usage_when_nothing_changed_and_applies_the_current_meters(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("r1", calls="2.5"), ev("r2", calls="1"))
    before = usage(tenant)
    [(first_ref, _)] = stored(sdk, "r1")

    info = correct(sdk, "REDO", ev("r1", calls="2.5"))
    assert info.status == "REVERTED_AND_REINGESTED" and first_ref in info.reason
    assert info.reference_id != first_ref and info.ingestion_status.status == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert usage(tenant) == before
    refs = stored(sdk, "r1")
    assert refs == [(first_ref, "REVERTED"), (info.reference_id, "INGESTION_COMPLETED_EVENT_NOT_METERED")]
    old = togai_client.EventManagementApi(sdk.client).get_single_event("r1").events[0]
    assert f"re-ingested as {info.reference_id}" in old.ingestion_status.status_description

    # the meters change: the COUNT meter is deactivated, a new SUM meter doubles calls in every region
    sdk.usage_meters.deactivate_usage_meter(catalog["count"])
    doubled = sdk.usage_meters.create_usage_meter(
        CreateUsageMeterRequest(
            name="double_calls",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="api_calls",
            computations=[Computation(order=1, computation='{"*":[{"var":"attribute.calls"},2]}')],
        )
    )
    sdk.usage_meters.activate_usage_meter(doubled.id)
    info = correct(sdk, "REDO", ev("r1", calls="2.5"))
    assert info.status == "REVERTED_AND_REINGESTED"
    assert usage(tenant) == {
        "us_calls": (Decimal("3.5"), 2),
        "requests": (Decimal(1), 1),  # only r2 still counts there
        "double_calls": (Decimal("5.0"), 1),
    }
    pipeline = togai_client.EventManagementApi(sdk.client).get_single_event("r1").events[-1].event_pipeline_info
    assert {m.id: m.units for m in pipeline.usage_meters if m.status == "PROCESSED_UNITS_COMPUTED"} == {
        catalog["sum"]: 2.5,
        doubled.id: 5,
    }


def test_redo_event_replaces_the_units_with_the_corrected_payload(
    sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("x1", calls="10"), ev("x2", calls="1"))
    info = correct(sdk, "REDO_EVENT", ev("x1", calls="99.99"))
    assert info.status == "REVERTED_AND_REINGESTED"
    assert info.event_payload.attributes[0].value == "99.99"
    assert usage(tenant) == {"us_calls": (Decimal("100.99"), 2), "requests": (Decimal(2), 2)}

    # a corrected region and timestamp move the event out of the us meter and into another bucket
    later = T0 + timedelta(minutes=45)
    correct(sdk, "REDO_EVENT", ev("x1", calls="5", region="eu", at=later))
    assert usage(tenant) == {"us_calls": (Decimal(1), 1), "requests": (Decimal(2), 2)}
    assert usage(tenant, (T0 + timedelta(minutes=45), T0 + timedelta(hours=1))) == {
        "us_calls": (Decimal(0), 0),
        "requests": (Decimal(1), 1),
    }
    assert [s for _, s in stored(sdk, "x1")] == ["REVERTED", "REVERTED", "INGESTION_COMPLETED_EVENT_NOT_METERED"]


def test_a_rejected_reingestion_changes_nothing(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingest(sdk, ev("f1", calls="6"))
    before, refs = usage(tenant), stored(sdk, "f1")
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "REDO_EVENT", ev("f1", account="nobody"))
    assert "INGESTION_FAILED_ACCOUNT_NOT_FOUND" in message_of(raised.value) and "nothing was changed" in message_of(
        raised.value
    )
    assert usage(tenant) == before and stored(sdk, "f1") == refs
    with pytest.raises(ApiException) as raised:  # the id is still claimed
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("f1")))
    assert raised.value.status == 409
    refs = stored(sdk, "f1")  # the refused copy is stored too
    # REDO of an event whose schema is no longer active: the re-ingestion fails, the original stays
    for meter in catalog.values():
        sdk.usage_meters.deactivate_usage_meter(meter)
    sdk.event_schemas.deactivate_event_schema("api_calls")
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "REDO", ev("f1"))
    assert "INGESTION_FAILED_SCHEMA_NOT_DEFINED" in message_of(raised.value)
    assert usage(tenant) == before and stored(sdk, "f1") == refs
    # UNDO needs no ingestion, so it still works
    assert correct(sdk, "UNDO", ev("f1")).status == "REVERTED"
    assert usage(tenant) == {name: (Decimal(0), 0) for name in before}


def test_only_accepted_events_can_be_corrected(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    events = togai_client.EventManagementApi(sdk.client)
    with pytest.raises(NotFoundException, match="Event 'never' not found"):
        correct(sdk, "UNDO", ev("never"))
    with pytest.raises(BadRequestException):  # stored, as INGESTION_FAILED_ACCOUNT_NOT_FOUND
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("bad", account="nobody")))
    assert [s for _, s in stored(sdk, "bad")] == ["INGESTION_FAILED_ACCOUNT_NOT_FOUND"]
    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(BadRequestException) as raised:
            correct(sdk, action, ev("bad"))
        assert "INGESTION_FAILED_ACCOUNT_NOT_FOUND" in message_of(raised.value)

    # a duplicate is never the corrected event: the accepted original is, once; then nothing is left to correct
    ingest(sdk, ev("dup", calls="2"))
    with pytest.raises(ApiException):
        togai_client.EventIngestionApi(sdk.client).ingest(IngestEventRequest(event=ev("dup", calls="50")))
    info = correct(sdk, "UNDO", ev("dup"))
    assert info.status == "REVERTED" and info.event_payload.attributes[0].value == "2"
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "UNDO", ev("dup"))
    assert "REVERTED, INGESTION_FAILED_DUPLICATE_EVENT" in message_of(raised.value)
    assert usage(tenant) == {"us_calls": (Decimal(0), 0), "requests": (Decimal(0), 0)}
    assert [e.ingestion_status.status for e in events.get_single_event("dup").events] == [
        "REVERTED",
        "INGESTION_FAILED_DUPLICATE_EVENT",
    ]


def test_another_organization_cannot_correct_the_event(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    ingest(sdk, ev("mine", calls="8"))
    for action in ("UNDO", "REDO", "REDO_EVENT"):
        with pytest.raises(NotFoundException, match="Event 'mine' not found"):
            correct(other_sdk, action, ev("mine"))
    assert usage(tenant) == {"us_calls": (Decimal(8), 1), "requests": (Decimal(1), 1)}


def test_require_confirmation_and_malformed_requests(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    ingest(sdk, ev("c1"))
    with pytest.raises(BadRequestException) as raised:
        correct(sdk, "UNDO", ev("c1"), require_confirmation=True)
    assert message_of(raised.value) == "require_confirmation needs jobs, which Meterline does not have yet"
    assert correct(sdk, "UNDO", ev("c1"), require_confirmation=False).status == "REVERTED"
    ingest(sdk, ev("c1"))
    with tenant.http() as http:

        def post(params: dict[str, str], body: object = None) -> tuple[int, str]:
            r = http.post("/events/correction", params=params, json=body)
            return r.status_code, r.json()["message"]

        status, message = post({"action": "UNDO"})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "UNDO"}, {})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "UNDO"}, {"event": {"schemaName": "api_calls"}})
        assert status == 400 and "event.id" in message
        status, message = post({"action": "DELETE"}, {"event": {"id": "c1"}})
        assert status == 400 and message.startswith("action")
        status, message = post({}, {"event": {"id": "c1"}})
        assert status == 400 and "action" in message
        status, message = post({"action": "REDO_EVENT"}, {"event": {"id": "c1", "attributes": []}})
        assert status == 400 and "event.schemaName" in message and "event.timestamp" in message
        status, message = post({"action": "UNDO"}, {"event": {"id": "c1", "colour": "red"}})
        assert status == 400 and "event.colour" in message
    assert usage(tenant) == {"us_calls": (Decimal(10), 1), "requests": (Decimal(1), 1)}  # nothing was corrected
