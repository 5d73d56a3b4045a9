"""Event schema enrichments and eventIdTemplate, applied at ingestion, through the official SDK on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client
from togai_client import (
    AddAccountAliasesRequest,
    Attribute,
    CreateAccountAliasRequest,
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
    # one limit whichever check meets it first (the request's or the enrichments')
    many = [Dependency(type="SETTING", key=f"setting.user.d{i}", name=f"d{i}") for i in range(21)]
    assert refused(schema(Enrichments(dependencies=many, fields=[]))).startswith(
        "enrichments.dependencies: List should have at most 20 items"
    )
    fields = [field(f"f{i}", "1", i, kind="VALUE") for i in range(51)]
    assert refused(schema(Enrichments(fields=fields))).startswith(
        "enrichments.fields: List should have at most 50 items"
    )

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


def nested_reduce(depth: int, width: int = 50) -> str:
    """`depth` reduces over `width` ones, nested in each other's logic: width**depth steps in a few hundred
    characters."""
    logic = '{"var":"current"}'
    for _ in range(depth):
        logic = '{"reduce":[[' + ",".join(["1"] * width) + '],{"+":[{"var":"accumulator"},' + logic + "]},0]}"
    return logic


def test_a_rule_that_works_too_much_fails_its_event(sdk: Sdk, rides: str) -> None:
    """A short rule of nested reduces (hours per event unbounded, holding SQLite's write lock) fails its event at
    the evaluation budget; the batch's other events are ingested."""
    rule = nested_reduce(6)
    assert len(rule) < 1000
    sdk.event_schemas.event_schema_event_schema_name_patch(
        "rides",
        UpdateEventSchemaRequest(
            enrichments=Enrichments(dependencies=[PER_KM], fields=[*RIDES.fields, field("busy", rule, 5)])
        ),
    )
    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_batch_with_http_info(IngestBatchEventRequest(events=[ride("b1", "1000")]))
    assert response.status_code == 207
    [error] = response.data.details["errors"]
    assert (error["status"], error["message"]) == (
        "INGESTION_FAILED_ENRICHMENT_FAILED",
        "enrichment busy: too much work: the rule took more than 100,000 steps on one event",
    )

    # a meter's computation likewise (the same compiler): its event fails as units invalid
    meter = sdk.usage_meters.create_usage_meter(
        togai_client.CreateUsageMeterRequest(
            name="busy",
            type="COUNTER",
            aggregation="SUM",
            event_schema_name="rides",
            computations=[togai_client.Computation(order=1, computation=nested_reduce(4, 20))],
        )
    )
    sdk.usage_meters.activate_usage_meter(meter.id)
    cheap = Enrichments(dependencies=[PER_KM], fields=[*RIDES.fields, field("busy", "1", 5, kind="VALUE")])
    sdk.event_schemas.event_schema_event_schema_name_patch("rides", UpdateEventSchemaRequest(enrichments=cheap))
    with pytest.raises(BadRequestException) as raised:
        ingestion.ingest(IngestEventRequest(event=ride("b2", "1000")))
    assert (
        message_of(raised.value)
        == "usage meter busy: too much work: the rule took more than 100,000 steps on one event"
    )


def test_nul_and_lone_surrogates_never_reach_an_id(sdk: Sdk, tenant: Tenant) -> None:
    """A lone surrogate in a rule was a 500 when its event was stored; a NUL in a templated id was cut at the NUL on
    SQLite, claiming an unrelated id."""

    def schema(name: str, fields: list[ModelField], dependencies: list[Dependency] | None = None) -> None:
        sdk.event_schemas.create_event_schema(
            CreateEventSchemaRequest(
                name=name,
                attributes=[],
                dimensions=[DimensionsSchema(name="city")],
                enrichments=Enrichments(dependencies=dependencies, fields=fields),
                event_id_template="{{dimension.tag}}",
            )
        )

    for literal in ("\\ud800", "\\u0000"):
        with pytest.raises(BadRequestException) as raised:
            schema("bad", [field("tag", '{"cat":["a' + literal + '",{"var":"dimension.city"}]}', 1, "DIMENSION")])
        assert message_of(raised.value).startswith("enrichments.fields[0].value: a string may not contain NUL")

    # the same rule in a setting (a JSON_LOGIC setting's text is JSON: its NUL passes its own check)
    sdk.settings.insert_setting(
        Setting(
            id="tagger",
            value='{"cat":["a\\u0000",{"var":"dimension.city"}]}',
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="user",
            name="Tag rule",
            data_type="JSON_LOGIC",
        )
    )
    tagger = Dependency(type="SETTING", key="setting.user.tagger", name="tagger")
    schema("tagged", [field("tag", "tagger", 1, "DIMENSION", "JSON_LOGIC_FROM_DEPENDENCY")], [tagger])
    sdk.event_schemas.activate_event_schema("tagged")
    sdk.customers.create_customer(
        togai_client.CreateCustomerRequest(
            id="acme", name="acme", primary_email="a@acme.test", address=togai_client.Address()
        )
    )

    def tagged(city: str, event_id: str | None = None, schema_name: str = "tagged") -> Event:
        return Event(
            schema_name=schema_name,
            id=event_id,
            timestamp=T0,
            account_id="acme",
            attributes=[],
            dimensions={"city": city},
        )

    ingestion = togai_client.EventIngestionApi(sdk.client)
    response = ingestion.ingest_batch_with_http_info(IngestBatchEventRequest(events=[tagged("Paris"), tagged("Rome")]))
    assert [(e["status"], e["message"][:60]) for e in response.data.details["errors"]] == [
        ("INGESTION_FAILED_ENRICHMENT_FAILED", "enrichment tag: the rule in setting.user.tagger is not valid")
    ] * 2
    # the id the NUL would have been cut to is free: an unrelated event with it is ingested
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(name="plain", attributes=[], dimensions=[DimensionsSchema(name="city")])
    )
    sdk.event_schemas.activate_event_schema("plain")
    assert ingestion.ingest_with_http_info(IngestEventRequest(event=tagged("Oslo", "a", "plain"))).status_code == 202


