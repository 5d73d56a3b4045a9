"""Event schemas and usage meters: the catalog events are metered against (billing-decisions D5).

Event schemas
- A schema is named (unique in the organization, also after it is deleted) and versioned: one row per version.
  A new schema is DRAFT version 1. Editing a DRAFT changes it in place; editing an ACTIVE schema makes version N+1,
  which is the ACTIVE one, and ARCHIVES version N. An ACTIVE schema's edits may only add attributes and
  dimensions (and change the rest); INACTIVE and deleted schemas cannot be edited.
- activate: DRAFT or INACTIVE -> ACTIVE. deactivate: ACTIVE -> INACTIVE. delete: -> ARCHIVED. Deactivate and delete
  are refused while an ACTIVE meter uses the schema.

Usage meters
- A meter belongs to one schema, by its stable id and name. Filters and the (single) computation are checked
  against the schema's newest version; jsonLogic must compile and read only the schema's attributes and
  dimensions.
- DRAFT -> activate (the schema must be ACTIVE) -> ACTIVE -> deactivate -> INACTIVE -> activate ...; delete of a
  DRAFT or INACTIVE meter archives it. Once a meter has been active, only its name, billableName and description
  change: anything else would rewrite usage already billed.

Repeating a transition already made (activating an ACTIVE object, deleting a deleted one) changes nothing and
succeeds, so a retried call is safe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id, new_short_id
from meterline.core.pagination import Page, PageRequest
from meterline.metering import schemas
from meterline.metering.jsonlogic import JsonLogicError, compile_logic
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.tenancy.context import Context

DRAFT = "DRAFT"
ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
ARCHIVED = "ARCHIVED"
STATUSES = (DRAFT, ACTIVE, INACTIVE, ARCHIVED)
AGGREGATIONS = ("COUNT", "SUM")
COUNT_COMPUTATION = "1"

_DECIMAL_TEXT = re.compile(r"-?\d{1,512}(\.\d+)?")
_ATTRIBUTE_PREFIXES = ("attribute", "attributes")
_DIMENSION_PREFIXES = ("dimension", "dimensions")


def _status_filter(value: str | None, what: str) -> set[str] | None:
    """`status` query values: one or more (comma-separated) of STATUSES; none means "all but ARCHIVED"."""
    if value is None or not value.strip():
        return None
    statuses = {s.strip() for s in value.split(",") if s.strip()}
    unknown = sorted(statuses - set(STATUSES))
    if unknown:
        raise BadRequest(f"status: {unknown[0]!r} is not a {what} status; use {', '.join(STATUSES)}")
    return statuses


def _refuse_archived(status: str, what: str) -> None:
    if status == ARCHIVED:
        raise BadRequest(f"{what} is deleted (ARCHIVED) and cannot be changed")


# -- event schemas -----------------------------------------------------------------------------------------------
class EventSchemaService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = MeteringRepository(ctx.session, ctx.org_id)

    # -- reads -----------------------------------------------------------------------------------------------
    def get(self, name: str, version: int | None = None) -> EventSchema:
        """The newest version, or the one asked for."""
        latest = self.repo.latest_schema(name)
        if latest is None:
            raise NotFound(f"Event schema {name} not found")
        if version is None or version == latest.version:
            return latest
        row = self.repo.schema_version(name, version)
        if row is None:
            raise NotFound(f"Event schema {name} has no version {version} (its newest is {latest.version})")
        return row

    def versions(self, name: str) -> list[EventSchema]:
        return self.repo.schema_versions(self.get(name).id)

    def page(self, request: PageRequest, status: str | None = None) -> Page[EventSchema]:
        """Schemas (newest versions) not deleted; or those with the given status (ARCHIVED: the deleted ones)."""
        return self.repo.schema_page(request, statuses=_status_filter(status, "schema"))

    def meter_counts(self, rows: Sequence[EventSchema]) -> dict[str, int]:
        """Meters that are not ARCHIVED, per schema id."""
        return self.repo.live_meter_counts({r.id for r in rows})

    # -- writes ----------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreateEventSchemaRequest) -> EventSchema:
        if self.repo.latest_schema(request.name) is not None:
            raise Conflict(f"An event schema named {request.name} already exists")
        content = _SchemaContent.of(request)
        content.check()
        now = self.ctx.now
        row = EventSchema(
            pk=new_id("esv"),
            org_id=self.ctx.org_id,
            id=new_id("es"),
            name=request.name,
            version=1,
            latest=True,
            status=DRAFT,
            created_at=now,
            updated_at=now,
            **content.columns(),
        )
        self.repo.add(row)
        return row

    def update(self, name: str, request: schemas.UpdateEventSchemaRequest) -> EventSchema:
        current = self.get(name)
        if current.status in (INACTIVE, ARCHIVED):
            raise BadRequest(
                f"Event schema {name} is {current.status}: only DRAFT and ACTIVE schemas can be edited"
                + (" (activate it first)" if current.status == INACTIVE else "")
            )
        stored = _SchemaContent.of(current)
        content = stored.merged(request)
        content.check()
        if current.status == ACTIVE:
            content.check_only_adds_to(stored, name)
        if content == stored:
            return current  # nothing changes: no new version
        now = self.ctx.now
        if current.status == DRAFT:
            for column, value in content.columns().items():
                setattr(current, column, value)
            current.updated_at = now
            return current
        current.latest = False
        current.status = ARCHIVED
        current.updated_at = now
        self.repo.session.flush()
        row = EventSchema(
            pk=new_id("esv"),
            org_id=self.ctx.org_id,
            id=current.id,
            name=current.name,
            version=current.version + 1,
            latest=True,
            status=ACTIVE,
            created_at=now,
            updated_at=now,
            **content.columns(),
        )
        self.repo.add(row)
        return row

    def activate(self, name: str) -> EventSchema:
        row = self.get(name)
        _refuse_archived(row.status, f"Event schema {name}")
        if row.status != ACTIVE:
            row.status = ACTIVE
            row.updated_at = self.ctx.now
        return row

    def deactivate(self, name: str) -> EventSchema:
        row = self.get(name)
        _refuse_archived(row.status, f"Event schema {name}")
        if row.status == DRAFT:
            raise BadRequest(f"Event schema {name} is DRAFT: only an ACTIVE schema can be deactivated")
        if row.status == ACTIVE:
            self._refuse_while_metered(row, "deactivated")
            row.status = INACTIVE
            row.updated_at = self.ctx.now
        return row

    def delete(self, name: str) -> None:
        """Archive the schema; its name stays taken."""
        row = self.get(name)
        if row.status == ARCHIVED:
            return
        self._refuse_while_metered(row, "deleted")
        row.status = ARCHIVED
        row.updated_at = self.ctx.now

    def _refuse_while_metered(self, row: EventSchema, verb: str) -> None:
        meters = self.repo.meters_of_schema(row.id, status=ACTIVE)
        if meters:
            names = ", ".join(f"{m.name} ({m.id})" for m in meters[:10])
            more = f" and {len(meters) - 10} more" if len(meters) > 10 else ""
            raise BadRequest(
                f"Event schema {row.name} cannot be {verb} while ACTIVE usage meters use it: {names}{more}. "
                "Deactivate those meters first"
            )


@dataclass(frozen=True)
class _SchemaContent:
    """What a schema version says, as stored (the API's JSON spelling)."""

    description: str | None
    attributes: tuple[tuple[str, str | None], ...]  # (name, defaultUnit)
    dimensions: tuple[str, ...]
    filter_fields: tuple[str, ...] | None
    enrichments: dict[str, Any] | None
    event_id_template: str | None

    @classmethod
    def of(cls, source: schemas.CreateEventSchemaRequest | EventSchema) -> _SchemaContent:
        if isinstance(source, EventSchema):
            return cls(
                description=source.description,
                attributes=tuple((a["name"], a.get("defaultUnit")) for a in source.attributes or []),
                dimensions=tuple(d["name"] for d in source.dimensions or []),
                filter_fields=tuple(source.filter_fields) if source.filter_fields is not None else None,
                enrichments=source.enrichments,
                event_id_template=source.event_id_template,
            )
        return cls(
            description=source.description,
            attributes=tuple((a.name, a.default_unit) for a in source.attributes),
            dimensions=tuple(d.name for d in source.dimensions),
            filter_fields=tuple(source.filter_fields) if source.filter_fields is not None else None,
            enrichments=_dump(source.enrichments),
            event_id_template=source.event_id_template,
        )

    def merged(self, request: schemas.UpdateEventSchemaRequest) -> _SchemaContent:
        """This content with what the request sends; what it leaves out stays."""
        return _SchemaContent(
            description=request.description if request.description is not None else self.description,
            attributes=(
                tuple((a.name, a.default_unit) for a in request.attributes)
                if request.attributes is not None
                else self.attributes
            ),
            dimensions=(
                tuple(d.name for d in request.dimensions) if request.dimensions is not None else self.dimensions
            ),
            filter_fields=tuple(request.filter_fields) if request.filter_fields is not None else self.filter_fields,
            enrichments=_dump(request.enrichments) if request.enrichments is not None else self.enrichments,
            event_id_template=(
                request.event_id_template if request.event_id_template is not None else self.event_id_template
            ),
        )

    def check(self) -> None:
        attributes = [name for name, _unit in self.attributes]
        for label, names in (("attributes", attributes), ("dimensions", list(self.dimensions))):
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    raise BadRequest(f"{label}[{i}].name: {name!r} is given twice")
                seen.add(name)
        both = sorted(set(attributes) & set(self.dimensions))
        if both:
            raise BadRequest(f"{both[0]!r} is both an attribute and a dimension: a name can be only one of them")
        known = set(attributes) | set(self.dimensions)
        seen = set()
        for i, field in enumerate(self.filter_fields or ()):
            if field not in known:
                raise BadRequest(f"filterFields[{i}]: {field!r} is not an attribute or dimension of the schema")
            if field in seen:
                raise BadRequest(f"filterFields[{i}]: {field!r} is given twice")
            seen.add(field)

    def check_only_adds_to(self, stored: _SchemaContent, name: str) -> None:
        """An ACTIVE schema keeps every attribute and dimension it has, unchanged."""
        new_attributes = dict(self.attributes)
        for attribute, unit in stored.attributes:
            if attribute not in new_attributes:
                raise BadRequest(
                    f"Event schema {name} is ACTIVE: attribute {attribute!r} cannot be removed or renamed "
                    "(attributes and dimensions can only be added)"
                )
            if new_attributes[attribute] != unit:
                raise BadRequest(
                    f"Event schema {name} is ACTIVE: the defaultUnit of attribute {attribute!r} cannot change"
                )
        for dimension in stored.dimensions:
            if dimension not in self.dimensions:
                raise BadRequest(
                    f"Event schema {name} is ACTIVE: dimension {dimension!r} cannot be removed or renamed "
                    "(attributes and dimensions can only be added)"
                )

    def columns(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "attributes": [
                {"name": name, **({"defaultUnit": unit} if unit is not None else {})} for name, unit in self.attributes
            ],
            "dimensions": [{"name": name} for name in self.dimensions],
            "filter_fields": list(self.filter_fields) if self.filter_fields is not None else None,
            "enrichments": self.enrichments,
            "event_id_template": self.event_id_template,
        }


# -- usage meters ------------------------------------------------------------------------------------------------
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
        statuses = _status_filter(status, "usage meter")
        wanted = None
        if aggregations is not None and aggregations.strip():
            wanted = {a.strip() for a in aggregations.split(",") if a.strip()}
            unknown = sorted(wanted - set(AGGREGATIONS))
            if unknown:
                raise BadRequest(f"aggregations: {unknown[0]!r} is not an aggregation; use COUNT, SUM or COUNT,SUM")
        return self.repo.meter_page(request, statuses=statuses, aggregations=wanted)

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
        _refuse_archived(meter.status, f"Usage meter {meter_id}")
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
        _refuse_archived(meter.status, f"Usage meter {meter_id}")
        if meter.status == ACTIVE:
            return meter
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
        _refuse_archived(meter.status, f"Usage meter {meter_id}")
        if meter.status == DRAFT:
            raise BadRequest(f"Usage meter {meter_id} is DRAFT: only an ACTIVE meter can be deactivated")
        if meter.status == ACTIVE:
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
        schema = self.repo.latest_schema(name)
        if schema is None or schema.status == ARCHIVED:
            raise NotFound(f"Event schema {name} not found" + (" (it is deleted)" if schema is not None else ""))
        return schema

    def _check_name_free(self, name: str) -> None:
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
            "filters": [_dump(f) for f in request.filters] if request.filters is not None else None,
            "computations": [_dump(c) for c in request.computations] if request.computations is not None else None,
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
    attributes, dimensions = set(schema.attribute_names), set(schema.dimension_names)
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
                    "compares numbers, e.g. \"10\" or \"2.5\")"
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
    stored = _dump(computation)
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
    raise BadRequest(
        f"filters: field {field!r} must be dimension.<name>, attribute.<name> or a dimension's bare name"
    )


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


def _dump(model: Any) -> Any:
    if model is None:
        return None
    return model.model_dump(by_alias=True, exclude_none=True)
