"""The console's event schema, usage meter and events pages (issue 7). Thin handlers over the services the API uses
(EventSchemaService, UsageMeterService, EventQueryService): the pages only turn forms into the API's requests
(filter rows into jsonLogic) and the services' answers into words.

Forms that grow ("+ Add attribute", "+ Add filter", "Load fields") post back and are shown again with what was typed,
so no JavaScript is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import simplejson
from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console.pages import User, check_csrf, context, render
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.pagination import page_request
from meterline.customers.repository import CustomerRepository
from meterline.events import pipeline
from meterline.events.service import EventQueryService
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.metering.rules import ACTIVE, ARCHIVED, DRAFT, INACTIVE, STATUSES
from meterline.metering.schema_service import EventSchemaService
from meterline.metering.schemas import CreateEventSchemaRequest, CreateUsageMeterRequest, UpdateEventSchemaRequest
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
PAGE = 25
STATUS_WORDS = {DRAFT: "Draft", ACTIVE: "Active", INACTIVE: "Inactive", ARCHIVED: "Archived"}


def _url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _pydantic_message(error: Any) -> str:
    """One pydantic error in words a person reads next to the field."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return "Use letters, digits, '_', '-' and spaces only"
    if kind == "string_too_short":
        return "Required" if ctx.get("min_length") == 1 else f"At least {ctx['min_length']} characters, please"
    if kind == "string_too_long":
        return f"At most {ctx['max_length']} characters, please"
    if kind == "too_long":
        return f"At most {ctx.get('max_length')} of these, please"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:]


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


@router.get("/event-schemas")
def schemas_page(request: Request, user: User, status: str = "", after: str | None = None) -> Response:
    service = EventSchemaService(context(request, user))
    status = status if status in STATUSES else ""
    page = service.page(page_request(after, PAGE), status or None)
    counts = service.meter_counts(page.items)
    next_url = f"/event-schemas?{urlencode({'status': status, 'after': page.next_token})}" if page.next_token else None
    return render(request, "schemas.html", user, schemas=page.items, counts=counts, status_filter=status,
                  statuses=STATUS_WORDS, next_url=next_url, paged=after is not None)


def _schema_form(request: Request, user: Any, schema: EventSchema | None, values: dict[str, Any],
                 errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "schema_form.html", user, status=status, schema=schema, values=values, errors=errors)


def _blank_schema_values() -> dict[str, Any]:
    return {"name": "", "description": "", "attributes": [{"name": "", "unit": ""}, {"name": "", "unit": ""}],
            "dimensions": [{"name": ""}, {"name": ""}]}


def _schema_values(name: str, description: str, attr_name: list[str], attr_unit: list[str],
                   dim_name: list[str]) -> dict[str, Any]:
    units = attr_unit + [""] * (len(attr_name) - len(attr_unit))
    return {"name": name, "description": description,
            "attributes": [{"name": n, "unit": u} for n, u in zip(attr_name, units, strict=False)] or
            [{"name": "", "unit": ""}],
            "dimensions": [{"name": d} for d in dim_name] or [{"name": ""}]}


def _schema_body(values: dict[str, Any]) -> tuple[dict[str, Any], list[int], list[int]]:
    """The API's body for what the form says (empty rows left out), and which form row each item came from."""
    attributes, attribute_rows, dimensions, dimension_rows = [], [], [], []
    for i, row in enumerate(values["attributes"]):
        if row["name"].strip() or row["unit"].strip():
            attributes.append({"name": row["name"].strip(), "defaultUnit": row["unit"].strip() or None})
            attribute_rows.append(i)
    for i, row in enumerate(values["dimensions"]):
        if row["name"].strip():
            dimensions.append({"name": row["name"].strip()})
            dimension_rows.append(i)
    body = {"description": values["description"].strip() or None, "attributes": attributes, "dimensions": dimensions}
    return body, attribute_rows, dimension_rows


def _schema_validation_errors(exc: ValidationError, attribute_rows: list[int], dimension_rows: list[int]
                              ) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        message = _pydantic_message(error)
        if len(loc) >= 2 and loc[0] in ("attributes", "dimensions") and isinstance(loc[1], int):
            rows, prefix = (attribute_rows, "attr") if loc[0] == "attributes" else (dimension_rows, "dim")
            if len(loc) >= 3 and loc[2] == "defaultUnit":
                message = f"Unit: {message}"
            errors.setdefault(f"{prefix}.{rows[loc[1]]}", message)
        elif loc and loc[0] in ("name", "description"):
            errors.setdefault(str(loc[0]), message)
        else:
            errors.setdefault("form", message)
    return errors


