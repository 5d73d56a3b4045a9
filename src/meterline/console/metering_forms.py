"""The forms of the event schema, usage meter and events pages (console/metering_pages.py): pure functions and
small dataclasses that turn what a form says into the API's request bodies (filter rows into jsonLogic) and back
(a matcher into lines of words), and the services' refusals into words next to the field they are about. No routes
and no database here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import simplejson
from pydantic import ValidationError

from meterline.api.responses import dumps
from meterline.core import numbers
from meterline.core.schemas import error_text
from meterline.events import pipeline
from meterline.events.statuses import IngestionStatus
from meterline.metering import enrichments
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.rules import ACTIVE, ARCHIVED, DRAFT, INACTIVE

STATUS_WORDS = {DRAFT: "Draft", ACTIVE: "Active", INACTIVE: "Inactive", ARCHIVED: "Archived"}


def pydantic_message(error: Any) -> str:
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
    message = error_text(error)
    return message[:1].upper() + message[1:]


# -- event schemas -----------------------------------------------------------------------------------------------
def blank_schema_values() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "attributes": [{"name": "", "unit": ""}, {"name": "", "unit": ""}],
        "dimensions": [{"name": ""}, {"name": ""}],
        "enrichments": [],
        "dependencies": [],
        "id_template": "",
    }


@dataclass(frozen=True)
class EnrichmentRows:
    """The enrichment and dependency rows of the schema form, as posted (parallel lists)."""

    name: list[str]
    type: list[str]
    kind: list[str]
    value: list[str]
    order: list[str]
    dep_key: list[str]
    dep_name: list[str]
    id_template: str = ""


NO_ENRICHMENT_ROWS = EnrichmentRows([], [], [], [], [], [], [])
_BLANK_ENRICHMENT = {"name": "", "type": "ATTRIBUTE", "kind": "JSON_LOGIC", "value": "", "order": ""}


def _padded(values: list[str], n: int, fill: str = "") -> list[str]:
    return values + [fill] * (n - len(values))


def schema_values(
    name: str,
    description: str,
    attr_name: list[str],
    attr_unit: list[str],
    dim_name: list[str],
    enrichment: EnrichmentRows = NO_ENRICHMENT_ROWS,
) -> dict[str, Any]:
    units = attr_unit + [""] * (len(attr_name) - len(attr_unit))
    n, e = len(enrichment.name), enrichment
    rows = zip(
        e.name,
        _padded(e.type, n, "ATTRIBUTE"),
        _padded(e.kind, n, "JSON_LOGIC"),
        _padded(e.value, n),
        _padded(e.order, n),
        strict=False,
    )
    return {
        "name": name,
        "description": description,
        "attributes": [{"name": n, "unit": u} for n, u in zip(attr_name, units, strict=False)]
        or [{"name": "", "unit": ""}],
        "dimensions": [{"name": d} for d in dim_name] or [{"name": ""}],
        "enrichments": [{"name": a, "type": b, "kind": c, "value": d, "order": o} for a, b, c, d, o in rows],
        "dependencies": [
            {"key": k, "name": m} for k, m in zip(e.dep_key, _padded(e.dep_name, len(e.dep_key)), strict=False)
        ],
        "id_template": e.id_template,
    }


def schema_values_of(schema: EventSchema) -> dict[str, Any]:
    """The edit form's values of a saved schema, with one empty row more of each."""
    return {
        "name": schema.name,
        "description": schema.description or "",
        "attributes": [{"name": a["name"], "unit": a.get("defaultUnit") or ""} for a in schema.attributes or []]
        + [{"name": "", "unit": ""}],
        "dimensions": [{"name": d} for d in schema.dimension_names] + [{"name": ""}],
        "enrichments": [
            {
                "name": f["name"],
                "type": f["type"],
                "kind": f["enrichmentType"],
                "value": f["value"],
                "order": str(f["order"]),
            }
            for f in (schema.enrichments or {}).get("fields") or []
        ],
        "dependencies": [
            {"key": d["key"], "name": d["name"]} for d in (schema.enrichments or {}).get("dependencies") or []
        ],
        "id_template": schema.event_id_template or "",
    }


def schema_body(values: dict[str, Any]) -> tuple[dict[str, Any], list[int], list[int]]:
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
    fields = [
        {
            "name": row["name"].strip(),
            "type": row["type"],
            "enrichmentType": row["kind"],
            "value": row["value"].strip(),
            # an order left empty is the row's place; anything else is the API's to refuse
            "order": _order(row["order"], i + 1),
        }
        for i, row in enumerate(values.get("enrichments") or [])
        if row["name"].strip() or row["value"].strip()
    ]
    dependencies = [
        {"type": "SETTING", "key": row["key"].strip(), "name": row["name"].strip()}
        for row in values.get("dependencies") or []
        if row["key"].strip() or row["name"].strip()
    ]
    if fields or dependencies:
        body["enrichments"] = {"fields": fields, **({"dependencies": dependencies} if dependencies else {})}
    if values.get("id_template", "").strip():
        body["eventIdTemplate"] = values["id_template"].strip()
    return body, attribute_rows, dimension_rows


