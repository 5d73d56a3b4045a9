from __future__ import annotations

from sqlalchemy import bindparam, func, select

from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.prepared import Prepared, columns, load
from meterline.core.repository import OrgRepository, sort_column, sorted_by
from meterline.metering.models import EventSchema, UsageMeter
from meterline.metering.statuses import MeteringStatus

ACTIVE, ARCHIVED = MeteringStatus.ACTIVE, MeteringStatus.ARCHIVED

# What ingestion reads for every call (a schema's ACTIVE version and meters): built once, run through the driver
# (core/prepared.py); an event sent alone (POST /entitled, /ingest) would otherwise spend more on SQLAlchemy than on
# the queries.
_ACTIVE_SCHEMA = Prepared(
    select(*columns(EventSchema)).where(
        EventSchema.org_id == bindparam("org_id"),
        EventSchema.name == bindparam("name"),
        EventSchema.latest.is_(True),
        EventSchema.status == ACTIVE,
    )
)
_ACTIVE_METERS = Prepared(
    select(*columns(UsageMeter))
    .where(
        UsageMeter.org_id == bindparam("org_id"),
        UsageMeter.event_schema_name == bindparam("name"),
        UsageMeter.status == ACTIVE,
    )
    .order_by(UsageMeter.pk)
)


class MeteringRepository(OrgRepository):
    """Event schemas (every version) and usage meters of one organization."""

    # -- event schemas ---------------------------------------------------------------------------------------
    def latest_schema(self, name: str) -> EventSchema | None:
        """The newest version of the schema named `name` (whatever its status), or None."""
        stmt = self.scoped(EventSchema).where(EventSchema.name == name, EventSchema.latest.is_(True))
        return self.session.scalar(stmt)

    def latest_schema_by_id(self, schema_id: str) -> EventSchema | None:
        stmt = self.scoped(EventSchema).where(EventSchema.id == schema_id, EventSchema.latest.is_(True))
        return self.session.scalar(stmt)

    def latest_schemas_by_ids(self, schema_ids: set[str]) -> dict[str, EventSchema]:
        if not schema_ids:
            return {}
        stmt = self.scoped(EventSchema).where(EventSchema.id.in_(schema_ids), EventSchema.latest.is_(True))
        return {row.id: row for row in self.session.scalars(stmt)}

    def schema_version(self, name: str, version: int) -> EventSchema | None:
        stmt = self.scoped(EventSchema).where(EventSchema.name == name, EventSchema.version == version)
        return self.session.scalar(stmt)

    def schema_versions(self, schema_id: str) -> list[EventSchema]:
        """Every version of a schema, oldest first."""
        stmt = self.scoped(EventSchema).where(EventSchema.id == schema_id)
        return list(self.session.scalars(stmt.order_by(EventSchema.version)))

    def schema_page(self, request: PageRequest, *, statuses: set[str] | None) -> Page[EventSchema]:
        """Schemas (their newest versions) in creation order; without `statuses`, those not ARCHIVED."""
        stmt = self.scoped(EventSchema).where(EventSchema.latest.is_(True))
        if statuses:
            stmt = stmt.where(EventSchema.status.in_(statuses))
        else:
            stmt = stmt.where(EventSchema.status != ARCHIVED)
        return self.keyset_page(stmt, EventSchema.id, request)

    # the console's sorts of schemas: by name (case aside) or when created (the schema's id is time-ordered)
    SCHEMA_SORTS = {"name": func.lower(EventSchema.name), "created": EventSchema.id}

    def schemas_listed(self, request: Slice, *, statuses: set[str] | None) -> Counted[EventSchema]:
        """A sorted slice of the schemas (their newest versions), with their count; without `statuses`, those not
        ARCHIVED."""
        stmt = self.scoped(EventSchema).where(EventSchema.latest.is_(True))
        stmt = stmt.where(EventSchema.status.in_(statuses)) if statuses else stmt.where(EventSchema.status != ARCHIVED)
        column = sort_column(self.SCHEMA_SORTS, request)
        order = [*sorted_by(column, request.descending), *sorted_by(EventSchema.pk, request.descending)]
        return self.counted_page(stmt, order, request)

    def active_schema(self, name: str) -> EventSchema | None:
        """The ACTIVE version of the schema named `name`, or None (unknown, draft, inactive or deleted). For reading
        (ingestion): the instance is not in the session."""
        row = _ACTIVE_SCHEMA.first(self.session, {"org_id": self.org_id, "name": name})
        return load(EventSchema, row) if row is not None else None

    # -- usage meters ----------------------------------------------------------------------------------------
    def meter(self, meter_id: str) -> UsageMeter | None:
        return self.session.scalar(self.scoped(UsageMeter).where(UsageMeter.id == meter_id))

    def live_meter_named(self, name: str) -> UsageMeter | None:
        """The meter, not ARCHIVED, that holds `name`."""
        stmt = self.scoped(UsageMeter).where(UsageMeter.name == name, UsageMeter.status != ARCHIVED)
        return self.session.scalar(stmt)

    def meters_of_schema(self, schema_id: str, *, status: str) -> list[UsageMeter]:
        stmt = self.scoped(UsageMeter).where(UsageMeter.event_schema_id == schema_id, UsageMeter.status == status)
        return list(self.session.scalars(stmt.order_by(UsageMeter.pk)))

    def live_meter_counts(self, schema_ids: set[str]) -> dict[str, int]:
        """Meters not ARCHIVED, per schema id."""
        if not schema_ids:
            return {}
        stmt = (
            select(UsageMeter.event_schema_id, func.count())
            .where(
                UsageMeter.org_id == self.org_id,
                UsageMeter.event_schema_id.in_(schema_ids),
                UsageMeter.status != ARCHIVED,
            )
            .group_by(UsageMeter.event_schema_id)
        )
        return {schema_id: count for schema_id, count in self.session.execute(stmt).all()}

    def meter_page(
        self, request: PageRequest, *, statuses: set[str] | None, aggregations: set[str] | None
    ) -> Page[UsageMeter]:
        """Meters in creation order; without `statuses`, those not ARCHIVED."""
        stmt = self.scoped(UsageMeter)
        stmt = stmt.where(UsageMeter.status.in_(statuses)) if statuses else stmt.where(UsageMeter.status != ARCHIVED)
        if aggregations:
            stmt = stmt.where(UsageMeter.aggregation.in_(aggregations))
        return self.keyset_page(stmt, UsageMeter.pk, request)

    # the console's sorts of meters: by name (case aside) or when created
    METER_SORTS = {"name": func.lower(UsageMeter.name), "created": UsageMeter.created_at}

    def meters_listed(self, request: Slice, *, statuses: set[str] | None) -> Counted[UsageMeter]:
        """A sorted slice of the meters, with their count; without `statuses`, those not ARCHIVED."""
        stmt = self.scoped(UsageMeter)
        stmt = stmt.where(UsageMeter.status.in_(statuses)) if statuses else stmt.where(UsageMeter.status != ARCHIVED)
        column = sort_column(self.METER_SORTS, request)
        order = [*sorted_by(column, request.descending), *sorted_by(UsageMeter.pk, request.descending)]
        return self.counted_page(stmt, order, request)

    def active_meters(self, schema_name: str) -> list[UsageMeter]:
        """The ACTIVE meters of the schema named `schema_name`, in creation order: the ones its events feed. For
        reading (ingestion): the instances are not in the session."""
        rows = _ACTIVE_METERS.all(self.session, {"org_id": self.org_id, "name": schema_name})
        return [load(UsageMeter, row) for row in rows]

    def meters_in_force(self) -> list[UsageMeter]:
        """Every ACTIVE meter of the organization, whatever its schema, in creation order (togai-usage events)."""
        stmt = self.scoped(UsageMeter).where(UsageMeter.status == ACTIVE)
        return list(self.session.scalars(stmt.order_by(UsageMeter.pk)))

    def usable_meters(self) -> list[UsageMeter]:
        """Every meter that is not ARCHIVED, in creation order."""
        stmt = self.scoped(UsageMeter).where(UsageMeter.status != ARCHIVED)
        return list(self.session.scalars(stmt.order_by(UsageMeter.pk)))
