"""UsageMetersApi through the official SDK against a live server, on both engines."""

from __future__ import annotations

import pytest
from togai_client import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
    UpdateEventSchemaRequest,
    UpdateUsageMeterRequest,
    UsageMeterAggregation,
    UsageMeterFilterEntry,
)
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant

CALLS = '{"*":[{"var":"attribute.calls"},1]}'


@pytest.fixture
def schema(sdk: Sdk) -> str:
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(
            name="api_calls",
            attributes=[EventAttributeSchema(name="calls")],
            dimensions=[DimensionsSchema(name="region")],
            filter_fields=["region"],
        )
    )
    sdk.event_schemas.activate_event_schema("api_calls")
    return "api_calls"


def sum_meter(name: str = "Calls meter", **kwargs: object) -> CreateUsageMeterRequest:
    fields = {
        "name": name,
        "type": "COUNTER",
        "aggregation": UsageMeterAggregation.SUM,
        "event_schema_name": "api_calls",
        "computations": [Computation(order=1, computation=CALLS)],
        **kwargs,
    }
    return CreateUsageMeterRequest(**fields)  # type: ignore[arg-type]


def count_meter(name: str = "Requests", **kwargs: object) -> CreateUsageMeterRequest:
    return CreateUsageMeterRequest(
        name=name,
        type="COUNTER",
        aggregation=UsageMeterAggregation.COUNT,
        event_schema_name="api_calls",
        **kwargs,  # type: ignore[arg-type]
    )


def test_create_with_every_field_then_get(sdk: Sdk, schema: str) -> None:
    matcher = '{"==":[{"var":"dimension.region"},"us"]}'
    response = sdk.usage_meters.create_usage_meter_with_http_info(
        sum_meter(
            billable_name="API calls",
            description="calls made",
            filters=[
                UsageMeterFilterEntry(var_field="region", value="us"),
                UsageMeterFilterEntry(var_field="attribute.calls", value="10"),
            ],
            computations=[Computation(id="c1", order=1, matcher=matcher, computation=CALLS)],
        )
    )
    assert response.status_code == 201
    meter = response.data
    assert meter.id.startswith("um.") and len(meter.id) <= 20
    assert (meter.name, meter.billable_name, meter.display_name) == ("Calls meter", "API calls", "API calls")
    assert (meter.type, meter.aggregation, meter.status) == ("COUNTER", UsageMeterAggregation.SUM, "DRAFT")
    assert meter.description == "calls made"
    assert [(f.var_field, f.value) for f in meter.filters] == [("region", "us"), ("attribute.calls", "10")]
    assert meter.computations == [Computation(id="c1", order=1, matcher=matcher, computation=CALLS)]
    assert meter.event_schema is None and meter.last_activated_at is None
    assert meter.created_at is not None and meter.updated_at is not None
    assert sdk.usage_meters.get_usage_meter(meter.id) == meter
    with_schema = sdk.usage_meters.get_usage_meter(meter.id, include_schema=True)
    assert (with_schema.event_schema.name, with_schema.event_schema.version) == ("api_calls", 1)
    assert sdk.usage_meters.get_usage_meter(meter.id, include_schema=False).event_schema is None


