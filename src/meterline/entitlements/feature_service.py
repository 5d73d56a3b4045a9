"""Features (FeatureApi): named capabilities, each reading one attribute of the events of some event schemas.

- A feature's id is `feature.` + 26 characters (time-ordered: lists come in creation order; 34 characters, within
  the 50 the SDK allows in paths and in GetFeatureCreditsResponse.featureId).
- `schemaAssociations` (0 to 50) name event schemas that exist (not deleted) and, for each, an attribute its newest
  version declares; a schema appears once in a feature and feeds at most one feature (409 naming the other), so an
  event has one feature and one number of units. A feature without associations is a configuration feature: its
  value comes from settings (docs/entitlements.md).
- An update replaces what it names: `name`, `billableName`, and `schemaAssociations` as a whole when given.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.entitlements.models import Feature
from meterline.entitlements.repository import FeatureRepository
from meterline.metering.repository import MeteringRepository
from meterline.metering.statuses import MeteringStatus
from meterline.tenancy.context import Context


@dataclass(frozen=True)
class Association:
    schema_name: str
    attribute_name: str


@dataclass(frozen=True)
class FeatureView:
    feature: Feature
    associations: list[Association]

    @property
    def metered(self) -> bool:
        """Does the feature count units of events (its value is a balance), or is it a configuration feature?"""
        return bool(self.associations)


class FeatureService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = FeatureRepository(ctx.session, ctx.org_id)

    def _row(self, feature_id: str) -> Feature:
        feature = self.repo.by_pk(feature_id)
        if feature is None:
            raise NotFound(f"Feature {feature_id} not found")
        return feature

    def _view(self, feature: Feature) -> FeatureView:
        rows = self.repo.associations({feature.pk})[feature.pk]
        return FeatureView(feature, [Association(r.schema_name, r.attribute_name) for r in rows])

    def get(self, feature_id: str) -> FeatureView:
        return self._view(self._row(feature_id))

    def page(self, request: PageRequest) -> tuple[Page[Feature], dict[str, int]]:
        """A page of features in creation order, and how many schemas each reads."""
        page = self.repo.page(request)
        return page, self.repo.schema_counts({f.pk for f in page.items})

    def listed(self, request: Slice) -> tuple[Counted[Feature], dict[str, list[Association]]]:
        """The console's list: a sorted slice of the features with their count, and what each reads."""
        counted = self.repo.listed(request)
        return counted, self._pairs({f.pk for f in counted.items})

    def all(self) -> list[FeatureView]:
        """Every feature with what it reads, in creation order (the console's forms and the account's tab)."""
        rows = self.repo.all()
        pairs = self._pairs({f.pk for f in rows})
        return [FeatureView(f, pairs[f.pk]) for f in rows]

    def _pairs(self, feature_pks: set[str]) -> dict[str, list[Association]]:
        found = self.repo.associations(feature_pks)
        return {pk: [Association(r.schema_name, r.attribute_name) for r in rows] for pk, rows in found.items()}

    def create(self, name: str, billable_name: str | None, associations: list[Association]) -> FeatureView:
        feature = Feature(
            pk=new_id("feature"),
            org_id=self.ctx.org_id,
            name=name,
            billable_name=billable_name,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self._check(associations, feature.pk)
        self.repo.add(feature)
        self.repo.replace_associations(feature.pk, [(a.schema_name, a.attribute_name) for a in associations])
        return FeatureView(feature, list(associations))

    def update(
        self,
        feature_id: str,
        *,
        name: str | None,
        billable_name: str | None,
        associations: list[Association] | None,
    ) -> FeatureView:
        feature = self._row(feature_id)
        if associations is not None:
            self._check(associations, feature.pk)
            self.repo.replace_associations(feature.pk, [(a.schema_name, a.attribute_name) for a in associations])
        if name is not None:
            feature.name = name
        if billable_name is not None:
            feature.billable_name = billable_name
        feature.updated_at = self.ctx.now
        self.ctx.session.flush()
        return self._view(feature)

    def _check(self, associations: list[Association], feature_pk: str) -> None:
        """Each pair names an existing schema and one of its attributes; a schema once here, and in no other
        feature. Writers of one schema name take turns (a key lock, docs/architecture.md), so two features can never
        both claim it; the table's key (org_id, schema_name) would refuse the second anyway (409)."""
        names = [a.schema_name for a in associations]
        for name in sorted(set(names)):
            self.repo.lock_key("feature-schema", name)
        catalog = MeteringRepository(self.ctx.session, self.ctx.org_id)
        owners = self.repo.owners(set(names))
        seen: set[str] = set()
        for i, pair in enumerate(associations):
            where = f"schemaAssociations[{i}]"
            if pair.schema_name in seen:
                raise BadRequest(
                    f"{where}.schemaName: event schema {pair.schema_name} is named twice; a feature reads one "
                    "attribute of each schema"
                )
            seen.add(pair.schema_name)
            schema = catalog.latest_schema(pair.schema_name)
            if schema is None or schema.status == MeteringStatus.ARCHIVED:
                raise BadRequest(f"{where}.schemaName: there is no event schema named {pair.schema_name!r}")
            if pair.attribute_name not in schema.attribute_names:
                declared = ", ".join(schema.attribute_names) or "none"
                raise BadRequest(
                    f"{where}.attributeName: event schema {pair.schema_name} has no attribute "
                    f"{pair.attribute_name[:50]!r} (its attributes: {declared})"
                )
            owner = owners.get(pair.schema_name)
            if owner is not None and owner != feature_pk:
                raise Conflict(
                    f"{where}.schemaName: event schema {pair.schema_name} already feeds feature {owner}; a schema "
                    "feeds one feature, so that each of its events has one number of units"
                )
