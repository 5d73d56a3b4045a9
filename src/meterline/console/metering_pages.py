"""The console's event schema, usage meter and events pages (issue 7). Thin handlers over the services the API uses
(EventSchemaService, UsageMeterService, EventQueryService): the pages only turn forms into the API's requests
(filter rows into jsonLogic) and the services' answers into words.

Forms that grow ("+ Add attribute", "+ Add filter", "Load fields") post back and are shown again with what was typed,
so no JavaScript is needed.
Turning the forms into request bodies and refusals into words is console/metering_forms.py's.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console import feedback, listing
from meterline.console.account_pages import _url
from meterline.console.metering_forms import (
    EVENT_GROUPS,
    EVENT_STATUSES,
    OPERATORS,
    STATUS_WORDS,
    EnrichmentRows,
    MeterForm,
    blank_schema_values,
    event_filters,
    event_tone,
    filter_fields,
    filter_words,
    grow_meter_form,
    grow_schema_form,
    meter_body,
    meter_form_of,
    meter_service_error,
    meter_summary,
    meter_validation_errors,
    schema_body,
    schema_service_errors,
    schema_validation_errors,
    schema_values,
    schema_values_of,
)
from meterline.console.pages import PAGE, User, check_csrf, confirm, context, render
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.pagination import page_request
from meterline.customers.repository import CustomerRepository
from meterline.events.service import EventQueryService
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.metering.rules import ACTIVE, DRAFT, INACTIVE, STATUSES
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import CreateEventSchemaRequest, CreateUsageMeterRequest, UpdateEventSchemaRequest
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


# -- event schemas -----------------------------------------------------------------------------------------------
def _schema_by_id(ctx: Context, schema_id: str) -> EventSchema:
    row = MeteringRepository(ctx.session, ctx.org_id).latest_schema_by_id(schema_id)
    if row is None:
        raise NotFound(f"Event schema {schema_id} not found")
    return row


def _all_schemas(service: EventSchemaService) -> list[EventSchema]:
    """Every schema not deleted (newest versions, creation order): the choices of a meter's form."""
    rows: list[EventSchema] = []
    token: str | None = None
    while True:
        page = service.page(page_request(token, 50))
        rows += page.items
        token = page.next_token
        if token is None:
            return rows


_PICK_A_STATUS = "Pick a status from the list"


SCHEMAS = listing.Spec(
    path="/event-schemas",
    columns={"name": listing.Column("Name"), "created": listing.Column("Created", heading=False)},
    default="name",
    noun=("event schema", "event schemas"),
    size=PAGE,
)


@router.get("/event-schemas")
def schemas_page(request: Request, user: User, status: str = "", sort: str = "", page: str = "") -> Response:
    service = EventSchemaService(context(request, user))
    found = listing.Listing.read(SCHEMAS, sort=sort, page=page, filters={"status": status})
    # as the invoices and events lists: an unknown status is a 400 in words, not a silent "all"
    status_error = _PICK_A_STATUS if status and status not in STATUSES else None
    rows: list[EventSchema] = []
    counts: dict[str, int] = {}
    if found.ok and status_error is None:
        result = service.listed(found.slice(), status or None)
        found.found(result)
        rows = result.items
        counts = service.meter_counts(rows)
    return render(
        request,
        "schemas.html",
        user,
        status=400 if status_error or not found.ok else 200,
        schemas=rows,
        counts=counts,
        status_filter=status if status_error is None else "",
        statuses=STATUS_WORDS,
        status_error=status_error,
        list=found,
    )


