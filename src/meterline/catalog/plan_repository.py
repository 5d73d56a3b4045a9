from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import simplejson
from sqlalchemy import func, or_

from meterline.catalog.plan_models import PricePlan, PricePlanVersion
from meterline.catalog.statuses import PricePlanStatus
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.repository import OrgRepository, sort_column, sorted_by


def encode_details(details: dict[str, Any]) -> str:
    """Exact JSON: decimals written from their own digits."""
    return simplejson.dumps(details, use_decimal=True, separators=(",", ":"), sort_keys=True)


def decode_details(text: str) -> dict[str, Any]:
    return json.loads(text, parse_float=Decimal)


class PricePlanRepository(OrgRepository):
    def by_id(self, plan_id: str) -> PricePlan | None:
        return self.session.scalar(self.scoped(PricePlan).where(PricePlan.id == plan_id))

    def by_pk(self, pk: str) -> PricePlan:
        return self.session.scalars(self.scoped(PricePlan).where(PricePlan.pk == pk)).one()

    def by_name(self, name: str) -> PricePlan | None:
        """A plan that is not ARCHIVED with this name."""
        stmt = self.scoped(PricePlan).where(PricePlan.name == name, PricePlan.status != PricePlanStatus.ARCHIVED)
        return self.session.scalar(stmt)

    def page(self, request: PageRequest) -> Page[PricePlan]:
        return self.keyset_page(self.scoped(PricePlan), PricePlan.id, request)

    # the console's sorts: by name (case aside), status or when last changed
    SORTS = {"name": func.lower(PricePlan.name), "status": PricePlan.status, "updated": PricePlan.updated_at}

    def listed(self, request: Slice, search: str = "") -> Counted[PricePlan]:
        """A sorted slice of the plans, with their count; `search`: a part of the name or id (any case)."""
        stmt = self.scoped(PricePlan)
        if search:
            stmt = stmt.where(
                or_(PricePlan.name.icontains(search, autoescape=True), PricePlan.id.icontains(search, autoescape=True))
            )
        column = sort_column(self.SORTS, request)
        order = [*sorted_by(column, request.descending), *sorted_by(PricePlan.pk, request.descending)]
        return self.counted_page(stmt, order, request)

    def all_active(self) -> list[PricePlan]:
        """The ACTIVE plans, by name (the console's plan picker)."""
        return list(
            self.session.scalars(
                self.scoped(PricePlan).where(PricePlan.status == PricePlanStatus.ACTIVE).order_by(PricePlan.name)
            )
        )

    def versions(self, plan: PricePlan, *, with_draft: bool = False) -> list[PricePlanVersion]:
        """The plan's versions, oldest first; with `with_draft`, also its pending v2 draft (a version numbered after
        `latest_version`: docs/pricing.md, "Price plans v2"), which nothing else reads."""
        stmt = self.scoped(PricePlanVersion).where(PricePlanVersion.plan_pk == plan.pk)
        if not with_draft:
            stmt = stmt.where(PricePlanVersion.version <= plan.latest_version)
        return list(self.session.scalars(stmt.order_by(PricePlanVersion.version)))

    def draft(self, plan: PricePlan) -> PricePlanVersion | None:
        """An ACTIVE plan's pending v2 draft: the version after its latest, not in force until finalized."""
        return self.version(plan, plan.latest_version + 1)

    def page_unarchived(self, request: PageRequest) -> Page[PricePlan]:
        """The plans that are not ARCHIVED (v2 has no ARCHIVED status)."""
        stmt = self.scoped(PricePlan).where(PricePlan.status != PricePlanStatus.ARCHIVED)
        return self.keyset_page(stmt, PricePlan.id, request)

    def version(self, plan: PricePlan, version: int) -> PricePlanVersion | None:
        stmt = self.scoped(PricePlanVersion).where(
            PricePlanVersion.plan_pk == plan.pk, PricePlanVersion.version == version
        )
        return self.session.scalar(stmt)

    def latest_versions(self, plans: list[PricePlan]) -> dict[str, PricePlanVersion]:
        """plan pk -> its newest version, for a page of plans (one query)."""
        if not plans:
            return {}
        wanted = {(p.pk, p.latest_version) for p in plans}
        stmt = self.scoped(PricePlanVersion).where(PricePlanVersion.plan_pk.in_([p.pk for p in plans]))
        return {v.plan_pk: v for v in self.session.scalars(stmt) if (v.plan_pk, v.version) in wanted}

    def lock(self, plan_id: str) -> PricePlan | None:
        """The plan under a row lock (PostgreSQL), so that two edits make two versions one after the other."""
        plan = self.by_id(plan_id)
        rows = self.lock_rows(PricePlan, [plan.pk]) if plan is not None else []
        return rows[0] if rows else None
