"""EventSchemasApi through the official SDK against a live server, on both engines."""

from __future__ import annotations

import pytest
from togai_client import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    Dependency,
    DimensionsSchema,
    Enrichments,
    EventAttributeSchema,
    ModelField,
    UpdateEventSchemaRequest,
    UsageMeterAggregation,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant


def api_calls(name: str = "api_calls", **kwargs: object) -> CreateEventSchemaRequest:
    return CreateEventSchemaRequest(
        name=name,
        attributes=[EventAttributeSchema(name="calls", default_unit="count")],
        dimensions=[DimensionsSchema(name="region")],
        **kwargs,
    )


def sum_meter(name: str = "calls meter", schema: str = "api_calls") -> CreateUsageMeterRequest:
    return CreateUsageMeterRequest(
        name=name,
        type="COUNTER",
        aggregation=UsageMeterAggregation.SUM,
        event_schema_name=schema,
        computations=[Computation(order=1, computation='{"*":[{"var":"attribute.calls"},1]}')],
    )


def test_create_with_every_field_then_get(sdk: Sdk) -> None:
    enrichments = Enrichments(
        dependencies=[Dependency(type="SETTING", key="setting.user.meters_per_km", name="mpk")],
        fields=[
            ModelField(
                name="km",
                type="ATTRIBUTE",
                enrichment_type="JSON_LOGIC",
                value='{"/":[{"var":"attribute.calls"},1000]}',
                order=1,
            )
        ],
    )
    response = sdk.event_schemas.create_event_schema_with_http_info(
        api_calls(
            description="API calls",
            filter_fields=["region"],
            enrichments=enrichments,
            event_id_template="{{timestamp}}-{{accountId}}",
        )
    )
    assert response.status_code == 201
    schema = response.data
    assert (schema.name, schema.version, schema.status) == ("api_calls", 1, "DRAFT")
    assert schema.description == "API calls"
    assert schema.attributes == [EventAttributeSchema(name="calls", default_unit="count")]
    assert schema.dimensions == [DimensionsSchema(name="region")]
    assert schema.filter_fields == ["region"]
    assert schema.enrichments == enrichments
    assert schema.event_id_template == "{{timestamp}}-{{accountId}}"
    assert schema.created_at is not None and schema.updated_at is not None
    assert sdk.event_schemas.get_event_schema("api_calls") == schema