def test_count_meter_defaults(sdk: Sdk, schema: str) -> None:
    meter = sdk.usage_meters.create_usage_meter(count_meter())
    assert meter.display_name == "Requests"
    assert [(c.computation, c.order) for c in meter.computations] == [("1", 1)]
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.create_usage_meter(
            count_meter("Other", computations=[Computation(order=1, computation=CALLS)])
        )
    assert 'its computation is "1"' in message_of(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"computations": [Computation(order=1, computation=CALLS), Computation(order=2, computation=CALLS)]},
            "computations: Meterline meters take one computation",
        ),
        ({"computations": []}, "computations: a SUM meter needs a computation"),
        (
            {"computations": [Computation(order=1, computation='{"*":[{"var":"attribute.calls"}')]},
            "computations[0].computation: ",
        ),
        (
            {"computations": [Computation(order=1, computation='{"var":"attribute.bytes"}')]},
            "computations[0].computation: var 'attribute.bytes' is not an attribute or dimension of event schema "
            "api_calls",
        ),
        (
            {
                "computations": [
                    Computation(order=1, matcher='{"==":[{"var":"dimension.city"},"x"]}', computation=CALLS)
                ]
            },
            "computations[0].matcher: var 'dimension.city'",
        ),
        (
            {"filters": [UsageMeterFilterEntry(var_field="dimension.city", value="x")]},
            "filters[0].field: event schema api_calls has no dimension 'city'",
        ),
        (
            {"filters": [UsageMeterFilterEntry(var_field="attribute.calls", value="many")]},
            "filters[0].value: 'many' is not a decimal number (an attribute filter compares numbers, "
            'e.g. "10" or "2.5"; they must be a finite number',
        ),
    ],
    ids=[
        "two-computations",
        "sum-without-computation",
        "does-not-compile",
        "unknown-var",
        "unknown-matcher-var",
        "unknown-filter-field",
        "attribute-filter-not-decimal",
    ],
)
def test_create_refuses_bad_meters(sdk: Sdk, schema: str, kwargs: dict, message: str) -> None:
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.create_usage_meter(sum_meter(**kwargs))
    assert message_of(raised.value).startswith(message), message_of(raised.value)
    assert not sdk.usage_meters.get_usage_meters_for_event_schema().data


def test_create_failures(sdk: Sdk, schema: str, tenant: Tenant) -> None:
    sdk.usage_meters.create_usage_meter(sum_meter())
    with pytest.raises(ApiException) as conflict:
        sdk.usage_meters.create_usage_meter(sum_meter())
    assert conflict.value.status == 409 and "already exists" in message_of(conflict.value)
    with pytest.raises(NotFoundException) as raised:
        sdk.usage_meters.create_usage_meter(sum_meter("Other", event_schema_name="nope"))
    assert message_of(raised.value) == "Event schema nope not found"
    bad = CreateUsageMeterRequest.model_construct(
        name="bad/name", type="COUNTER", aggregation=UsageMeterAggregation.COUNT, event_schema_name="api_calls"
    )
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.create_usage_meter(bad)
    assert message_of(raised.value).startswith("name:")
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.create_usage_meter(
            CreateUsageMeterRequest(name="No schema", type="COUNTER", aggregation=UsageMeterAggregation.COUNT)
        )
    assert message_of(raised.value) == "eventSchemaName: this field is required"
    with tenant.http() as http:
        r = http.post(
            "/usage_meters", json={"name": "m", "type": "GAUGE", "aggregation": "COUNT", "eventSchemaName": "api_calls"}
        )
        assert r.status_code == 400 and r.json()["message"].startswith("type:")
        r = http.post(
            "/usage_meters",
            json={
                "name": "m",
                "type": "COUNTER",
                "aggregation": "COUNT",
                "eventSchemaName": "api_calls",
                "computations": [{"computation": "1", "order": 1.0}],
            },
        )
        assert r.status_code == 400 and r.json()["message"].startswith("computations[0].order:")
        r = http.post(
            "/usage_meters",
            json={
                "name": "m",
                "type": "COUNTER",
                "aggregation": "COUNT",
                "eventSchemaName": "api_calls",
                "filters": [{"field": "region", "value": "us", "op": "="}],
            },
        )
        assert r.status_code == 400 and r.json()["message"] == "filters[0].op: unknown field, it cannot be set here"


