"""Usage meters: what events of a schema add up to (billing-rules D5).

- A meter belongs to one schema, by its stable id and name. Filters and the (single) computation are checked
  against the schema's newest version; jsonLogic must compile and read only the schema's attributes and
  dimensions.
- DRAFT -> activate (the schema must be ACTIVE) -> ACTIVE -> deactivate -> INACTIVE -> activate ...; delete of a
  DRAFT or INACTIVE meter archives it. Once a meter has been active, only its name, billableName and description
  change: anything else would rewrite usage already billed.

Repeated transitions succeed and change nothing (metering/rules.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meterline.core import numbers
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id, new_short_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.metering import enrichments, schemas
from meterline.metering.jsonlogic import JsonLogicError, compile_logic
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.metering.rules import (
    ACTIVE,
    ARCHIVED,
    DRAFT,
    INACTIVE,
    deactivation_due,
    dump,
    refuse_archived,
    status_filter,
)
from meterline.tenancy.context import Context

AGGREGATIONS = ("COUNT", "SUM")
COUNT_COMPUTATION = "1"

_DECIMAL_TEXT = numbers.DECIMAL_TEXT  # an attribute filter compares with a value an attribute can hold
_ATTRIBUTE_PREFIXES = ("attribute", "attributes")
_DIMENSION_PREFIXES = ("dimension", "dimensions")

# Fields a meter keeps once it has been active (they decide how usage is computed).
_FIXED_AFTER_ACTIVATION = ("event_schema_name", "type", "aggregation", "filters", "computations")


class UsageMeterService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = MeteringRepository(ctx.session, ctx.org_id)

    # -- reads -----------------------------------------------------------------------------------------------
    def get(self, meter_id: str) -> UsageMeter:
        meter = self.repo.meter(meter_id)
        if meter is None:
            raise NotFound(f"Usage meter {meter_id} not found")
        return meter

    def schema_of(self, meter: UsageMeter) -> EventSchema | None:
        """The newest version of the meter's schema."""
        return self.repo.latest_schema_by_id(meter.event_schema_id)

    def page(
        self, request: PageRequest, status: str | None = None, aggregations: str | None = None
    ) -> Page[UsageMeter]:
        statuses = status_filter(status, "usage meter")
        wanted = None
        if aggregations is not None and aggregations.strip():
            wanted = {a.strip() for a in aggregations.split(",") if a.strip()}
            unknown = sorted(wanted - set(AGGREGATIONS))
            if unknown:
                raise BadRequest(f"aggregations: {unknown[0]!r} is not an aggregation; use COUNT, SUM or COUNT,SUM")
        return self.repo.meter_page(request, statuses=statuses, aggregations=wanted)

    def listed(self, request: Slice, status: str | None = None) -> Counted[UsageMeter]:
        """The console's list: a sorted slice of the meters `page` lists, and their count."""
        return self.repo.meters_listed(request, statuses=status_filter(status, "usage meter"))

    # -- writes ----------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreateUsageMeterRequest) -> UsageMeter:
        schema = self._usable_schema(request.event_schema_name)
        self._check_name_free(request.name)
        filters, computations = meter_spec(schema, request.aggregation, request.filters, request.computations)
        now = self.ctx.now
        meter = UsageMeter(
            pk=new_id("meter"),
            org_id=self.ctx.org_id,
            id=new_short_id("um"),
            name=request.name,
            billable_name=request.billable_name,
            description=request.description,
            type=request.type,
            aggregation=request.aggregation,
            status=DRAFT,
            filters=filters,
            computations=computations,
            event_schema_id=schema.id,
            event_schema_name=schema.name,
            created_at=now,
            updated_at=now,
            last_activated_at=None,
        )
        self.repo.add(meter)
        return meter

    def update(self, meter_id: str, request: schemas.UpdateUsageMeterRequest) -> UsageMeter:
        meter = self.get(meter_id)
        refuse_archived(meter.status, f"Usage meter {meter_id}")
        if meter.status == DRAFT:
            self._update_draft(meter, request)
        else:
            self._refuse_computing_changes(meter, request)
        if request.name is not None and request.name != meter.name:
            self._check_name_free(request.name)
            meter.name = request.name
        if request.billable_name is not None:
            meter.billable_name = request.billable_name
        if request.description is not None:
            meter.description = request.description
        meter.updated_at = self.ctx.now
        return meter

    def activate(self, meter_id: str) -> UsageMeter:
        meter = self.get(meter_id)
        refuse_archived(meter.status, f"Usage meter {meter_id}")
        if meter.status == ACTIVE:
            return meter
        self.repo.lock_key("event-schema-name", meter.event_schema_name)  # its schema is not deactivated meanwhile
        schema = self.schema_of(meter)
        if schema is None or schema.status != ACTIVE:
            status = schema.status if schema is not None else "missing"
            raise BadRequest(
                f"Usage meter {meter.name} cannot be activated: its event schema {meter.event_schema_name} is "
                f"{status}, not ACTIVE (activate the schema first)"
            )
        # A DRAFT schema may have changed since the meter was written: check again against what events will carry.
        meter_spec(schema, meter.aggregation, _filter_entries(meter.filters), _computation_entries(meter.computations))
        meter.status = ACTIVE
        meter.last_activated_at = self.ctx.now
        meter.updated_at = self.ctx.now
        return meter

    def deactivate(self, meter_id: str) -> UsageMeter:
        meter = self.get(meter_id)
        if deactivation_due(meter.status, f"Usage meter {meter_id}", "meter"):
            meter.status = INACTIVE
            meter.updated_at = self.ctx.now
        return meter

    def delete(self, meter_id: str) -> None:
        """Archive the meter (its usage stays); its name becomes free."""
        meter = self.get(meter_id)
        if meter.status == ARCHIVED:
            return
        if meter.status == ACTIVE:
            raise BadRequest(f"Usage meter {meter_id} is ACTIVE: deactivate it before deleting it")
        meter.status = ARCHIVED
        meter.updated_at = self.ctx.now

    # -- internals -------------------------------------------------------------------------------------------
    def _usable_schema(self, name: str) -> EventSchema:
        self.repo.lock_key("event-schema-name", name)  # not deactivated or deleted while this meter is made
        schema = self.repo.latest_schema(name)
        if schema is None or schema.status == ARCHIVED:
            raise NotFound(f"Event schema {name} not found" + (" (it is deleted)" if schema is not None else ""))
        return schema

    def _check_name_free(self, name: str) -> None:
        self.repo.lock_key("meter-name", name)  # held to the end (the partial unique index backs it)
        if self.repo.live_meter_named(name) is not None:
            raise Conflict(f"A usage meter named {name} already exists")

    def _update_draft(self, meter: UsageMeter, request: schemas.UpdateUsageMeterRequest) -> None:
        """A DRAFT meter takes any change, checked as a new meter would be."""
        if all(getattr(request, field) is None for field in _FIXED_AFTER_ACTIVATION):
            return  # only name, billableName or description
        schema = self._usable_schema(request.event_schema_name or meter.event_schema_name)
        aggregation = request.aggregation or meter.aggregation
        filters = request.filters if request.filters is not None else _filter_entries(meter.filters)
        computations = (
            request.computations if request.computations is not None else _computation_entries(meter.computations)
        )
        new_aggregation = request.aggregation is not None and request.aggregation != meter.aggregation
        if new_aggregation and request.computations is None:
            computations = []  # a new aggregation starts from its own default (COUNT) or asks for one (SUM)
        meter.filters, meter.computations = meter_spec(schema, aggregation, filters, computations)
        meter.aggregation = aggregation
        meter.type = request.type or meter.type
        meter.event_schema_id = schema.id
        meter.event_schema_name = schema.name

    def _refuse_computing_changes(self, meter: UsageMeter, request: schemas.UpdateUsageMeterRequest) -> None:
        stored = {
            "event_schema_name": meter.event_schema_name,
            "type": meter.type,
            "aggregation": meter.aggregation,
            "filters": meter.filters or [],
            "computations": meter.computations or [],
        }
        sent = {
            "event_schema_name": request.event_schema_name,
            "type": request.type,
            "aggregation": request.aggregation,
            "filters": [dump(f) for f in request.filters] if request.filters is not None else None,
            "computations": [dump(c) for c in request.computations] if request.computations is not None else None,
        }
        for field in _FIXED_AFTER_ACTIVATION:
            if sent[field] is not None and sent[field] != stored[field]:
                alias = schemas.UpdateUsageMeterRequest.model_fields[field].alias
                raise BadRequest(
                    f"{alias}: usage meter {meter.id} is {meter.status}; once a meter has been active only name, "
                    "billableName and description can change (anything else would rewrite usage already billed). "
                    "Create a new meter instead"
                )