_ROW_ERROR = re.compile(r"^(attributes|dimensions)\[(\d+)\]\.name: (.+)$", re.S)
_BOTH = re.compile(r"^'(.+)' is both an attribute and a dimension")


def _schema_service_errors(message: str, values: dict[str, Any], attribute_rows: list[int],
                           dimension_rows: list[int]) -> dict[str, str]:
    """The service's refusal next to the field it is about."""
    if m := _ROW_ERROR.match(message):
        rows, prefix = (attribute_rows, "attr") if m[1] == "attributes" else (dimension_rows, "dim")
        index = int(m[2])
        if index < len(rows):
            text = m[3]
            return {f"{prefix}.{rows[index]}": text[:1].upper() + text[1:]}
    if m := _BOTH.match(message):
        for i, row in enumerate(values["dimensions"]):
            if row["name"].strip() == m[1]:
                return {f"dim.{i}": message}
    if "already exists" in message:
        return {"name": message}
    return {"form": message}


def _grow(values: dict[str, Any], action: str) -> bool:
    """ "+ Add attribute" / "+ Add dimension": one more empty row."""
    if action == "add_attribute":
        values["attributes"].append({"name": "", "unit": ""})
        return True
    if action == "add_dimension":
        values["dimensions"].append({"name": ""})
        return True
    return False


@router.get("/event-schemas/new")
def new_schema_page(request: Request, user: User) -> Response:
    return _schema_form(request, user, None, _blank_schema_values(), {})


@router.post("/event-schemas/new")
def new_schema(request: Request, user: User, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
               description: Annotated[str, Form()] = "", attr_name: Annotated[list[str], Form()] = [],  # noqa: B006
               attr_unit: Annotated[list[str], Form()] = [], dim_name: Annotated[list[str], Form()] = [],  # noqa: B006
               action: Annotated[str, Form()] = "save") -> Response:
    check_csrf(user, csrf)
    values = _schema_values(name, description, attr_name, attr_unit, dim_name)
    if _grow(values, action):
        return _schema_form(request, user, None, values, {})
    body, attribute_rows, dimension_rows = _schema_body(values)
    try:
        created = EventSchemaService(context(request, user)).create(
            CreateEventSchemaRequest.model_validate({"name": name.strip(), **body}))
    except ValidationError as exc:
        return _schema_form(request, user, None, values, _schema_validation_errors(exc, attribute_rows, dimension_rows),
                            status=400)
    except MeterlineError as exc:
        return _schema_form(request, user, None, values,
                            _schema_service_errors(exc.message, values, attribute_rows, dimension_rows), status=400)
    return RedirectResponse(_url("event-schemas", created.id), status_code=303)


def _schema_page(request: Request, user: Any, schema_id: str, status: int = 200, error: str | None = None
                 ) -> Response:
    ctx = context(request, user)
    schema = _schema_by_id(ctx, schema_id)
    versions = EventSchemaService(ctx).versions(schema.name)
    repo = MeteringRepository(ctx.session, ctx.org_id)
    meters = sorted((m for s in (DRAFT, ACTIVE, INACTIVE) for m in repo.meters_of_schema(schema.id, status=s)),
                    key=lambda m: m.pk)
    return render(request, "schema.html", user, status=status, schema=schema, versions=list(reversed(versions)),
                  meters=meters, statuses=STATUS_WORDS, error=error)


@router.get("/event-schemas/{schema_id}")
def schema_page(request: Request, user: User, schema_id: str) -> Response:
    return _schema_page(request, user, schema_id)


@router.get("/event-schemas/{schema_id}/edit")
def edit_schema_page(request: Request, user: User, schema_id: str) -> Response:
    schema = _schema_by_id(context(request, user), schema_id)
    values = {"name": schema.name, "description": schema.description or "",
              "attributes": [{"name": a["name"], "unit": a.get("defaultUnit") or ""} for a in schema.attributes or []]
              + [{"name": "", "unit": ""}],
              "dimensions": [{"name": d} for d in schema.dimension_names] + [{"name": ""}]}
    return _schema_form(request, user, schema, values, {})


