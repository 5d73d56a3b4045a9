"""PriceExperimentationApi: the revenue calculator, v1 and v2 answers of the same calculation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context
from meterline.api.responses import respond
from meterline.api.routing import ReadOnlyRoute
from meterline.revenue import presenters, schemas
from meterline.revenue.service import RevenueCalculator
from meterline.tenancy.context import Context

router = APIRouter(route_class=ReadOnlyRoute, tags=["PriceExperimentation"])


@router.post("/revenue_calculator", response_model=schemas.CalculateRevenueResponse, operation_id="calculateRevenue")
def calculate_revenue(body: schemas.CalculateRevenueRequest, ctx: Context = Depends(api_context)) -> Response:
    """Price usage, licenses and proration on a plan: one revenue entry per rate card, with its slabs."""
    return respond(presenters.response_v1(RevenueCalculator(ctx).calculate(body)))


@router.post(
    "/v2/revenue_calculator", response_model=schemas.CalculateRevenueResponseV2, operation_id="calculateRevenueV2"
)
def calculate_revenue_v2(body: schemas.CalculateRevenueRequest, ctx: Context = Depends(api_context)) -> Response:
    """The same calculation, each entry carrying its rate card as a v2 `RateCard`."""
    return respond(presenters.response_v2(RevenueCalculator(ctx).calculate(body)))