def test_create_failures(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    with pytest.raises(ApiException) as conflict:
        sdk.event_schemas.create_event_schema(api_calls())
    assert conflict.value.status == 409 and "already exists" in message_of(conflict.value)
    for bad in ("bad/name", "   ", "x" * 51):
        request = CreateEventSchemaRequest.model_construct(name=bad, attributes=[], dimensions=[])
        with pytest.raises(BadRequestException) as raised:
            sdk.event_schemas.create_event_schema(request)
        assert message_of(raised.value).startswith("name:")
    attribute = EventAttributeSchema.model_construct(name="calls.total")
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.create_event_schema(
            CreateEventSchemaRequest.model_construct(name="ok", attributes=[attribute], dimensions=[])
        )
    assert message_of(raised.value).startswith("attributes[0].name:")
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.create_event_schema(
            CreateEventSchemaRequest(
                name="clash", attributes=[EventAttributeSchema(name="x")], dimensions=[DimensionsSchema(name="x")]
            )
        )
    assert "both an attribute and a dimension" in message_of(raised.value)
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.create_event_schema(api_calls("ff", filter_fields=["city"]))
    assert "filterFields[0]: 'city'" in message_of(raised.value)


def test_unknown_fields_are_refused(tenant: Tenant) -> None:
    with tenant.http() as http:
        r = http.post("/event_schema", json={"name": "s", "attributes": [], "dimensions": [], "version": 3})
        assert r.status_code == 400 and r.json()["message"] == "version: unknown field, it cannot be set here"
        r = http.post("/event_schema", json={"name": "s", "attributes": [{"name": "a", "unit": "x"}], "dimensions": []})
        assert r.status_code == 400 and r.json()["message"].startswith("attributes[0].unit: unknown field")
        r = http.post(
            "/event_schema",
            json={
                "name": "s",
                "attributes": [],
                "dimensions": [],
                "enrichments": {
                    "fields": [
                        {"name": "a", "type": "ATTRIBUTE", "enrichmentType": "VALUE", "value": "1", "order": "1"}
                    ]
                },
            },
        )
        assert r.status_code == 400 and r.json()["message"].startswith("enrichments.fields[0].order:")


def test_edit_draft_in_place_and_active_into_versions(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    draft = sdk.event_schemas.event_schema_event_schema_name_patch(
        "api_calls", UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="bytes")], description="d1")
    )
    assert (draft.version, draft.status, [a.name for a in draft.attributes]) == (1, "DRAFT", ["bytes"])
    assert sdk.event_schemas.activate_event_schema("api_calls").status == "ACTIVE"

    v2 = sdk.event_schemas.event_schema_event_schema_name_patch_with_http_info(
        "api_calls",
        UpdateEventSchemaRequest(
            attributes=[EventAttributeSchema(name="bytes"), EventAttributeSchema(name="calls")],
            dimensions=[DimensionsSchema(name="region"), DimensionsSchema(name="plan")],
        ),
    )
    assert v2.status_code == 200
    assert (v2.data.version, v2.data.status, v2.data.description) == (2, "ACTIVE", "d1")
    assert [d.name for d in v2.data.dimensions] == ["region", "plan"]

    assert sdk.event_schemas.get_event_schema("api_calls").version == 2
    v1 = sdk.event_schemas.get_event_schema("api_calls", version=1)
    assert (v1.version, v1.status, [a.name for a in v1.attributes]) == (1, "ARCHIVED", ["bytes"])
    versions = sdk.event_schemas.list_event_schema_versions("api_calls")
    assert [(v.version, v.status) for v in versions.data] == [(1, "ARCHIVED"), (2, "ACTIVE")]
    with pytest.raises(NotFoundException) as raised:
        sdk.event_schemas.get_event_schema("api_calls", version=7)
    assert "has no version 7" in message_of(raised.value)


def test_an_active_schema_only_grows(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    sdk.event_schemas.activate_event_schema("api_calls")
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.event_schema_event_schema_name_patch(
            "api_calls", UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="bytes")])
        )
    assert "attribute 'calls' cannot be removed or renamed" in message_of(raised.value)
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.event_schema_event_schema_name_patch(
            "api_calls", UpdateEventSchemaRequest(dimensions=[DimensionsSchema(name="zone")])
        )
    assert "dimension 'region' cannot be removed or renamed" in message_of(raised.value)
    assert [v.version for v in sdk.event_schemas.list_event_schema_versions("api_calls").data] == [1]