@router.post("/event-schemas/{schema_id}/edit")
def edit_schema(request: Request, user: User, schema_id: str, csrf: Annotated[str, Form()] = "",
                description: Annotated[str, Form()] = "", attr_name: Annotated[list[str], Form()] = [],  # noqa: B006
                attr_unit: Annotated[list[str], Form()] = [], dim_name: Annotated[list[str], Form()] = [],  # noqa: B006
                action: Annotated[str, Form()] = "save") -> Response:
    """A DRAFT schema changes in place; an ACTIVE one gets a new version that may only add (the service decides)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    schema = _schema_by_id(ctx, schema_id)
    values = _schema_values(schema.name, description, attr_name, attr_unit, dim_name)
    if _grow(values, action):
        return _schema_form(request, user, schema, values, {})
    body, attribute_rows, dimension_rows = _schema_body(values)
    body["description"] = values["description"].strip()  # an emptied description is cleared
    try:
        EventSchemaService(ctx).update(schema.name, UpdateEventSchemaRequest.model_validate(body))
    except ValidationError as exc:
        return _schema_form(request, user, schema, values,
                            _schema_validation_errors(exc, attribute_rows, dimension_rows), status=400)
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return _schema_form(request, user, schema, values,
                            _schema_service_errors(exc.message, values, attribute_rows, dimension_rows), status=400)
    return RedirectResponse(_url("event-schemas", schema_id), status_code=303)


@router.post("/event-schemas/{schema_id}/{verb}")
def schema_action(request: Request, user: User, schema_id: str, verb: str, csrf: Annotated[str, Form()] = ""
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
    return RedirectResponse(_url("event-schemas", schema_id), status_code=303)


# -- usage meters: filter rows <-> jsonLogic ---------------------------------------------------------------------
OPERATORS = {"is": "is", "is_not": "is not", "in": "is one of", "gt": "greater than", "ge": "at least",
             "lt": "less than", "le": "at most"}
_LOGIC = {"is": "==", "is_not": "!=", "in": "in", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_WORDS_OF_LOGIC = {v: OPERATORS[k] for k, v in _LOGIC.items()} | {"===": "is", "!==": "is not"}
COUNT_COMPUTATION = "1"


class RowError(ValueError):
    pass


def _dumps(logic: Any) -> str:
    return str(simplejson.dumps(logic, use_decimal=True, separators=(",", ":"), ensure_ascii=False))


def _number(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise RowError(f"{name} is a number attribute: enter a number, such as 10 or 2.5")
    return Decimal(format(value, "f"))


def condition_of(field: str, operator: str, value: str) -> dict[str, Any]:
    """One filter row as jsonLogic over the event: `dimension.<name>` is text, `attribute.<name>` a number."""
    kind, _, name = field.partition(".")
    if kind not in ("attribute", "dimension") or not name:
        raise RowError("Pick the field to filter on")
    if operator not in _LOGIC:
        raise RowError("Pick an operator")
    var = {"var": field}
    if operator == "in":
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            raise RowError("Enter one value or more, separated by commas")
        return {"in": [var, items if kind == "dimension" else [_number(v, name) for v in items]]}
    if kind == "dimension":
        if operator not in ("is", "is_not"):
            raise RowError(f"{name} is a dimension (text): use is, is not or is one of")
        if not value.strip():
            raise RowError(f"Enter the value of {name} to compare with")
        return {_LOGIC[operator]: [var, value.strip()]}
    return {_LOGIC[operator]: [var, _number(value, name)]}


def filter_words(matcher: str | None) -> list[str] | None:
    """A matcher the filter rows make (or any simple one), as lines of words; None when it is not that simple."""
    if not matcher:
        return []
    try:
        logic = simplejson.loads(matcher, use_decimal=True)
    except ValueError:
        return None
    parts = logic["and"] if isinstance(logic, dict) and list(logic) == ["and"] and isinstance(logic["and"], list) \
        else [logic]
    lines = []
    for part in parts:
        if not (isinstance(part, dict) and len(part) == 1):
            return None
        op, args = next(iter(part.items()))
        if op not in _WORDS_OF_LOGIC or not isinstance(args, list) or len(args) != 2:
            return None
        var, literal = args
        if not (isinstance(var, dict) and list(var) == ["var"] and isinstance(var["var"], str)):
            return None
        items = literal if isinstance(literal, list) else [literal]
        if not items or not all(isinstance(x, (str, int, Decimal)) and not isinstance(x, bool) for x in items):
            return None
        shown = ", ".join(str(x) for x in items)
        lines.append(f"{var['var']} {_WORDS_OF_LOGIC[op]} {shown}")
    return lines


@dataclass
class MeterForm:
    name: str = ""
    billable_name: str = ""
    description: str = ""
    schema: str = ""
    aggregation: str = "COUNT"
    sum_attribute: str = ""
    rows: list[dict[str, str]] | None = None
    advanced: str = ""


def _meter_form(request: Request, user: Any, form: MeterForm, errors: dict[str, str], status: int = 200
                ) -> Response:
    ctx = context(request, user)
    schemas = _all_schemas(EventSchemaService(ctx))
    chosen = next((s for s in schemas if s.name == form.schema), None)
    if chosen is None and schemas:  # none picked yet (or one not found: its error says so)
        chosen = next((s for s in schemas if s.status == ACTIVE), schemas[0])
        form.schema = chosen.name
    fields = ([(f"dimension.{d}", f"{d} (dimension)") for d in chosen.dimension_names] +
              [(f"attribute.{a}", f"{a} (attribute)") for a in chosen.attribute_names]) if chosen else []
    return render(request, "meter_form.html", user, status=status, form=form, errors=errors, schemas=schemas,
                  chosen=chosen, fields=fields, operators=OPERATORS)


@router.get("/usage-meters")
def meters_page(request: Request, user: User, status: str = "", after: str | None = None) -> Response:
    service = UsageMeterService(context(request, user))
    status = status if status in STATUSES else ""
    page = service.page(page_request(after, PAGE), status or None)
    next_url = f"/usage-meters?{urlencode({'status': status, 'after': page.next_token})}" if page.next_token else None
    return render(request, "meters.html", user, meters=page.items, status_filter=status, statuses=STATUS_WORDS,
                  next_url=next_url, paged=after is not None, summary=meter_summary)


def meter_summary(meter: UsageMeter) -> str:
    """COUNT, or SUM of the attribute it adds up (or of its jsonLogic)."""
    if meter.aggregation != "SUM":
        return "COUNT of events"
    computation = (meter.computations or [{}])[0].get("computation", "")
    m = re.fullmatch(r'\{\s*"var"\s*:\s*"attributes?\.([^"]+)"\s*\}', computation or "")
    return f"SUM of {m[1]}" if m else "SUM of a jsonLogic computation"


@router.get("/usage-meters/new")
def new_meter_page(request: Request, user: User, schema: str = "") -> Response:
    return _meter_form(request, user, MeterForm(schema=schema, rows=[{"field": "", "op": "is", "value": ""}]), {})


def _meter_body(form: MeterForm, errors: dict[str, str]) -> dict[str, Any]:
    """The API's createUsageMeter body for what the form says; mistakes of the rows go into `errors`."""
    conditions = []
    for i, row in enumerate(form.rows or []):
        if not row["field"] and not row["value"].strip():
            continue  # an empty row
        try:
            conditions.append(condition_of(row["field"], row["op"], row["value"]))
        except RowError as exc:
            errors[f"filter.{i}"] = str(exc)
    advanced = form.advanced.strip()
    if advanced:
        try:
            conditions.append(simplejson.loads(advanced, use_decimal=True))
        except ValueError as exc:
            errors["advanced"] = f"This is not valid JSON ({exc})"
    matcher = None
    if advanced and len(conditions) == 1:
        matcher = advanced  # as typed: the service checks it
    elif conditions:
        matcher = _dumps(conditions[0] if len(conditions) == 1 else {"and": conditions})
    computation = None
    if form.aggregation == "SUM":
        if not form.sum_attribute:
            errors["sum_attribute"] = "Pick the attribute a SUM meter adds up for each matching event"
        computation = _dumps({"var": form.sum_attribute})
    elif matcher is not None:
        computation = COUNT_COMPUTATION
    computations = None
    if computation is not None:
        computations = [{"computation": computation, "order": 1, **({"matcher": matcher} if matcher else {})}]
    return {"name": form.name.strip(), "billableName": form.billable_name.strip() or None,
            "description": form.description.strip() or None, "type": "COUNTER", "aggregation": form.aggregation,
            "eventSchemaName": form.schema, "computations": computations}