def meter_spec(
    schema: EventSchema,
    aggregation: str,
    filters: Sequence[schemas.UsageMeterFilterEntry] | None,
    computations: Sequence[schemas.Computation] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check a meter's filters and computation against the schema; return them as stored (D5)."""
    derived_attributes, derived_dimensions = enrichments.derived_names(schema.enrichments)
    attributes = set(schema.attribute_names) | set(derived_attributes)
    dimensions = set(schema.dimension_names) | set(derived_dimensions)
    stored_filters = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(filters or []):
        kind, name = _field_ref(entry.field)
        if kind == "attribute":
            if name not in attributes:
                raise BadRequest(
                    f"filters[{i}].field: event schema {schema.name} has no attribute {name!r}"
                    + (f" ({name!r} is a dimension: write dimension.{name})" if name in dimensions else "")
                )
            if not _DECIMAL_TEXT.fullmatch(entry.value):
                raise BadRequest(
                    f"filters[{i}].value: {entry.value[:40]!r} is not a decimal number (an attribute filter "
                    f'compares numbers, e.g. "10" or "2.5"; they {numbers.RULE})'
                )
        elif name not in dimensions:
            raise BadRequest(
                f"filters[{i}].field: event schema {schema.name} has no dimension {name!r}"
                + (f" ({name!r} is an attribute: write attribute.{name})" if name in attributes else "")
            )
        if (kind, name) in seen:
            raise BadRequest(f"filters[{i}].field: {kind} {name!r} is filtered twice")
        seen.add((kind, name))
        stored_filters.append({"field": entry.field, "value": entry.value})

    given = list(computations or [])
    if len(given) > 1:
        raise BadRequest("computations: Meterline meters take one computation")
    if not given:
        if aggregation == "SUM":
            raise BadRequest(
                "computations: a SUM meter needs a computation, the amount each matching event adds "
                '(e.g. {"var":"attribute.<name>"})'
            )
        return stored_filters, [{"computation": COUNT_COMPUTATION, "order": 1}]
    computation = given[0]
    if aggregation == "COUNT" and computation.computation.strip() != COUNT_COMPUTATION:
        raise BadRequest(
            'computations[0].computation: a COUNT meter counts matching events, so its computation is "1" '
            "(use aggregation SUM to add up a value)"
        )
    if computation.matcher is not None:
        _check_logic(schema, "computations[0].matcher", computation.matcher, attributes, dimensions)
    if aggregation == "SUM":
        _check_logic(schema, "computations[0].computation", computation.computation, attributes, dimensions)
    stored = dump(computation)
    if aggregation == "COUNT":
        stored["computation"] = COUNT_COMPUTATION
    return stored_filters, [stored]


def _field_ref(field: str) -> tuple[str, str]:
    """`dimension.<name>`, `attribute.<name>` (or the plural spellings), or a bare name: a dimension (D5)."""
    prefix, dot, name = field.partition(".")
    if not dot:
        return "dimension", field
    if prefix in _ATTRIBUTE_PREFIXES:
        return "attribute", name
    if prefix in _DIMENSION_PREFIXES:
        return "dimension", name
    raise BadRequest(f"filters: field {field!r} must be dimension.<name>, attribute.<name> or a dimension's bare name")


def _check_logic(schema: EventSchema, where: str, text: str, attributes: set[str], dimensions: set[str]) -> None:
    try:
        compiled = compile_logic(text)
    except JsonLogicError as exc:
        raise BadRequest(f"{where}: {exc}") from None
    for variable in sorted(compiled.variables):
        prefix, dot, name = str(variable).partition(".")
        if dot and prefix in _ATTRIBUTE_PREFIXES and name in attributes:
            continue
        if dot and prefix in _DIMENSION_PREFIXES and name in dimensions:
            continue
        raise BadRequest(
            f"{where}: var {variable!r} is not an attribute or dimension of event schema {schema.name} "
            "(write attribute.<name> or dimension.<name>)"
        )


def _filter_entries(stored: list[Any] | None) -> list[schemas.UsageMeterFilterEntry]:
    return [schemas.UsageMeterFilterEntry.model_validate(f) for f in stored or []]


def _computation_entries(stored: list[Any] | None) -> list[schemas.Computation]:
    return [schemas.Computation.model_validate(c) for c in stored or []]
