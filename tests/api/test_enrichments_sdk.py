"""Event schema enrichments and eventIdTemplate, applied at ingestion, through the official SDK on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client
from togai_client import (
    Attribute,
    CreateEventSchemaRequest,
    Dependency,
    DimensionsSchema,
    Enrichments,
    Event,
    EventAttributeSchema,
    IngestBatchEventRequest,
    IngestEventRequest,
    ModelField,
    Setting,
    UpdateEventSchemaRequest,
)
from togai_client.exceptions import ApiException, BadRequestException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
PER_KM = Dependency(type="SETTING", key="setting.user.meters_per_km", name="meters_per_km")


def field(name: str, value: str, order: int, type: str = "ATTRIBUTE", kind: str = "JSON_LOGIC") -> ModelField:
    return ModelField(name=name, type=type, enrichment_type=kind, value=value, order=order)


RIDES = Enrichments(
    dependencies=[PER_KM],
    fields=[
        field("km", '{"/":[{"var":"attribute.distance"},{"var":"dependencies.meters_per_km"}]}', 1),
        field("rideType", '{"if":[{"<=":[10,{"var":"attribute.km"}]},"long","short"]}', 2, "DIMENSION"),
        field("perKm", '{"/":[{"var":"attribute.fare"},{"var":"attribute.km"}]}', 3),
        field("source", "app", 4, "DIMENSION", "VALUE"),
    ],
)


def ride(event_id: str | None, distance: str, fare: str = "30", account: str = "acme", at: datetime = T0) -> Event:
    return Event(
        schema_name="rides",
        id=event_id,
        timestamp=at,
        account_id=account,
        attributes=[Attribute(name="distance", value=distance), Attribute(name="fare", value=fare)],
        dimensions={"city": "Paris"},
    )


def setting(entity_type: str, entity_id: str, value: str) -> Setting:
    return Setting(
        id="meters_per_km",
        value=value,
        entity_type=entity_type,
        entity_id=entity_id,
        namespace="user",
        name="Meters per unit of distance",
        data_type="NUMERIC",
    )


@pytest.fixture
def rides(sdk: Sdk, tenant: Tenant) -> str:
    """Customers acme and globex (default accounts of the same ids); schema rides with RIDES and an id template,
    active, and an active SUM meter of the derived km of long rides. Returns the meter id."""
    for customer in ("acme", "globex"):
        sdk.customers.create_customer(
            togai_client.CreateCustomerRequest(
                id=customer, name=customer, primary_email=f"a@{customer}.test", address=togai_client.Address()
            )
        )
    sdk.settings.insert_setting(setting("ORGANIZATION", tenant.org.id, "1000"))
    sdk.settings.insert_setting(setting("CUSTOMER", "globex", "1609.344"))  # globex counts in miles
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(
            name="rides",
            attributes=[EventAttributeSchema(name="distance"), EventAttributeSchema(name="fare")],
            dimensions=[DimensionsSchema(name="city")],
            enrichments=RIDES,
            event_id_template="{{accountId}}-{{dimension.city}}-{{timestamp}}",
        )
    )
    sdk.event_schemas.activate_event_schema("rides")
    meter = sdk.usage_meters.create_usage_meter(
        togai_client.CreateUsageMeterRequest(
            name="long km",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="rides",
            filters=[togai_client.UsageMeterFilterEntry(var_field="dimension.rideType", value="long")],
            computations=[togai_client.Computation(order=1, computation='{"var":"attribute.km"}')],
        )
    )
    sdk.usage_meters.activate_usage_meter(meter.id)
    return meter.id


def usage(tenant: Tenant, account: str) -> Decimal:
    with tenant.http() as http:
        r = http.get(
            f"/accounts/{account}/usage",
            params={"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()},
        )
    assert r.status_code == 200, r.text
    return Decimal(str(next(m["usage"] for m in r.json()["meters"] if m["name"] == "long km")))


def test_enrichments_feed_the_meters_and_show_in_the_event(sdk: Sdk, tenant: Tenant, rides: str) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    ingestion.ingest(IngestEventRequest(event=ride("r1", "12500", fare="25")))  # 12.5 km: long
    ingestion.ingest(IngestEventRequest(event=ride("r2", "3000")))  # 3 km: short, filtered out
    ingestion.ingest(IngestEventRequest(event=ride("r3", "16093.44", account="globex")))  # 10 miles: long
    assert usage(tenant, "acme") == Decimal("12.5")
    assert usage(tenant, "globex") == Decimal(10)  # the customer's setting wins over the organization's

    [stored] = togai_client.EventManagementApi(sdk.client).get_single_event("r1").events
    assert [a.name for a in stored.event_payload.attributes] == ["distance", "fare"]  # the payload as sent
    enriched = stored.event_pipeline_info.enrichments
    assert [(f.name, f.type, f.value) for f in enriched.attributes] == [
        ("km", "ATTRIBUTE", "12.5"),
        ("perKm", "ATTRIBUTE", "2"),
    ]
    assert [(f.name, f.value) for f in enriched.dimensions] == [("rideType", "long"), ("source", "app")]
    assert [(d.key, d.type, d.name, d.value) for d in enriched.dependencies] == [
        ("setting.user.meters_per_km", "SETTING", "meters_per_km", "1000")
    ]
    [meter] = stored.event_pipeline_info.usage_meters
    assert (meter.id, meter.status, meter.units) == (rides, "PROCESSED_UNITS_COMPUTED", 12.5)

    # an account's own setting is nearer still
    sdk.settings.insert_setting(setting("ACCOUNT", "acme", "500"))
    ingestion.ingest(IngestEventRequest(event=ride("r4", "5000")))  # 10 "km" of 500 m
    assert usage(tenant, "acme") == Decimal("22.5")


def test_a_failing_enrichment_fails_its_event_only(sdk: Sdk, tenant: Tenant, rides: str) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_batch_with_http_info(
        IngestBatchEventRequest(events=[ride("ok", "20000"), ride("zero", "0"), ride("ok2", "10000")])
    )
    assert response.status_code == 207
    [error] = response.data.details["errors"]
    assert (error["index"], error["status"]) == (1, "INGESTION_FAILED_ENRICHMENT_FAILED")
    assert error["message"].startswith("enrichment perKm: ") and "zero" in error["message"]
    assert usage(tenant, "acme") == Decimal(30)
    [failed] = togai_client.EventManagementApi(sdk.client).get_single_event("zero").events
    assert failed.ingestion_status.status == "INGESTION_FAILED_ENRICHMENT_FAILED"
    assert failed.ingestion_status.status_description == error["message"]
    assert failed.event_pipeline_info.enrichments is None  # nothing derived is kept for a rejected event
    with pytest.raises(BadRequestException) as raised:  # an event sent alone: 400, its reason, recorded
        ingestion.ingest(IngestEventRequest(event=ride("zero-alone", "0")))
    assert message_of(raised.value).startswith("enrichment perKm: ")

    # a dependency that no level sets fails the events whose rule reads it, naming it
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(
            name="unset",
            attributes=[EventAttributeSchema(name="distance")],
            dimensions=[],
            enrichments=Enrichments(
                dependencies=[Dependency(type="SETTING", key="setting.user.nowhere", name="nowhere")],
                fields=[field("x", '{"*":[{"var":"attribute.distance"},{"var":"dependencies.nowhere"}]}', 1)],
            ),
        )
    )
    sdk.event_schemas.activate_event_schema("unset")
    with pytest.raises(BadRequestException) as raised:
        ingestion.ingest(
            IngestEventRequest(
                event=Event(
                    schema_name="unset",
                    id="u1",
                    timestamp=T0,
                    account_id="acme",
                    attributes=[Attribute(name="distance", value="1")],
                    dimensions={},
                )
            )
        )
    assert message_of(raised.value) == (
        "enrichment x: dependency nowhere (setting.user.nowhere) is not set for the account, its customer or the "
        "organization"
    )


def test_the_template_gives_ids_so_repeats_count_once(sdk: Sdk, tenant: Tenant, rides: str) -> None:
    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_batch_with_http_info(
        IngestBatchEventRequest(events=[ride(None, "20000"), ride(None, "20000"), ride("mine", "20000")])
    )
    assert response.status_code == 207
    [error] = response.data.details["errors"]
    assert (error["index"], error["status"]) == (1, "INGESTION_FAILED_DUPLICATE_EVENT")
    with pytest.raises(ApiException) as raised:  # a producer's retry of the same event, alone
        ingestion.ingest(IngestEventRequest(event=ride(None, "20000")))
    assert raised.value.status == 409 and "acme-Paris-2024-03-01T10:00:00Z" in message_of(raised.value)
    assert usage(tenant, "acme") == Decimal(40)  # the first copy and "mine" (an id sent is kept)
    events = togai_client.EventManagementApi(sdk.client)
    statuses = [e.ingestion_status.status for e in events.get_single_event("acme-Paris-2024-03-01T10:00:00Z").events]
    assert statuses[0] == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert statuses[1:] == ["INGESTION_FAILED_DUPLICATE_EVENT"] * 2


def test_enrichments_are_checked_when_written(sdk: Sdk, rides: str) -> None:
    def refused(request: CreateEventSchemaRequest) -> str:
        with pytest.raises(BadRequestException) as raised:
            sdk.event_schemas.create_event_schema(request)
        return message_of(raised.value)

    def schema(enrichments: Enrichments | None = None, template: str | None = None) -> CreateEventSchemaRequest:
        return CreateEventSchemaRequest(
            name="bad",
            attributes=[EventAttributeSchema(name="distance")],
            dimensions=[DimensionsSchema(name="city")],
            enrichments=enrichments,
            event_id_template=template,
        )

    clash = Enrichments(fields=[field("distance", "1", 1, kind="VALUE")])
    assert refused(schema(clash)).startswith("enrichments.fields[0].name: 'distance' is already an attribute")
    bad_logic = Enrichments(fields=[field("x", '{"nope":[1]}', 1)])
    assert refused(schema(bad_logic)).startswith("enrichments.fields[0].value:")
    unknown_var = Enrichments(fields=[field("x", '{"var":"attribute.fare"}', 1)])
    assert "var 'attribute.fare' is not an attribute" in refused(schema(unknown_var))
    no_dependency = Enrichments(fields=[field("x", "per_km", 1, kind="JSON_LOGIC_FROM_DEPENDENCY")])
    assert "names one of enrichments.dependencies" in refused(schema(no_dependency))
    assert "eventIdTemplate: {{dimension.region}}" in refused(schema(template="{{dimension.region}}"))

    # an ACTIVE schema keeps its derived fields (meters may read them); their rules may change
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.event_schema_event_schema_name_patch(
            "rides", UpdateEventSchemaRequest(enrichments=Enrichments(dependencies=[PER_KM], fields=RIDES.fields[:2]))
        )
    assert "derived attribute 'perKm' (enrichments) cannot be removed" in message_of(raised.value)
    changed = Enrichments(
        dependencies=[PER_KM], fields=[*RIDES.fields[:3], field("source", "web", 4, "DIMENSION", "VALUE")]
    )
    updated = sdk.event_schemas.event_schema_event_schema_name_patch(
        "rides", UpdateEventSchemaRequest(enrichments=changed)
    )
    assert updated.version == 2 and updated.enrichments == changed


def test_a_patch_clears_them_with_empty_values(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(
            name="draft",
            attributes=[EventAttributeSchema(name="distance")],
            dimensions=[DimensionsSchema(name="city")],
            enrichments=Enrichments(fields=[field("tier", "gold", 1, "DIMENSION", "VALUE")]),
            event_id_template="{{dimension.city}}-{{timestamp}}",
        )
    )
    cleared = sdk.event_schemas.event_schema_event_schema_name_patch(
        "draft", UpdateEventSchemaRequest(enrichments=Enrichments(fields=[]), event_id_template="")
    )
    assert (cleared.version, cleared.enrichments, cleared.event_id_template) == (1, None, None)
    assert sdk.event_schemas.get_event_schema("draft") == cleared