_METER_FIELDS = {"name": "name", "billableName": "billable_name", "description": "description",
                 "eventSchemaName": "schema", "aggregation": "aggregation"}


def _meter_service_error(message: str, form: MeterForm) -> dict[str, str]:
    """The service's refusal next to the field it is about. The rows' jsonLogic is the page's own, made from the
    schema's fields, so a matcher refusal is about the advanced text unless it names a field only a row uses."""
    if message.startswith("computations[0].matcher: "):
        text = message.removeprefix("computations[0].matcher: ")
        named = re.match(r"var '([^']*)'", text)
        in_rows = named is not None and any(r["field"] == named[1] for r in form.rows or [])
        in_advanced = named is None or named[1] in form.advanced
        return {"advanced" if form.advanced.strip() and (in_advanced or not in_rows) else "filters": text}
    for prefix in ("computations[0].computation: ", "computations: "):
        if message.startswith(prefix):
            text = message.removeprefix(prefix)
            return {"sum_attribute": text[:1].upper() + text[1:]}
    if message.startswith("Event schema"):
        return {"schema": message}
    if message.startswith("A usage meter named"):
        return {"name": message}
    return {"form": message}


@router.post("/usage-meters/new")
def new_meter(request: Request, user: User, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
              billable_name: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
              event_schema: Annotated[str, Form()] = "", aggregation: Annotated[str, Form()] = "COUNT",
              sum_attribute: Annotated[str, Form()] = "", field: Annotated[list[str], Form()] = [],  # noqa: B006
              op: Annotated[list[str], Form()] = [], value: Annotated[list[str], Form()] = [],  # noqa: B006
              advanced: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "save") -> Response:
    check_csrf(user, csrf)
    n = len(field)
    rows = [{"field": f, "op": o, "value": v} for f, o, v in
            zip(field, op + ["is"] * (n - len(op)), value + [""] * (n - len(value)), strict=False)]
    form = MeterForm(name=name, billable_name=billable_name, description=description, schema=event_schema,
                     aggregation=aggregation if aggregation in ("COUNT", "SUM") else "COUNT",
                     sum_attribute=sum_attribute, rows=rows or [{"field": "", "op": "is", "value": ""}],
                     advanced=advanced)
    if action == "add_filter":
        form.rows.append({"field": "", "op": "is", "value": ""})  # type: ignore[union-attr]
        return _meter_form(request, user, form, {})
    if action == "load_fields":  # another schema: its fields, and rows that named the old one's cleared
        form.sum_attribute = ""
        form.rows = [{"field": "", "op": "is", "value": ""}]
        return _meter_form(request, user, form, {})
    errors: dict[str, str] = {}
    body = _meter_body(form, errors)
    if errors:
        return _meter_form(request, user, form, errors, status=400)
    try:
        created = UsageMeterService(context(request, user)).create(CreateUsageMeterRequest.model_validate(body))
    except ValidationError as exc:
        for error in exc.errors():
            key = _METER_FIELDS.get(str(error["loc"][0]) if error["loc"] else "", "form")
            errors.setdefault(key, _pydantic_message(error))
        return _meter_form(request, user, form, errors, status=400)
    except MeterlineError as exc:
        return _meter_form(request, user, form, _meter_service_error(exc.message, form), status=400)
    return RedirectResponse(_url("usage-meters", created.id), status_code=303)