def _schema_form(
    request: Request,
    user: Any,
    schema: EventSchema | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(request, "schema_form.html", user, status=status, schema=schema, values=values, errors=errors)


@router.get("/event-schemas/new")
def new_schema_page(request: Request, user: User) -> Response:
    return _schema_form(request, user, None, blank_schema_values(), {})


@router.post("/event-schemas/new")
def new_schema(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    attr_name: Annotated[list[str], Form()] = [],  # noqa: B006
    attr_unit: Annotated[list[str], Form()] = [],
    dim_name: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_name: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_type: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_kind: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_value: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_order: Annotated[list[str], Form()] = [],  # noqa: B006
    dep_key: Annotated[list[str], Form()] = [],  # noqa: B006
    dep_name: Annotated[list[str], Form()] = [],  # noqa: B006
    id_template: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "save",
) -> Response:
    check_csrf(user, csrf)
    enrichment = EnrichmentRows(enr_name, enr_type, enr_kind, enr_value, enr_order, dep_key, dep_name, id_template)
    values = schema_values(name, description, attr_name, attr_unit, dim_name, enrichment)
    if grow_schema_form(values, action):
        return _schema_form(request, user, None, values, {})
    body, attribute_rows, dimension_rows = schema_body(values)
    try:
        created = EventSchemaService(context(request, user)).create(
            CreateEventSchemaRequest.model_validate({"name": name.strip(), **body})
        )
    except ValidationError as exc:
        return _schema_form(
            request, user, None, values, schema_validation_errors(exc, attribute_rows, dimension_rows), status=400
        )
    except MeterlineError as exc:
        return _schema_form(
            request,
            user,
            None,
            values,
            schema_service_errors(exc.message, values, attribute_rows, dimension_rows),
            status=400,
        )
    return feedback.saved(
        request, _url("event-schemas", created.id), f"Event schema {created.name} is created as a DRAFT, version 1."
    )


def _schema_page(request: Request, user: Any, schema_id: str, status: int = 200, error: str | None = None) -> Response:
    ctx = context(request, user)
    schema = _schema_by_id(ctx, schema_id)
    versions = EventSchemaService(ctx).versions(schema.name)
    repo = MeteringRepository(ctx.session, ctx.org_id)
    meters = sorted(
        (m for s in (DRAFT, ACTIVE, INACTIVE) for m in repo.meters_of_schema(schema.id, status=s)), key=lambda m: m.pk
    )
    return render(
        request,
        "schema.html",
        user,
        status=status,
        schema=schema,
        versions=list(reversed(versions)),
        meters=meters,
        statuses=STATUS_WORDS,
        error=error,
    )


@router.get("/event-schemas/{schema_id}")
def schema_page(request: Request, user: User, schema_id: str) -> Response:
    return _schema_page(request, user, schema_id)


@router.get("/event-schemas/{schema_id}/edit")
def edit_schema_page(request: Request, user: User, schema_id: str) -> Response:
    schema = _schema_by_id(context(request, user), schema_id)
    return _schema_form(request, user, schema, schema_values_of(schema), {})


@router.post("/event-schemas/{schema_id}/edit")
def edit_schema(
    request: Request,
    user: User,
    schema_id: str,
    csrf: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    attr_name: Annotated[list[str], Form()] = [],  # noqa: B006
    attr_unit: Annotated[list[str], Form()] = [],
    dim_name: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_name: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_type: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_kind: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_value: Annotated[list[str], Form()] = [],  # noqa: B006
    enr_order: Annotated[list[str], Form()] = [],  # noqa: B006
    dep_key: Annotated[list[str], Form()] = [],  # noqa: B006
    dep_name: Annotated[list[str], Form()] = [],  # noqa: B006
    id_template: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "save",
) -> Response:
    """A DRAFT schema changes in place; an ACTIVE one gets a new version that may only add (the service decides)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    schema = _schema_by_id(ctx, schema_id)
    enrichment = EnrichmentRows(enr_name, enr_type, enr_kind, enr_value, enr_order, dep_key, dep_name, id_template)
    values = schema_values(schema.name, description, attr_name, attr_unit, dim_name, enrichment)
    if grow_schema_form(values, action):
        return _schema_form(request, user, schema, values, {})
    body, attribute_rows, dimension_rows = schema_body(values)
    body["description"] = values["description"].strip()  # an emptied description is cleared
    if "enrichments" not in body and schema.enrichments:
        body["enrichments"] = {"fields": []}  # every row emptied: the enrichments are cleared
    if "eventIdTemplate" not in body and schema.event_id_template:
        body["eventIdTemplate"] = ""  # likewise the template
    try:
        EventSchemaService(ctx).update(schema.name, UpdateEventSchemaRequest.model_validate(body))
    except ValidationError as exc:
        return _schema_form(
            request, user, schema, values, schema_validation_errors(exc, attribute_rows, dimension_rows), status=400
        )
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return _schema_form(
            request,
            user,
            schema,
            values,
            schema_service_errors(exc.message, values, attribute_rows, dimension_rows),
            status=400,
        )
    return feedback.saved(request, _url("event-schemas", schema_id), f"Event schema {schema.name} is saved.")


@router.post("/event-schemas/{schema_id}/{verb}")
def schema_action(
    request: Request, user: User, schema_id: str, verb: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Activate, Deactivate, Archive (the API's delete: the schema stays readable and its name stays taken)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    service = EventSchemaService(ctx)
    actions = {"activate": service.activate, "deactivate": service.deactivate, "archive": service.delete}
    if verb not in actions:
        raise NotFound(f"No such action: {verb}")
    schema = _schema_by_id(ctx, schema_id)
    try:
        actions[verb](schema.name)
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return _schema_page(request, user, schema_id, status=400, error=exc.message)
    return feedback.saved(request, _url("event-schemas", schema_id), f"Event schema {schema.name} is {DONE[verb]}.")


@router.get("/event-schemas/{schema_id}/archive")
def schema_archive_page(request: Request, user: User, schema_id: str) -> Response:
    schema = _schema_by_id(context(request, user), schema_id)
    url = _url("event-schemas", schema_id)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Archive the event schema {schema.name}?",
            words="Events with this schema are refused from now on, and it cannot be activated again; its name stays "
            "taken, and the events and usage already stored stay. It is refused while an ACTIVE meter uses it.",
            action=f"{url}/archive",
            button="Archive schema",
            back=url,
            section="schemas",
            crumbs=[("/event-schemas", "Event Schemas"), (url, schema.name)],
            facts=[("Schema", schema.name), ("Status", str(schema.status).title())],
        ),
    )


DONE = {"activate": "activated", "deactivate": "deactivated", "archive": "archived"}


# -- usage meters ------------------------------------------------------------------------------------------------
def _meter_form(request: Request, user: Any, form: MeterForm, errors: dict[str, str], status: int = 200) -> Response:
    ctx = context(request, user)
    schemas = _all_schemas(EventSchemaService(ctx))
    chosen = next((s for s in schemas if s.name == form.schema), None)
    if chosen is None and schemas:  # none picked yet (or one not found: its error says so)
        chosen = next((s for s in schemas if s.status == ACTIVE), schemas[0])
        form.schema = chosen.name
    return render(
        request,
        "meter_form.html",
        user,
        status=status,
        form=form,
        errors=errors,
        schemas=schemas,
        chosen=chosen,
        fields=filter_fields(chosen),
        operators=OPERATORS,
    )


METERS = listing.Spec(
    path="/usage-meters",
    columns={"name": listing.Column("Name"), "created": listing.Column("Created", descending_first=True)},
    default="name",
    noun=("usage meter", "usage meters"),
    size=PAGE,
)


@router.get("/usage-meters")
def meters_page(request: Request, user: User, status: str = "", sort: str = "", page: str = "") -> Response:
    service = UsageMeterService(context(request, user))
    found = listing.Listing.read(METERS, sort=sort, page=page, filters={"status": status})
    status_error = _PICK_A_STATUS if status and status not in STATUSES else None
    rows: list[UsageMeter] = []
    if found.ok and status_error is None:
        result = service.listed(found.slice(), status or None)
        found.found(result)
        rows = result.items
    return render(
        request,
        "meters.html",
        user,
        status=400 if status_error or not found.ok else 200,
        meters=rows,
        status_filter=status if status_error is None else "",
        statuses=STATUS_WORDS,
        summary=meter_summary,
        status_error=status_error,
        list=found,
    )


@router.get("/usage-meters/new")
def new_meter_page(request: Request, user: User, schema: str = "") -> Response:
    return _meter_form(request, user, MeterForm(schema=schema, rows=[{"field": "", "op": "is", "value": ""}]), {})


@router.post("/usage-meters/new")
def new_meter(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    billable_name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    event_schema: Annotated[str, Form()] = "",
    aggregation: Annotated[str, Form()] = "COUNT",
    sum_attribute: Annotated[str, Form()] = "",
    field: Annotated[list[str], Form()] = [],  # noqa: B006
    op: Annotated[list[str], Form()] = [],
    value: Annotated[list[str], Form()] = [],  # noqa: B006
    advanced: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "save",
) -> Response:
    check_csrf(user, csrf)
    form = meter_form_of(
        name, billable_name, description, event_schema, aggregation, sum_attribute, field, op, value, advanced
    )
    if grow_meter_form(form, action):
        return _meter_form(request, user, form, {})
    errors: dict[str, str] = {}
    body = meter_body(form, errors)
    if errors:
        return _meter_form(request, user, form, errors, status=400)
    try:
        created = UsageMeterService(context(request, user)).create(CreateUsageMeterRequest.model_validate(body))
    except ValidationError as exc:
        return _meter_form(request, user, form, meter_validation_errors(exc), status=400)
    except MeterlineError as exc:
        return _meter_form(request, user, form, meter_service_error(exc.message, form), status=400)
    return feedback.saved(
        request, _url("usage-meters", created.id), f"Usage meter {created.name} is created as a DRAFT."
    )


def _meter_page(request: Request, user: Any, meter_id: str, status: int = 200, error: str | None = None) -> Response:
    service = UsageMeterService(context(request, user))
    meter = service.get(meter_id)
    computation = (meter.computations or [{}])[0]
    return render(
        request,
        "meter.html",
        user,
        status=status,
        meter=meter,
        schema=service.schema_of(meter),
        computation=computation,
        matcher_lines=filter_words(computation.get("matcher")),
        summary=meter_summary(meter),
        statuses=STATUS_WORDS,
        error=error,
    )


@router.get("/usage-meters/{meter_id}")
def meter_page(request: Request, user: User, meter_id: str) -> Response:
    return _meter_page(request, user, meter_id)


@router.post("/usage-meters/{meter_id}/{verb}")
def meter_action(request: Request, user: User, meter_id: str, verb: str, csrf: Annotated[str, Form()] = "") -> Response:
    """Activate, Deactivate, Archive (the API's delete: a DRAFT or INACTIVE meter; its usage stays)."""
    check_csrf(user, csrf)
    service = UsageMeterService(context(request, user))
    actions = {"activate": service.activate, "deactivate": service.deactivate, "archive": service.delete}
    if verb not in actions:
        raise NotFound(f"No such action: {verb}")
    try:
        actions[verb](meter_id)
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return _meter_page(request, user, meter_id, status=400, error=exc.message)
    return feedback.saved(request, _url("usage-meters", meter_id), f"The usage meter is {DONE[verb]}.")


@router.get("/usage-meters/{meter_id}/archive")
def meter_archive_page(request: Request, user: User, meter_id: str) -> Response:
    meter = UsageMeterService(context(request, user)).get(meter_id)
    url = _url("usage-meters", meter_id)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Archive the usage meter {meter.name}?",
            words="It cannot be activated again and no price plan can use it; the usage it measured stays, "
            "and its name is free for another meter.",
            action=f"{url}/archive",
            button="Archive meter",
            back=url,
            section="meters",
            crumbs=[("/usage-meters", "Usage Meters"), (url, meter.name)],
            facts=[("Meter", meter.name), ("Status", str(meter.status).title())],
        ),
    )


