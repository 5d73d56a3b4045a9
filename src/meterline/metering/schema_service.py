"""Event schemas: the catalog events are metered against (billing-rules D5).

- A schema is named (unique in the organization, also after it is deleted) and versioned: one row per version.
  A new schema is DRAFT version 1. Editing a DRAFT changes it in place; editing an ACTIVE schema makes version N+1,
  which is the ACTIVE one, and ARCHIVES version N. An ACTIVE schema's edits may only add attributes and
  dimensions (and change the rest); INACTIVE and deleted schemas cannot be edited.
- activate: DRAFT or INACTIVE -> ACTIVE. deactivate: ACTIVE -> INACTIVE. delete: -> ARCHIVED. Deactivate and delete
  are refused while an ACTIVE meter uses the schema.

Repeated transitions succeed and change nothing (metering/rules.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.metering import enrichments, schemas
from meterline.metering.models import EventSchema
from meterline.metering.repository import MeteringRepository
from meterline.metering.rules import (
    ACTIVE,
    ARCHIVED,
    DRAFT,
    INACTIVE,
    PREDEFINED_SCHEMAS,
    deactivation_due,
    dump,
    refuse_archived,
    status_filter,
)
from meterline.tenancy.context import Context


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
        return self.repo.schema_page(request, statuses=status_filter(status, "schema"))

    def listed(self, request: Slice, status: str | None = None) -> Counted[EventSchema]:
        """The console's list: a sorted slice of the schemas `page` lists, and their count."""
        return self.repo.schemas_listed(request, statuses=status_filter(status, "schema"))

    def meter_counts(self, rows: Sequence[EventSchema]) -> dict[str, int]:
        """Meters that are not ARCHIVED, per schema id."""
        return self.repo.live_meter_counts({r.id for r in rows})

    # -- writes ----------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreateEventSchemaRequest) -> EventSchema:
        if request.name in PREDEFINED_SCHEMAS:
            raise BadRequest(
                f"{request.name} is one of Togai's predefined event types (togai-usage, togai-named-license): every "
                "organization has it, and no event schema may take its name"
            )
        self.repo.lock_key("event-schema-name", request.name)  # held to the end (the unique key backs it)
        if self.repo.latest_schema(request.name) is not None:
            raise Conflict(f"An event schema named {request.name} already exists")
        content = _SchemaContent.of(request)
        content.check()
        return self._add_version(new_id("es"), request.name, 1, DRAFT, content)

    def _for_write(self, name: str) -> EventSchema:
        """The newest version, read after the writers of this schema before us have finished (they add versions)."""
        self.repo.lock_key("event-schema-name", name)
        return self.get(name)

    def update(self, name: str, request: schemas.UpdateEventSchemaRequest) -> EventSchema:
        current = self._for_write(name)
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
        return self._add_version(current.id, current.name, current.version + 1, ACTIVE, content)

    def activate(self, name: str) -> EventSchema:
        row = self._for_write(name)
        refuse_archived(row.status, f"Event schema {name}")
        if row.status != ACTIVE:
            row.status = ACTIVE
            row.updated_at = self.ctx.now
        return row

    def deactivate(self, name: str) -> EventSchema:
        row = self._for_write(name)
        if deactivation_due(row.status, f"Event schema {name}", "schema"):
            self._refuse_while_metered(row, "deactivated")
            row.status = INACTIVE
            row.updated_at = self.ctx.now
        return row

    def delete(self, name: str) -> None:
        """Archive the schema; its name stays taken."""
        row = self._for_write(name)
        if row.status == ARCHIVED:
            return
        self._refuse_while_metered(row, "deleted")
        row.status = ARCHIVED
        row.updated_at = self.ctx.now

    # -- internals -------------------------------------------------------------------------------------------
    def _add_version(
        self, schema_id: str, name: str, version: int, status: str, content: _SchemaContent
    ) -> EventSchema:
        """A new newest version of the schema, saying what `content` says."""
        now = self.ctx.now
        row = EventSchema(
            pk=new_id("esv"),
            org_id=self.ctx.org_id,
            id=schema_id,
            name=name,
            version=version,
            latest=True,
            status=status,
            created_at=now,
            updated_at=now,
            **content.columns(),
        )
        self.repo.add(row)
        return row

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
            enrichments=_enrichments(source.enrichments),
            event_id_template=source.event_id_template or None,
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
            # (empty enrichments or an empty template clear them)
            enrichments=_enrichments(request.enrichments) if request.enrichments is not None else self.enrichments,
            event_id_template=(
                request.event_id_template or None if request.event_id_template is not None else self.event_id_template
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
        try:
            enrichments.check(
                self.enrichments, self.event_id_template, attributes=attributes, dimensions=self.dimensions
            )
        except enrichments.EnrichmentError as exc:
            raise BadRequest(str(exc)) from None
        derived_attributes, derived_dimensions = enrichments.derived_names(self.enrichments)
        known = set(attributes) | set(self.dimensions) | set(derived_attributes) | set(derived_dimensions)
        seen = set()
        for i, field in enumerate(self.filter_fields or ()):
            if field not in known:
                raise BadRequest(
                    f"filterFields[{i}]: {field!r} is not an attribute or dimension of the schema (declared or derived)"
                )
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
        # Meters may read derived fields: an ACTIVE schema keeps each one, as an attribute or a dimension as it was
        # (its rule may change).
        new_attributes_derived, new_dimensions_derived = enrichments.derived_names(self.enrichments)
        old_attributes_derived, old_dimensions_derived = enrichments.derived_names(stored.enrichments)
        for kind, old, new in (
            ("attribute", old_attributes_derived, new_attributes_derived),
            ("dimension", old_dimensions_derived, new_dimensions_derived),
        ):
            for field in old:
                if field not in new:
                    raise BadRequest(
                        f"Event schema {name} is ACTIVE: derived {kind} {field!r} (enrichments) cannot be removed, "
                        f"renamed or made a {'dimension' if kind == 'attribute' else 'attribute'} (meters may read it)"
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


def _enrichments(request: schemas.Enrichments | None) -> dict[str, Any] | None:
    """Enrichments as stored: none when they say nothing (no field, no dependency)."""
    stored = dump(request)
    return stored if stored and (stored.get("fields") or stored.get("dependencies")) else None