def _meter_page(request: Request, user: Any, meter_id: str, status: int = 200, error: str | None = None) -> Response:
    service = UsageMeterService(context(request, user))
    meter = service.get(meter_id)
    computation = (meter.computations or [{}])[0]
    return render(request, "meter.html", user, status=status, meter=meter, schema=service.schema_of(meter),
                  computation=computation, matcher_lines=filter_words(computation.get("matcher")),
                  summary=meter_summary(meter), statuses=STATUS_WORDS, error=error)


@router.get("/usage-meters/{meter_id}")
def meter_page(request: Request, user: User, meter_id: str) -> Response:
    return _meter_page(request, user, meter_id)


@router.post("/usage-meters/{meter_id}/{verb}")
def meter_action(request: Request, user: User, meter_id: str, verb: str, csrf: Annotated[str, Form()] = ""
                 ) -> Response:
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
    return RedirectResponse(_url("usage-meters", meter_id), status_code=303)


# -- events ------------------------------------------------------------------------------------------------------
EVENT_STATUSES = {
    pipeline.METERED: "Metered",
    pipeline.NOT_METERED: "Not metered (no plan then)",
    pipeline.NO_MATCHING_METERS: "No matching meters",
    pipeline.ACCOUNT_NOT_FOUND: "Failed: account not found",
    pipeline.SCHEMA_NOT_DEFINED: "Failed: schema not defined",
    pipeline.FAILED: "Failed: invalid event",
    pipeline.UNITS_INVALID: "Failed: units invalid",
    pipeline.DUPLICATE: "Failed: duplicate",
    pipeline.NO_EVENT_ID: "Failed: no event id",
    pipeline.PAST_GRACE: "Failed: past grace period",
    "REVERTED": "Reverted",
}
_FAILED = frozenset(s for s in EVENT_STATUSES if s.startswith("INGESTION_FAILED"))
EVENT_GROUPS = {"processed": ("All processed", pipeline.ACCEPTED), "failed": ("All failed", _FAILED)}