def test_life_cycle(sdk: Sdk, schema: str) -> None:
    meter = sdk.usage_meters.create_usage_meter(sum_meter())
    with pytest.raises(
        BadRequestException, match=r"Usage meter um\.\w+ is DRAFT: only an ACTIVE meter can be deactivated"
    ):
        sdk.usage_meters.deactivate_usage_meter(meter.id)  # DRAFT
    active = sdk.usage_meters.activate_usage_meter_with_http_info(meter.id)
    assert (active.status_code, active.data.status) == (200, "ACTIVE")
    assert active.data.last_activated_at is not None
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.delete_usage_meter(meter.id)
    assert "deactivate it before deleting it" in message_of(raised.value)
    inactive = sdk.usage_meters.deactivate_usage_meter_with_http_info(meter.id)
    assert (inactive.status_code, inactive.data.status) == (200, "INACTIVE")
    assert sdk.usage_meters.activate_usage_meter(meter.id).status == "ACTIVE"
    sdk.usage_meters.deactivate_usage_meter(meter.id)
    deleted = sdk.usage_meters.delete_usage_meter_with_http_info(meter.id)
    assert deleted.status_code == 200 and deleted.data.success is True
    assert sdk.usage_meters.get_usage_meter(meter.id).status == "ARCHIVED"
    with pytest.raises(BadRequestException, match=r"Usage meter um\.\w+ is deleted \(ARCHIVED\) and cannot be changed"):
        sdk.usage_meters.activate_usage_meter(meter.id)
    # the name is free again
    assert sdk.usage_meters.create_usage_meter(sum_meter()).id != meter.id


def test_activation_needs_an_active_schema(sdk: Sdk) -> None:
    sdk.event_schemas.create_event_schema(
        CreateEventSchemaRequest(name="api_calls", attributes=[EventAttributeSchema(name="calls")], dimensions=[])
    )
    meter = sdk.usage_meters.create_usage_meter(sum_meter())  # a DRAFT schema takes DRAFT meters
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.activate_usage_meter(meter.id)
    assert "event schema api_calls is DRAFT, not ACTIVE" in message_of(raised.value)
    sdk.event_schemas.activate_event_schema("api_calls")
    assert sdk.usage_meters.activate_usage_meter(meter.id).status == "ACTIVE"


def test_update_draft_and_active(sdk: Sdk, schema: str) -> None:
    meter = sdk.usage_meters.create_usage_meter(sum_meter())
    draft = sdk.usage_meters.update_usage_meter_with_http_info(
        meter.id,
        UpdateUsageMeterRequest(
            aggregation=UsageMeterAggregation.COUNT,
            computations=[],
            filters=[UsageMeterFilterEntry(var_field="dimension.region", value="eu")],
            billable_name="Billed",
        ),
    )
    assert draft.status_code == 200
    assert (draft.data.aggregation, draft.data.display_name) == (UsageMeterAggregation.COUNT, "Billed")
    assert [c.computation for c in draft.data.computations] == ["1"]
    sdk.usage_meters.activate_usage_meter(meter.id)
    renamed = sdk.usage_meters.update_usage_meter(meter.id, UpdateUsageMeterRequest(name="Renamed", description="d"))
    assert (renamed.name, renamed.description, renamed.status) == ("Renamed", "d", "ACTIVE")
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.update_usage_meter(meter.id, UpdateUsageMeterRequest(aggregation=UsageMeterAggregation.SUM))
    assert message_of(raised.value).startswith("aggregation: usage meter")
    with pytest.raises(BadRequestException) as raised:
        sdk.usage_meters.update_usage_meter(meter.id, UpdateUsageMeterRequest(filters=[]))
    assert message_of(raised.value).startswith("filters: usage meter")
    sdk.usage_meters.create_usage_meter(sum_meter("Taken"))
    with pytest.raises(ApiException, match="A usage meter named Taken already exists") as conflict:
        sdk.usage_meters.update_usage_meter(meter.id, UpdateUsageMeterRequest(name="Taken"))
    assert conflict.value.status == 409