def _order(text: str, default: int) -> int | str:
    text = text.strip()
    if not text:
        return default
    return int(text) if re.fullmatch(r"-?[0-9]{1,10}", text) else text


def schema_validation_errors(
    exc: ValidationError, attribute_rows: list[int], dimension_rows: list[int]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        message = pydantic_message(error)
        if len(loc) >= 2 and loc[0] in ("attributes", "dimensions") and isinstance(loc[1], int):
            rows, prefix = (attribute_rows, "attr") if loc[0] == "attributes" else (dimension_rows, "dim")
            if len(loc) >= 3 and loc[2] == "defaultUnit":
                message = f"Unit: {message}"
            errors.setdefault(f"{prefix}.{rows[loc[1]]}", message)
        elif loc and loc[0] in ("name", "description"):
            errors.setdefault(str(loc[0]), message)
        elif loc and loc[0] == "enrichments":
            errors.setdefault("enrichments", f"{'.'.join(str(p) for p in loc)}: {message}")
        elif loc and loc[0] == "eventIdTemplate":
            errors.setdefault("id_template", message)
        else:
            errors.setdefault("form", message)
    return errors


_ROW_ERROR = re.compile(r"^(attributes|dimensions)\[(\d+)\]\.name: (.+)$", re.S)
_BOTH = re.compile(r"^'(.+)' is both an attribute and a dimension")


def schema_service_errors(
    message: str, values: dict[str, Any], attribute_rows: list[int], dimension_rows: list[int]
) -> dict[str, str]:
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
    if message.startswith("eventIdTemplate"):
        return {"id_template": message}
    if "enrichments" in message:
        return {"enrichments": message}
    return {"form": message}


def grow_schema_form(values: dict[str, Any], action: str) -> bool:
    """ "+ Add attribute" / "+ Add dimension": one more empty row."""
    if action == "add_attribute":
        values["attributes"].append({"name": "", "unit": ""})
        return True
    if action == "add_enrichment":
        values["enrichments"].append(dict(_BLANK_ENRICHMENT))
        return True
    if action == "add_dependency":
        values["dependencies"].append({"key": "", "name": ""})
        return True
    if action == "add_dimension":
        values["dimensions"].append({"name": ""})
        return True
    return False


# -- usage meters: filter rows <-> jsonLogic ---------------------------------------------------------------------
OPERATORS = {
    "is": "is",
    "is_not": "is not",
    "in": "is one of",
    "gt": "greater than",
    "ge": "at least",
    "lt": "less than",
    "le": "at most",
}
_LOGIC = {"is": "==", "is_not": "!=", "in": "in", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_WORDS_OF_LOGIC = {v: OPERATORS[k] for k, v in _LOGIC.items()} | {"===": "is", "!==": "is not"}
COUNT_COMPUTATION = "1"


class RowError(ValueError):
    pass


def _dumps(logic: Any) -> str:
    return dumps(logic).decode("utf-8")  # the API's writer: numbers in plain notation


def _number(text: str, name: str) -> Decimal:
    """A number to compare an attribute with, under the one number rule (core/numbers.py)."""
    try:
        return numbers.parse(text)
    except numbers.NumberError as exc:
        if str(exc).startswith("enter a number"):
            raise RowError(f"{name} is a number attribute: enter a number, such as 10 or 2.5") from None
        raise RowError(f"{name}: {exc}") from None


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
    except (ValueError, RecursionError):
        return None
    parts = (
        logic["and"]
        if isinstance(logic, dict) and list(logic) == ["and"] and isinstance(logic["and"], list)
        else [logic]
    )
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
        shown = ", ".join(numbers.plain(x) if isinstance(x, Decimal) else str(x) for x in items)
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


def meter_form_of(
    name: str,
    billable_name: str,
    description: str,
    schema: str,
    aggregation: str,
    sum_attribute: str,
    field: list[str],
    op: list[str],
    value: list[str],
    advanced: str,
) -> MeterForm:
    """The meter form as posted: one filter row per field (a missing operator is "is", a missing value empty)."""
    n = len(field)
    rows = [
        {"field": f, "op": o, "value": v}
        for f, o, v in zip(field, op + ["is"] * (n - len(op)), value + [""] * (n - len(value)), strict=False)
    ]
    return MeterForm(
        name=name,
        billable_name=billable_name,
        description=description,
        schema=schema,
        aggregation=aggregation if aggregation in ("COUNT", "SUM") else "COUNT",
        sum_attribute=sum_attribute,
        rows=rows or [{"field": "", "op": "is", "value": ""}],
        advanced=advanced,
    )


def grow_meter_form(form: MeterForm, action: str) -> bool:
    """ "+ Add filter": one more empty row; "Load fields": another schema's fields, so the rows and the SUM
    attribute that named the old one's are cleared."""
    if action == "add_filter":
        form.rows.append({"field": "", "op": "is", "value": ""})  # type: ignore[union-attr]
        return True
    if action == "load_fields":
        form.sum_attribute = ""
        form.rows = [{"field": "", "op": "is", "value": ""}]
        return True
    return False


def filter_fields(schema: EventSchema | None) -> list[tuple[str, str]]:
    """The fields a filter row may name (value, label): the schema's dimensions, then its attributes."""
    if schema is None:
        return []
    derived_attributes, derived_dimensions = enrichments.derived_names(schema.enrichments)
    return [(f"dimension.{d}", f"{d} (dimension)") for d in schema.dimension_names + derived_dimensions] + [
        (f"attribute.{a}", f"{a} (attribute)") for a in schema.attribute_names + derived_attributes
    ]


def meter_summary(meter: UsageMeter) -> str:
    """COUNT, or SUM of the attribute it adds up (or of its jsonLogic)."""
    if meter.aggregation != "SUM":
        return "COUNT of events"
    computation = (meter.computations or [{}])[0].get("computation", "")
    m = re.fullmatch(r'\{\s*"var"\s*:\s*"attributes?\.([^"]+)"\s*\}', computation or "")
    return f"SUM of {m[1]}" if m else "SUM of a jsonLogic computation"


def meter_body(form: MeterForm, errors: dict[str, str]) -> dict[str, Any]:
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
        except RecursionError:
            errors["advanced"] = "This is nested too deeply to be a filter"
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
    return {
        "name": form.name.strip(),
        "billableName": form.billable_name.strip() or None,
        "description": form.description.strip() or None,
        "type": "COUNTER",
        "aggregation": form.aggregation,
        "eventSchemaName": form.schema,
        "computations": computations,
    }


_METER_FIELDS = {
    "name": "name",
    "billableName": "billable_name",
    "description": "description",
    "eventSchemaName": "schema",
    "aggregation": "aggregation",
}


def meter_validation_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's refusals of the meter's body, next to the form's fields."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        key = _METER_FIELDS.get(str(error["loc"][0]) if error["loc"] else "", "form")
        errors.setdefault(key, pydantic_message(error))
    return errors


def meter_service_error(message: str, form: MeterForm) -> dict[str, str]:
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


# -- events ------------------------------------------------------------------------------------------------------
EVENT_STATUSES = {
    pipeline.METERED: "Metered",
    pipeline.NOT_METERED: "Not metered (no plan then)",
    pipeline.NO_MATCHING_METERS: "No matching meters",
    pipeline.ACCOUNT_NOT_FOUND: "Failed: account not found",
    pipeline.SCHEMA_NOT_DEFINED: "Failed: schema not defined",
    pipeline.ENRICHMENT_FAILED: "Failed: enrichment",
    pipeline.FAILED: "Failed: invalid event",
    pipeline.UNITS_INVALID: "Failed: units invalid",
    pipeline.DUPLICATE: "Failed: duplicate",
    pipeline.NO_EVENT_ID: "Failed: no event id",
    pipeline.PAST_GRACE: "Failed: past grace period",
    IngestionStatus.REVERTED: "Reverted",
}
_FAILED = frozenset(s for s in EVENT_STATUSES if s.startswith("INGESTION_FAILED"))
EVENT_GROUPS = {"processed": ("All processed", pipeline.ACCEPTED), "failed": ("All failed", _FAILED)}


def event_tone(status: str) -> str:
    """The badge's colour: processed, failed or other."""
    if status in pipeline.ACCEPTED:
        return "ok" if status == pipeline.METERED else "idle"
    return "failed" if status.startswith("INGESTION_FAILED") else "idle"


# The events log filters on whole days, [first, last + 1 day): the last day must leave room for its next one.
_FIRST_DAY, _LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)


def _day(text: str) -> date | None:
    day = date.fromisoformat(text) if text else None
    if day is not None and not _FIRST_DAY <= day <= _LAST_DAY:
        raise ValueError(f"Pick a day from {_FIRST_DAY} to {_LAST_DAY}")
    return day


def event_filters(
    account: str, schema: str, status: str, start: str, end: str
) -> tuple[dict[str, str], dict[str, str], date | None, date | None]:
    """The events log's filters as typed, their mistakes in words, and the first and last days they name."""
    filters = {"account": account.strip(), "schema": schema.strip(), "status": status, "start": start, "end": end}
    errors: dict[str, str] = {}
    if status and status not in EVENT_STATUSES and status not in EVENT_GROUPS:
        errors["status"] = "Pick a status from the list"
    first = last = None
    for field, typed in (("start", start), ("end", end)):
        try:
            day = _day(typed)
        except ValueError as exc:
            words = str(exc)
            errors[field] = words if words.startswith("Pick a day") else "Pick a date from the calendar (YYYY-MM-DD)"
            continue
        if field == "start":
            first = day
        else:
            last = day
    if first and last and last < first:
        errors["end"] = "The last day comes on or after the first"
    return filters, errors, first, last