def test_account_id_in_a_template_is_the_account_s_id(sdk: Sdk, tenant: Tenant, rides: str) -> None:
    """An event sent with the account's alias is the same event as one sent with its id: one id, counted once."""
    sdk.accounts.add_aliases(
        "acme",
        AddAccountAliasesRequest(
            account_aliases=[CreateAccountAliasRequest(value="acme-alias", effective_from=datetime(2024, 1, 1))]
        ),
    )
    ingestion = togai_client.EventIngestionApi(sdk.client)
    ingestion.ingest(IngestEventRequest(event=ride(None, "20000")))
    with pytest.raises(ApiException) as raised:
        ingestion.ingest(IngestEventRequest(event=ride(None, "20000", account="acme-alias")))
    assert raised.value.status == 409 and "acme-Paris-2024-03-01T10:00:00Z" in message_of(raised.value)
    assert usage(tenant, "acme") == Decimal(20)


def test_an_event_records_only_the_settings_its_fields_read(sdk: Sdk, tenant: Tenant, rides: str) -> None:
    """A dependency no field reads is never looked up, and a large setting that is read is recorded cut to 200
    characters: every event copied every dependency's full text before."""
    sdk.settings.insert_setting(
        Setting(
            id="table",
            value='{"rates": [2], "padding": "' + "x" * 5000 + '"}',
            entity_type="ORGANIZATION",
            entity_id=tenant.org.id,
            namespace="user",
            name="Rates",
            data_type="JSON",
        )
    )
    table = Dependency(type="SETTING", key="setting.user.table", name="table")
    unread = Dependency(type="SETTING", key="setting.user.meters_per_km", name="unread")
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(
            name="rated",
            attributes=[EventAttributeSchema(name="distance")],
            dimensions=[],
            enrichments=Enrichments(
                dependencies=[unread, table],
                fields=[field("rate", '{"var":"dependencies.table.rates.0"}', 1)],
            ),
        )
    )
    sdk.event_schemas.activate_event_schema("rated")
    togai_client.EventIngestionApi(sdk.client).ingest(
        IngestEventRequest(
            event=Event(
                schema_name="rated",
                id="rated1",
                timestamp=T0,
                account_id="acme",
                attributes=[Attribute(name="distance", value="1")],
                dimensions={},
            )
        )
    )
    [stored] = togai_client.EventManagementApi(sdk.client).get_single_event("rated1").events
    enriched = stored.event_pipeline_info.enrichments
    assert [(f.name, f.value) for f in enriched.attributes] == [("rate", "2")]
    [recorded] = enriched.dependencies
    assert (recorded.name, recorded.key, len(recorded.value)) == ("table", "setting.user.table", 200)
    assert recorded.value == '{"rates": [2], "padding": "' + "x" * 170 + "..."