def test_schema_edits_keep_active_meters_running(sdk: Sdk, schema: str) -> None:
    meter = sdk.usage_meters.create_usage_meter(sum_meter())
    sdk.usage_meters.activate_usage_meter(meter.id)
    sdk.event_schemas.event_schema_event_schema_name_patch(
        "api_calls",
        UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="calls"), EventAttributeSchema(name="bytes")]),
    )
    embedded = sdk.usage_meters.get_usage_meter(meter.id, include_schema=True).event_schema
    assert (embedded.version, [a.name for a in embedded.attributes]) == (2, ["calls", "bytes"])
    assert sdk.usage_meters.get_usage_meter(meter.id).status == "ACTIVE"


def test_list_filters_and_pages(sdk: Sdk, schema: str) -> None:
    a = sdk.usage_meters.create_usage_meter(sum_meter("a"))
    b = sdk.usage_meters.create_usage_meter(count_meter("b"))
    c = sdk.usage_meters.create_usage_meter(sum_meter("c"))
    sdk.usage_meters.activate_usage_meter(a.id)
    sdk.usage_meters.delete_usage_meter(c.id)
    listed = sdk.usage_meters.get_usage_meters_for_event_schema_with_http_info()
    assert listed.status_code == 200 and [m.id for m in listed.data.data] == [a.id, b.id]
    names = lambda **kw: [m.name for m in sdk.usage_meters.get_usage_meters_for_event_schema(**kw).data or []]  # noqa: E731
    assert names(status="ACTIVE") == ["a"]
    assert names(status="ARCHIVED") == ["c"]
    assert names(aggregations="COUNT") == ["b"]
    assert names(aggregations="SUM,COUNT") == ["a", "b"]
    assert names(status="DRAFT", aggregations="SUM") == []
    with pytest.raises(
        BadRequestException, match="aggregations: 'MAX' is not an aggregation; use COUNT, SUM or COUNT,SUM"
    ):
        sdk.usage_meters.get_usage_meters_for_event_schema(aggregations="MAX")
    with pytest.raises(
        BadRequestException, match="status: 'live' is not a usage meter status; use DRAFT, ACTIVE, INACTIVE, ARCHIVED"
    ):
        sdk.usage_meters.get_usage_meters_for_event_schema(status="live")
    first = sdk.usage_meters.get_usage_meters_for_event_schema(page_size=1)
    second = sdk.usage_meters.get_usage_meters_for_event_schema(page_size=1, next_token=first.next_token)
    assert [m.name for m in first.data + second.data] == ["a", "b"] and second.next_token is None


def test_unknown_meter_is_404(sdk: Sdk, schema: str) -> None:
    calls = [
        lambda: sdk.usage_meters.get_usage_meter("um.nope"),
        lambda: sdk.usage_meters.update_usage_meter("um.nope", UpdateUsageMeterRequest(name="x")),
        lambda: sdk.usage_meters.activate_usage_meter("um.nope"),
        lambda: sdk.usage_meters.deactivate_usage_meter("um.nope"),
        lambda: sdk.usage_meters.delete_usage_meter("um.nope"),
    ]
    for call in calls:
        with pytest.raises(NotFoundException) as raised:
            call()
        assert message_of(raised.value) == "Usage meter um.nope not found"


def test_another_organizations_meter_is_404(sdk: Sdk, other_sdk: Sdk, schema: str) -> None:
    meter = sdk.usage_meters.create_usage_meter(sum_meter())
    for call in (
        other_sdk.usage_meters.get_usage_meter,
        other_sdk.usage_meters.activate_usage_meter,
        other_sdk.usage_meters.delete_usage_meter,
    ):
        with pytest.raises(NotFoundException, match=f"Usage meter {meter.id} not found"):
            call(meter.id)
    assert not other_sdk.usage_meters.get_usage_meters_for_event_schema().data
    with pytest.raises(NotFoundException, match="Event schema api_calls not found"):  # nor can it meter our schema
        other_sdk.usage_meters.create_usage_meter(sum_meter())
