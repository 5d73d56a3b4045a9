"""Event schema versioning and usage meter rules (billing-rules D5) at the service level, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from meterline.core.clock import utc_now
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.pagination import PageRequest
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.repository import MeteringRepository
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import (
    Computation,
    CreateEventSchemaRequest,
    CreateUsageMeterRequest,
    DimensionsSchema,
    EventAttributeSchema,
    UpdateEventSchemaRequest,
    UpdateUsageMeterRequest,
    UsageMeterFilterEntry,
)
from meterline.tenancy.context import Context
from tests.conftest import org_in


def schema_request(
    name: str = "api_calls",
    attributes: tuple[str, ...] = ("calls",),
    dimensions: tuple[str, ...] = ("region",),
    **kwargs: object,
) -> CreateEventSchemaRequest:
    return CreateEventSchemaRequest(
        name=name,
        attributes=[EventAttributeSchema(name=a) for a in attributes],
        dimensions=[DimensionsSchema(name=d) for d in dimensions],
        **kwargs,
    )


def meter_request(
    name: str = "calls",
    schema: str = "api_calls",
    aggregation: str = "SUM",
    computation: str | None = '{"var":"attribute.calls"}',
    computations: list[Computation] | None = None,
    **kwargs: object,
) -> CreateUsageMeterRequest:
    if computations is None and computation is not None:
        computations = [Computation(computation=computation, order=1)]
    return CreateUsageMeterRequest(
        name=name,
        type="COUNTER",
        aggregation=aggregation,
        event_schema_name=schema,
        computations=computations,
        **kwargs,
    )


def names(items: list[dict]) -> list[str]:
    return [i["name"] for i in items]


# -- event schemas -------------------------------------------------------------------------------------------------
def test_a_new_schema_is_draft_version_1_and_its_name_is_unique(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    row = schemas.create(schema_request(description="API calls", filter_fields=["region"]))
    assert (row.name, row.version, row.status, row.latest) == ("api_calls", 1, "DRAFT", True)
    assert row.id.startswith("es.") and row.attributes == [{"name": "calls"}] and row.filter_fields == ["region"]
    with pytest.raises(Conflict, match="api_calls already exists"):
        schemas.create(schema_request())


@pytest.mark.parametrize("name", ["", "   ", "a/b", "dots.are.not.allowed", " lead", "trail ", "tab\there", "x" * 51])
def test_names_are_checked(name: str) -> None:
    with pytest.raises(ValidationError, match="^1 validation error for CreateEventSchemaRequest\nname\n"):
        schema_request(name=name)
    with pytest.raises(ValidationError, match="^1 validation error for EventAttributeSchema\nname\n"):
        EventAttributeSchema(name=name)
    with pytest.raises(ValidationError, match="^1 validation error for CreateUsageMeterRequest\nname\n"):
        meter_request(name=name)


def test_names_may_hold_spaces_dashes_and_underscores(ctx: Context) -> None:
    row = EventSchemaService(ctx).create(schema_request(name="API calls - v_2"))
    assert EventSchemaService(ctx).get("API calls - v_2").pk == row.pk


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attributes": ("calls", "calls")}, r"attributes\[1\].name: 'calls' is given twice"),
        ({"dimensions": ("region", "region")}, r"dimensions\[1\].name: 'region' is given twice"),
        ({"attributes": ("region",)}, "'region' is both an attribute and a dimension"),
        ({"filter_fields": ["city"]}, r"filterFields\[0\]: 'city' is not an attribute or dimension"),
        ({"filter_fields": ["region", "region"]}, r"filterFields\[1\]: 'region' is given twice"),
    ],
)
def test_schema_content_is_checked(ctx: Context, kwargs: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        EventSchemaService(ctx).create(schema_request(**kwargs))


def test_editing_a_draft_changes_it_in_place(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    created = schemas.create(schema_request(attributes=("calls", "bytes")))
    edited = schemas.update(
        "api_calls",
        UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="bytes", default_unit="KB")], description="d"),
    )
    assert edited.pk == created.pk and edited.version == 1 and edited.status == "DRAFT"
    assert edited.attributes == [{"name": "bytes", "defaultUnit": "KB"}] and edited.description == "d"
    assert names(edited.dimensions) == ["region"]  # left out: unchanged
    assert [v.version for v in schemas.versions("api_calls")] == [1]


def test_editing_an_active_schema_makes_a_new_version_and_archives_the_old(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    schemas.create(schema_request())
    schemas.activate("api_calls")
    v2 = schemas.update(
        "api_calls",
        UpdateEventSchemaRequest(
            attributes=[EventAttributeSchema(name="calls"), EventAttributeSchema(name="bytes")],
            dimensions=[DimensionsSchema(name="region"), DimensionsSchema(name="plan")],
            description="now with bytes",
        ),
    )
    assert (v2.version, v2.status, v2.latest) == (2, "ACTIVE", True)
    assert names(v2.attributes) == ["calls", "bytes"] and names(v2.dimensions) == ["region", "plan"]
    v1 = schemas.get("api_calls", 1)
    assert (v1.status, v1.latest, names(v1.attributes)) == ("ARCHIVED", False, ["calls"])
    assert v1.id == v2.id
    assert [(v.version, v.status) for v in schemas.versions("api_calls")] == [(1, "ARCHIVED"), (2, "ACTIVE")]
    assert schemas.get("api_calls").version == 2
    with pytest.raises(NotFound, match="has no version 3"):
        schemas.get("api_calls", 3)
    # description only: still a new version
    assert schemas.update("api_calls", UpdateEventSchemaRequest(description="v3")).version == 3
    # nothing changes: no new version
    assert schemas.update("api_calls", UpdateEventSchemaRequest(description="v3")).version == 3
    assert schemas.update("api_calls", UpdateEventSchemaRequest()).version == 3
    assert MeteringRepository(ctx.session, ctx.org_id).active_schema("api_calls").version == 3


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="bytes")]),
            "attribute 'calls' cannot be removed",
        ),
        (
            UpdateEventSchemaRequest(dimensions=[DimensionsSchema(name="zone")]),
            "dimension 'region' cannot be removed or renamed",
        ),
        (
            UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="calls", default_unit="KB")]),
            "defaultUnit of attribute 'calls'",
        ),
        (
            UpdateEventSchemaRequest(dimensions=[DimensionsSchema(name="region"), DimensionsSchema(name="calls")]),
            "both an attribute and a dimension",
        ),
    ],
)
def test_an_active_schema_only_grows(ctx: Context, request_: UpdateEventSchemaRequest, message: str) -> None:
    schemas = EventSchemaService(ctx)
    schemas.create(schema_request())
    schemas.activate("api_calls")
    with pytest.raises(BadRequest, match=message):
        schemas.update("api_calls", request_)
    assert [v.version for v in schemas.versions("api_calls")] == [1]


def test_inactive_and_deleted_schemas_cannot_be_edited(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    schemas.create(schema_request())
    schemas.activate("api_calls")
    schemas.deactivate("api_calls")
    with pytest.raises(BadRequest, match="INACTIVE"):
        schemas.update("api_calls", UpdateEventSchemaRequest(description="x"))
    assert schemas.activate("api_calls").status == "ACTIVE"  # INACTIVE -> ACTIVE
    schemas.delete("api_calls")
    with pytest.raises(BadRequest, match="ARCHIVED"):
        schemas.update("api_calls", UpdateEventSchemaRequest(description="x"))
    with pytest.raises(BadRequest, match="deleted"):
        schemas.activate("api_calls")


def test_status_transitions_and_repeats(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    schemas.create(schema_request())
    with pytest.raises(BadRequest, match="only an ACTIVE schema can be deactivated"):
        schemas.deactivate("api_calls")
    assert schemas.activate("api_calls").status == "ACTIVE"
    assert schemas.activate("api_calls").status == "ACTIVE"  # a repeat changes nothing
    assert schemas.deactivate("api_calls").status == "INACTIVE"
    assert schemas.deactivate("api_calls").status == "INACTIVE"
    schemas.delete("api_calls")
    schemas.delete("api_calls")  # a repeat changes nothing
    assert schemas.get("api_calls").status == "ARCHIVED"


def test_delete_hides_the_schema_and_keeps_its_name(ctx: Context) -> None:
    schemas = EventSchemaService(ctx)
    schemas.create(schema_request())
    schemas.create(schema_request(name="other"))
    schemas.delete("api_calls")
    assert [r.name for r in schemas.page(PageRequest()).items] == ["other"]
    assert [r.name for r in schemas.page(PageRequest(), "ARCHIVED").items] == ["api_calls"]
    assert [r.name for r in schemas.page(PageRequest(), "DRAFT,ARCHIVED").items] == ["api_calls", "other"]
    with pytest.raises(BadRequest, match="not a schema status"):
        schemas.page(PageRequest(), "active")
    with pytest.raises(Conflict, match="^An event schema named api_calls already exists$"):
        schemas.create(schema_request())
    with pytest.raises(NotFound, match="deleted"):
        UsageMeterService(ctx).create(meter_request())


def test_an_active_meter_holds_its_schema(ctx: Context) -> None:
    schemas, meters = EventSchemaService(ctx), UsageMeterService(ctx)
    schemas.create(schema_request())
    schemas.activate("api_calls")
    meter = meters.create(meter_request())
    meters.activate(meter.id)
    for action in (schemas.deactivate, schemas.delete):
        with pytest.raises(BadRequest, match=rf"ACTIVE usage meters use it: calls \({meter.id}\)"):
            action("api_calls")
    assert schemas.meter_counts([schemas.get("api_calls")]) == {schemas.get("api_calls").id: 1}
    meters.deactivate(meter.id)
    assert schemas.deactivate("api_calls").status == "INACTIVE"
    with pytest.raises(BadRequest, match="event schema api_calls is INACTIVE, not ACTIVE"):
        meters.activate(meter.id)


def test_ingestion_reads_the_active_version_and_active_meters(session: Session) -> None:
    org, other = org_in(session), org_in(session)
    ctx = Context(session=session, org=org, now=utc_now())
    schemas, meters = EventSchemaService(ctx), UsageMeterService(ctx)
    repo = MeteringRepository(session, org.id)
    schemas.create(schema_request())
    assert repo.active_schema("api_calls") is None  # DRAFT
    schemas.activate("api_calls")
    assert repo.active_schema("api_calls").version == 1
    a = meters.create(meter_request("a"))
    b = meters.create(meter_request("b", aggregation="COUNT", computation=None))
    meters.create(meter_request("c"))  # stays DRAFT
    meters.activate(a.id)
    meters.activate(b.id)
    schemas.update(
        "api_calls",
        UpdateEventSchemaRequest(dimensions=[DimensionsSchema(name="region"), DimensionsSchema(name="plan")]),
    )
    active = repo.active_schema("api_calls")
    assert (active.version, names(active.dimensions)) == (2, ["region", "plan"])
    assert [m.id for m in repo.active_meters("api_calls")] == [a.id, b.id]
    assert repo.active_meters("api_calls")[1].computations == [{"computation": "1", "order": 1}]
    assert len(repo.usable_meters()) == 3
    # another organization sees nothing
    theirs = MeteringRepository(session, other.id)
    assert theirs.active_schema("api_calls") is None and theirs.active_meters("api_calls") == []
    with pytest.raises(NotFound, match="^Event schema api_calls not found$"):
        EventSchemaService(Context(session=session, org=other, now=utc_now())).get("api_calls")
    with pytest.raises(NotFound, match=f"^Usage meter {a.id} not found$"):
        UsageMeterService(Context(session=session, org=other, now=utc_now())).get(a.id)


# -- usage meters --------------------------------------------------------------------------------------------------
@pytest.fixture
def schema(ctx: Context) -> str:
    EventSchemaService(ctx).create(schema_request(attributes=("calls", "bytes"), dimensions=("region", "plan")))
    EventSchemaService(ctx).activate("api_calls")
    return "api_calls"


def test_meter_defaults(ctx: Context, schema: str) -> None:
    meter = UsageMeterService(ctx).create(meter_request(aggregation="COUNT", computation=None))
    assert meter.id.startswith("um.") and len(meter.id) <= 20
    assert (meter.status, meter.event_schema_name, meter.computations) == (
        "DRAFT",
        schema,
        [{"computation": "1", "order": 1}],
    )
    assert meter.event_schema_id == EventSchemaService(ctx).get(schema).id
    assert meter.last_activated_at is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"computation": None}, "a SUM meter needs a computation"),
        ({"aggregation": "COUNT", "computation": '{"var":"attribute.calls"}'}, 'its computation is "1"'),
        (
            {
                "computations": [Computation(computation="1", order=1), Computation(computation="1", order=2)],
                "computation": None,
            },
            "Meterline meters take one computation",
        ),
        ({"computation": '{"var":'}, r"computations\[0\].computation: "),
        ({"computation": '{"var":"attribute.nope"}'}, r"computations\[0\].computation: var 'attribute.nope' is not"),
        ({"computation": '{"var":"calls"}'}, "var 'calls' is not an attribute or dimension"),
        ({"computation": '{"var":"dimension.calls"}'}, "var 'dimension.calls'"),
        (
            {
                "computations": [
                    Computation(
                        matcher='{"==":[{"var":"dimension.zone"},"eu"]}',
                        computation='{"var":"attribute.calls"}',
                        order=1,
                    )
                ],
                "computation": None,
            },
            r"computations\[0\].matcher: var 'dimension.zone'",
        ),
        (
            {"filters": [UsageMeterFilterEntry(field="zone", value="eu")]},
            r"filters\[0\].field: event schema api_calls has no dimension 'zone'",
        ),
        (
            {"filters": [UsageMeterFilterEntry(field="calls", value="1")]},
            "'calls' is an attribute: write attribute.calls",
        ),
        ({"filters": [UsageMeterFilterEntry(field="attribute.region", value="1")]}, "has no attribute 'region'"),
        (
            {"filters": [UsageMeterFilterEntry(field="attribute.calls", value="ten")]},
            r"filters\[0\].value: 'ten' is not a decimal number",
        ),
        (
            {"filters": [UsageMeterFilterEntry(field="metric.calls", value="1")]},
            "must be dimension.<name>, attribute.<name>",
        ),
        (
            {
                "filters": [
                    UsageMeterFilterEntry(field="region", value="eu"),
                    UsageMeterFilterEntry(field="dimension.region", value="us"),
                ]
            },
            "dimension 'region' is filtered twice",
        ),
    ],
)
def test_meter_content_is_checked(ctx: Context, schema: str, kwargs: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        UsageMeterService(ctx).create(meter_request(**kwargs))


def test_meter_logic_may_use_both_spellings(ctx: Context, schema: str) -> None:
    meter = UsageMeterService(ctx).create(
        meter_request(
            computations=[
                Computation(
                    matcher='{"and":[{"==":[{"var":"dimensions.region"},"eu"]},{"==":[{"var":"dimension.plan"},"pro"]}]}',
                    computation='{"+":[{"var":"attributes.calls"},{"var":"attribute.bytes"}]}',
                    order=1,
                    id="c1",
                )
            ],
            computation=None,
            filters=[
                UsageMeterFilterEntry(field="attribute.calls", value="-2.5"),
                UsageMeterFilterEntry(field="dimensions.plan", value="pro"),
                UsageMeterFilterEntry(field="region", value="eu"),
            ],
        )
    )
    assert meter.computations[0]["id"] == "c1"
    assert [f["field"] for f in meter.filters] == ["attribute.calls", "dimensions.plan", "region"]


def test_meter_schema_must_exist(ctx: Context, schema: str) -> None:
    with pytest.raises(NotFound, match="Event schema nope not found"):
        UsageMeterService(ctx).create(meter_request(schema="nope"))


def test_meter_names_are_unique_among_meters_not_archived(ctx: Context, schema: str) -> None:
    meters = UsageMeterService(ctx)
    first = meters.create(meter_request())
    with pytest.raises(Conflict, match="named calls already exists"):
        meters.create(meter_request())
    meters.delete(first.id)
    second = meters.create(meter_request())
    assert second.id != first.id
    assert meters.get(first.id).status == "ARCHIVED"
    other = meters.create(meter_request("other"))
    with pytest.raises(Conflict, match="^A usage meter named calls already exists$"):
        meters.update(other.id, UpdateUsageMeterRequest(name="calls"))


def test_meter_lifecycle(ctx: Context, schema: str) -> None:
    meters = UsageMeterService(ctx)
    meter = meters.create(meter_request())
    with pytest.raises(BadRequest, match="only an ACTIVE meter can be deactivated"):
        meters.deactivate(meter.id)
    ctx_later = Context(session=ctx.session, org=ctx.org, now=ctx.now + timedelta(minutes=5))
    activated = UsageMeterService(ctx_later).activate(meter.id)
    assert (activated.status, activated.last_activated_at) == ("ACTIVE", ctx_later.now)
    assert meters.activate(meter.id).last_activated_at == ctx_later.now  # a repeat changes nothing
    with pytest.raises(BadRequest, match="deactivate it before deleting it"):
        meters.delete(meter.id)
    assert meters.deactivate(meter.id).status == "INACTIVE"
    assert meters.activate(meter.id).last_activated_at == ctx.now  # INACTIVE -> ACTIVE again
    meters.deactivate(meter.id)
    meters.delete(meter.id)
    meters.delete(meter.id)
    for action in (meters.activate, meters.deactivate):
        with pytest.raises(BadRequest, match="deleted"):
            action(meter.id)
    with pytest.raises(BadRequest, match="deleted"):
        meters.update(meter.id, UpdateUsageMeterRequest(name="x"))


def test_a_draft_meter_takes_any_change(ctx: Context, schema: str) -> None:
    schemas, meters = EventSchemaService(ctx), UsageMeterService(ctx)
    schemas.create(schema_request(name="storage", attributes=("gb",), dimensions=("tier",)))
    meter = meters.create(meter_request())
    updated = meters.update(
        meter.id,
        UpdateUsageMeterRequest(
            event_schema_name="storage",
            computations=[Computation(computation='{"var":"attribute.gb"}', order=1)],
            filters=[UsageMeterFilterEntry(field="tier", value="hot")],
            billable_name="Storage",
            description="GB",
        ),
    )
    assert (updated.event_schema_name, updated.event_schema_id) == ("storage", schemas.get("storage").id)
    assert updated.filters == [{"field": "tier", "value": "hot"}] and updated.billable_name == "Storage"
    # a new aggregation starts from its default
    assert meters.update(meter.id, UpdateUsageMeterRequest(aggregation="COUNT")).computations == [
        {"computation": "1", "order": 1}
    ]
    with pytest.raises(BadRequest, match="needs a computation"):
        meters.update(meter.id, UpdateUsageMeterRequest(aggregation="SUM"))
    with pytest.raises(BadRequest, match="has no dimension 'region'"):
        meters.update(meter.id, UpdateUsageMeterRequest(filters=[UsageMeterFilterEntry(field="region", value="eu")]))
    # storage is DRAFT: the meter cannot be activated until it is ACTIVE
    with pytest.raises(BadRequest, match="storage is DRAFT, not ACTIVE"):
        meters.activate(meter.id)


def test_an_activated_meter_keeps_how_it_computes(ctx: Context, schema: str) -> None:
    meters = UsageMeterService(ctx)
    meter = meters.create(meter_request(filters=[UsageMeterFilterEntry(field="region", value="eu")]))
    meters.activate(meter.id)
    renamed = meters.update(meter.id, UpdateUsageMeterRequest(name="API calls", billable_name="Calls", description="d"))
    assert (renamed.name, renamed.billable_name, renamed.description) == ("API calls", "Calls", "d")
    for request_, field in [
        (UpdateUsageMeterRequest(aggregation="COUNT"), "aggregation"),
        (UpdateUsageMeterRequest(filters=[]), "filters"),
        (
            UpdateUsageMeterRequest(computations=[Computation(computation='{"var":"attribute.bytes"}', order=1)]),
            "computations",
        ),
        (UpdateUsageMeterRequest(event_schema_name="other"), "eventSchemaName"),
    ]:
        with pytest.raises(BadRequest, match=rf"^{field}: usage meter {meter.id} is ACTIVE"):
            meters.update(meter.id, request_)
    # sending what it already has is not a change
    same = UpdateUsageMeterRequest(
        aggregation="SUM",
        type="COUNTER",
        event_schema_name=schema,
        filters=[UsageMeterFilterEntry(field="region", value="eu")],
        computations=[Computation(computation='{"var":"attribute.calls"}', order=1)],
    )
    assert meters.update(meter.id, same).aggregation == "SUM"
    meters.deactivate(meter.id)
    with pytest.raises(BadRequest, match="is INACTIVE"):
        meters.update(meter.id, UpdateUsageMeterRequest(aggregation="COUNT"))


def test_activation_checks_the_meter_against_the_schema_again(ctx: Context) -> None:
    schemas, meters = EventSchemaService(ctx), UsageMeterService(ctx)
    schemas.create(schema_request(attributes=("calls", "bytes")))
    meter = meters.create(meter_request(computation='{"var":"attribute.bytes"}'))
    schemas.update("api_calls", UpdateEventSchemaRequest(attributes=[EventAttributeSchema(name="calls")]))
    schemas.activate("api_calls")
    with pytest.raises(BadRequest, match="var 'attribute.bytes'"):
        meters.activate(meter.id)


def test_meter_pages_filter_by_status_and_aggregation(ctx: Context, schema: str) -> None:
    meters = UsageMeterService(ctx)
    a = meters.create(meter_request("a"))
    meters.create(meter_request("b", aggregation="COUNT", computation=None))
    c = meters.create(meter_request("c"))
    meters.activate(a.id)
    meters.delete(c.id)
    page = lambda **kw: [m.name for m in meters.page(PageRequest(), **kw).items]  # noqa: E731
    assert page() == ["a", "b"]
    assert page(status="ACTIVE") == ["a"]
    assert page(status="ARCHIVED") == ["c"]
    assert page(status="DRAFT,ARCHIVED") == ["b", "c"]
    assert page(aggregations="COUNT") == ["b"]
    assert page(aggregations="SUM, COUNT") == ["a", "b"]
    with pytest.raises(BadRequest, match="'AVG' is not an aggregation"):
        page(aggregations="AVG")
    first = meters.page(PageRequest(size=1))
    assert [m.name for m in first.items] == ["a"] and first.next_token