def event_tone(status: str) -> str:
    """The badge's colour: processed, failed or other."""
    if status in pipeline.ACCEPTED:
        return "ok" if status == pipeline.METERED else "idle"
    return "failed" if status.startswith("INGESTION_FAILED") else "idle"


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@router.get("/events")
def events_page(request: Request, user: User, account: str = "", schema: str = "", status: str = "",
                start: str = "", end: str = "", after: str | None = None) -> Response:
    ctx = context(request, user)
    filters = {"account": account.strip(), "schema": schema.strip(), "status": status, "start": start, "end": end}
    errors: dict[str, str] = {}
    if status and status not in EVENT_STATUSES and status not in EVENT_GROUPS:
        errors["status"] = "Pick a status from the list"
    first = last = None
    try:
        first = _day(start)
    except ValueError:
        errors["start"] = "Pick a date from the calendar (YYYY-MM-DD)"
    try:
        last = _day(end)
    except ValueError:
        errors["end"] = "Pick a date from the calendar (YYYY-MM-DD)"
    if first and last and last < first:
        errors["end"] = "The last day comes on or after the first"
    events, token, accounts = [], None, {}
    service = EventQueryService(ctx)
    if not errors:
        page = service.page(
            page_request(after, PAGE), account_id=filters["account"] or None,
            status=status if status in EVENT_STATUSES else None,
            statuses=EVENT_GROUPS[status][1] if status in EVENT_GROUPS else None,
            schema_name=filters["schema"] or None,
            start=datetime.combine(first, time(), timezone.utc) if first else None,
            end=datetime.combine(last + timedelta(days=1), time(), timezone.utc) if last else None,
            newest_first=True)
        events, token = page.items, page.next_token
        accounts = service.accounts_of(events)
    query = {k: v for k, v in filters.items() if v}
    return render(request, "events.html", user, status=400 if errors else 200, events=events, accounts=accounts,
                  filters=filters, errors=errors, statuses=EVENT_STATUSES, groups=EVENT_GROUPS, tone=event_tone,
                  schema_names=[s.name for s in _all_schemas(EventSchemaService(ctx))], filtered=bool(query),
                  next_url=f"/events?{urlencode({**query, 'after': token})}" if token else None,
                  first_url=f"/events?{urlencode(query)}" if after else None)


@router.get("/events/{reference_id}")
def event_page(request: Request, user: User, reference_id: str) -> Response:
    ctx = context(request, user)
    service = EventQueryService(ctx)
    item = service.pipeline(reference_id)
    event, account = item.event, item.account
    repo = MeteringRepository(ctx.session, ctx.org_id)
    meters = []
    for meter_id, name, units in item.meters:
        if name == meter_id:  # a meter no longer ACTIVE: its name from the catalog
            known = repo.meter(meter_id)
            name = known.name if known else meter_id
        meters.append((meter_id, name, units))
    others = [e for e in service.by_event_id(event.event_id) if e.pk != event.pk] if event.event_id else []
    customer = CustomerRepository(ctx.session, ctx.org_id).by_pk(account.customer_pk) if account else None
    return render(request, "event.html", user, event=event, account=account, customer=customer, meters=meters,
                  schema=repo.latest_schema(event.schema_name), others=others, statuses=EVENT_STATUSES,
                  tone=event_tone)