def test_status_life_cycle(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    with pytest.raises(
        BadRequestException, match="Event schema api_calls is DRAFT: only an ACTIVE schema can be deactivated"
    ):
        sdk.event_schemas.deactivate_event_schema("api_calls")  # DRAFT
    assert sdk.event_schemas.activate_event_schema_with_http_info("api_calls").status_code == 200
    inactive = sdk.event_schemas.deactivate_event_schema_with_http_info("api_calls")
    assert (inactive.status_code, inactive.data.status) == (200, "INACTIVE")
    with pytest.raises(BadRequestException) as raised:
        sdk.event_schemas.event_schema_event_schema_name_patch("api_calls", UpdateEventSchemaRequest(description="x"))
    assert "INACTIVE" in message_of(raised.value)
    assert sdk.event_schemas.activate_event_schema("api_calls").status == "ACTIVE"


def test_deactivate_and_delete_refused_while_an_active_meter_uses_the_schema(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    sdk.event_schemas.activate_event_schema("api_calls")
    meter = sdk.usage_meters.create_usage_meter(sum_meter())
    sdk.usage_meters.activate_usage_meter(meter.id)
    for call in (sdk.event_schemas.deactivate_event_schema, sdk.event_schemas.delete_event_schema):
        with pytest.raises(BadRequestException) as raised:
            call("api_calls")
        assert f"calls meter ({meter.id})" in message_of(raised.value)
    sdk.usage_meters.deactivate_usage_meter(meter.id)
    assert sdk.event_schemas.deactivate_event_schema("api_calls").status == "INACTIVE"


def test_delete_archives_and_lists_hide_it(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    sdk.event_schemas.create_event_schema(api_calls("storage"))
    sdk.usage_meters.create_usage_meter(sum_meter(schema="storage"))
    response = sdk.event_schemas.delete_event_schema_with_http_info("api_calls")
    assert response.status_code == 200 and response.data.success is True
    assert sdk.event_schemas.get_event_schema("api_calls").status == "ARCHIVED"
    listed = sdk.event_schemas.list_event_schemas()
    assert [(s.name, s.usage_meters_count) for s in listed.data] == [("storage", 1)]
    assert [s.name for s in sdk.event_schemas.list_event_schemas(status="ARCHIVED").data] == ["api_calls"]
    assert [s.name for s in sdk.event_schemas.list_event_schemas(status="DRAFT").data] == ["storage"]
    with pytest.raises(
        BadRequestException, match="status: 'draft' is not a schema status; use DRAFT, ACTIVE, INACTIVE, ARCHIVED"
    ):
        sdk.event_schemas.list_event_schemas(status="draft")
    with pytest.raises(
        ApiException, match="An event schema named api_calls already exists"
    ) as conflict:  # a deleted schema's name stays taken
        sdk.event_schemas.create_event_schema(api_calls())
    assert conflict.value.status == 409
    with pytest.raises(
        BadRequestException, match=r"Event schema api_calls is deleted \(ARCHIVED\) and cannot be changed"
    ):
        sdk.event_schemas.activate_event_schema("api_calls")


def test_list_pages(sdk: Sdk) -> None:
    for i in range(3):
        sdk.event_schemas.create_event_schema(api_calls(f"schema-{i}"))
    first = sdk.event_schemas.list_event_schemas(page_size=2)
    second = sdk.event_schemas.list_event_schemas(page_size=2.0, next_token=first.next_token)
    assert [s.name for s in first.data + second.data] == ["schema-0", "schema-1", "schema-2"]
    assert second.next_token is None and first.context.page_size == 2
    assert {s.usage_meters_count for s in first.data} == {0}


def test_unknown_schema_is_404(sdk: Sdk) -> None:
    calls = [
        lambda: sdk.event_schemas.get_event_schema("nope"),
        lambda: sdk.event_schemas.list_event_schema_versions("nope"),
        lambda: sdk.event_schemas.event_schema_event_schema_name_patch(
            "nope", UpdateEventSchemaRequest(description="x")
        ),
        lambda: sdk.event_schemas.activate_event_schema("nope"),
        lambda: sdk.event_schemas.deactivate_event_schema("nope"),
        lambda: sdk.event_schemas.delete_event_schema("nope"),
    ]
    for call in calls:
        with pytest.raises(NotFoundException) as raised:
            call()
        assert message_of(raised.value) == "Event schema nope not found"


def test_another_organizations_schema_is_404(sdk: Sdk, other_sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls())
    with pytest.raises(NotFoundException, match="Event schema api_calls not found"):
        other_sdk.event_schemas.get_event_schema("api_calls")
    with pytest.raises(NotFoundException, match="Event schema api_calls not found"):
        other_sdk.event_schemas.delete_event_schema("api_calls")
    assert not other_sdk.event_schemas.list_event_schemas().data
    other_sdk.event_schemas.create_event_schema(api_calls())  # names are per organization
    assert sdk.event_schemas.get_event_schema("api_calls").status == "DRAFT"


def test_names_with_spaces_travel_in_paths(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(api_calls("API calls v2"))
    assert sdk.event_schemas.activate_event_schema("API calls v2").name == "API calls v2"