# -- events ------------------------------------------------------------------------------------------------------
EVENTS = listing.Spec(
    path="/events",
    columns={"received": listing.Column("Received", heading=False)},
    default="-received",
    noun=("event", "events"),
    size=PAGE,
)
COUNTED = 10_000  # events counted for the list at most: an organization may have millions


@router.get("/events")
def events_page(
    request: Request,
    user: User,
    account: str = "",
    schema: str = "",
    status: str = "",
    start: str = "",
    end: str = "",
    sort: str = "",
    page: str = "",
) -> Response:
    ctx = context(request, user)
    filters, errors, first, last = event_filters(account, schema, status, start, end)
    found = listing.Listing.read(EVENTS, sort=sort, page=page, filters=filters)
    events: list[Any] = []
    accounts = {}
    service = EventQueryService(ctx)
    if not errors and found.ok:
        result = service.listed(
            found.slice(),
            account_id=filters["account"] or None,
            status=status if status in EVENT_STATUSES else None,
            statuses=EVENT_GROUPS[status][1] if status in EVENT_GROUPS else None,
            schema_name=filters["schema"] or None,
            start=datetime.combine(first, time(), timezone.utc) if first else None,
            end=datetime.combine(last + timedelta(days=1), time(), timezone.utc) if last else None,
            count_up_to=COUNTED,
        )
        found.found(result)
        events = result.items
        accounts = service.accounts_of(events)
    return render(
        request,
        "events.html",
        user,
        status=400 if errors or not found.ok else 200,
        events=events,
        accounts=accounts,
        filters=filters,
        errors=errors,
        statuses=EVENT_STATUSES,
        groups=EVENT_GROUPS,
        tone=event_tone,
        schema_names=[s.name for s in _all_schemas(EventSchemaService(ctx))],
        filtered=bool({k: v for k, v in filters.items() if v}),
        list=found,
    )


@router.get("/events/{reference_id}")
def event_page(request: Request, user: User, reference_id: str) -> Response:
    ctx = context(request, user)
    service = EventQueryService(ctx)
    item = service.pipeline(reference_id)
    event, account = item.event, item.account
    repo = MeteringRepository(ctx.session, ctx.org_id)
    meters = item.meters  # as recorded at ingestion (names included), not rebuilt from today's meters
    others = [e for e in service.by_event_id(event.event_id) if e.pk != event.pk] if event.event_id else []
    customer = CustomerRepository(ctx.session, ctx.org_id).by_pk(account.customer_pk) if account else None
    return render(
        request,
        "event.html",
        user,
        event=event,
        account=account,
        customer=customer,
        meters=meters,
        schema=repo.latest_schema(event.schema_name),
        others=others,
        statuses=EVENT_STATUSES,
        tone=event_tone,
    )
