"""Updating a price plan: an edit of an ACTIVE plan makes a version, to which a migration mode moves accounts."""

from __future__ import annotations

from meterline.catalog.plan_schemas import UpdatePricePlanRequest
from meterline.catalog.plan_service import PlanView, PricePlanService
from meterline.tenancy.context import Context
from meterline.usecases.jobs import start_plan_migration


def update_price_plan(ctx: Context, plan_id: str, request: UpdatePricePlanRequest) -> PlanView:
    view = PricePlanService(ctx).update(plan_id, request)
    mode = request.migration_mode
    if view.replaced is None or mode in (None, "NONE"):
        return view
    previous = view.replaced
    versions = list(range(1, previous + 1)) if request.versions_to_migrate == "ALL_VERSION" else [previous]
    start_plan_migration(
        ctx,
        source_id=plan_id,
        source_versions=versions,
        target_id=plan_id,
        target_version=view.plan.latest_version,
        mode=mode,
        retain_start_offsets=False,
        require_confirmation=False,
    )
    return view
