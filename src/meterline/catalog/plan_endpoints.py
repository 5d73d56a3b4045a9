"""PricePlansApi (v1): thin routes over PricePlanService."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_schemas as schemas
from meterline.catalog.plan_service import PricePlanService
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, PaginationOptions
from meterline.tenancy.context import Context
from meterline.usecases.plans import update_price_plan as update_plan

router = APIRouter(route_class=UnitOfWorkRoute, tags=["PricePlans"])


@router.post("/price_plans", response_model=schemas.PricePlan, operation_id="createPricePlan")
def create_price_plan(
    body: schemas.CreatePricePlanRequest,
    dry_run: Annotated[bool, Query()] = False,
    ctx: Context = Depends(api_context),
) -> Response:
    """Create a DRAFT plan (version 1). With `dry_run=true` the plan is validated and answered, not saved."""
    return respond(schemas.plan_out(PricePlanService(ctx).create(body, dry_run=dry_run)))


@router.get("/price_plans", response_model=schemas.PricePlanPaginatedResponse, operation_id="getPricePlans")
def get_price_plans(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result = PricePlanService(ctx).page(page)
    return respond(
        schemas.PricePlanPaginatedResponse(
            data=[schemas.plan_list_item(v) for v in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/price_plans/{price_plan_id}", response_model=schemas.PricePlan, operation_id="getPricePlan")
def get_price_plan(
    price_plan_id: str,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """The plan with every version, or only `version`."""
    return respond(schemas.plan_out(PricePlanService(ctx).get(price_plan_id, version)))


@router.patch("/price_plans/{price_plan_id}", response_model=schemas.PricePlan, operation_id="updatePricePlan")
def update_price_plan(
    price_plan_id: str, body: schemas.UpdatePricePlanRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Edit a DRAFT plan in place; an edit of an ACTIVE plan makes a new version, to which `migrationMode` (other
    than NONE) moves the accounts of the previous version (or of all, `versionsToMigrate: ALL_VERSION`)."""
    view = update_plan(ctx, price_plan_id, body)
    return respond(schemas.plan_out(view))


@router.post(
    "/price_plans/{price_plan_id}/activate", response_model=schemas.PricePlan, operation_id="activatePricePlan"
)
def activate_price_plan(
    price_plan_id: str, body: schemas.ActivatePricePlanRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Activate currencies (every card must be priced in them); the plan becomes ACTIVE."""
    return respond(schemas.plan_out(PricePlanService(ctx).activate(price_plan_id, body.currencies)))


@router.delete("/price_plans/{price_plan_id}", response_model=BaseSuccessResponse, operation_id="archivePricePlan")
def archive_price_plan(price_plan_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Archive the plan: it stays readable and frees its name."""
    PricePlanService(ctx).archive(price_plan_id)
    return respond(BaseSuccessResponse(success=True))


@router.get(
    "/price_plans/{price_plan_id}/pricing_schedules/{pricing_schedule_id}/pricing_rules",
    response_model=schemas.PricingRulesPaginatedResponse,
    operation_id="listPricingRulesByScheduleId",
    tags=["PricingRules"],
)
def list_pricing_rules_by_schedule_id(
    price_plan_id: str,
    pricing_schedule_id: str,
    invoice_timing: Annotated[Literal["IN_ADVANCE", "IN_ARREARS"] | None, Query()] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """The pricing rules of a plan version (an id of the plan's `pricingSchedule`), of one invoice timing if given."""
    rules = PricePlanService(ctx).pricing_rules(price_plan_id, pricing_schedule_id, invoice_timing)
    return respond(schemas.PricingRulesPaginatedResponse(data=rules))
