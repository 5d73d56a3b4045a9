"""PricePlanV2Api: thin routes over PricePlanV2Service and the finalize / migration use cases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_v2, plan_v2_schemas as schemas
from meterline.catalog.plan_schemas import rules_out as plan_rules_out
from meterline.catalog.plan_v2_service import PricePlanV2Service, V2View
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse
from meterline.schedules.schemas import CreatePricePlanMigrationRequest
from meterline.tenancy.context import Context
from meterline.usecases.jobs import start_plan_migration
from meterline.usecases.plans import finalize_price_plan_v2

router = APIRouter(route_class=UnitOfWorkRoute, tags=["PricePlanV2"])

Version = Annotated[str | None, Query(max_length=20, description="LATEST (default), ACTIVE or a version number")]


def plan_out(view: V2View) -> schemas.PricePlanV2:
    plan, model = view.plan, view.model
    return schemas.PricePlanV2(
        name=plan.name,
        description=plan.description,
        type=cast(schemas.PlanType, plan.type),
        pricing_cycle_config=model.cycle,
        supported_currencies=list(model.currencies),
        deferred_revenue=model.details.deferred_revenue,
        allow_ongoing_cycle_updates=model.details.allow_ongoing_cycle_updates,
        id=plan.id,
        reference_id=view.version.pk,
        version=view.version.version,
        status="DRAFT" if view.draft else "ACTIVE",
        created_at=view.version.created_at,
        updated_at=plan.updated_at if view.draft else view.version.created_at,
    )


def card_out(view: V2View, card: plan_v2.NamedCard) -> schemas.RateCard:
    field = plan_v2.KINDS[card.type][1]
    return schemas.RateCard(
        billable_id=card.billable_id,
        type=card.type,
        display_name=card.display_name,
        invoice_timing=card.invoice_timing,
        rate_card_details=schemas.RateCardDetails.model_validate({field: card.card}),
        tag=card.tag,
        name=card.name,
        reference_id=view.version.pk,
        reference_type="PRICE_PLAN",
        currencies=card.currencies(),
        price_plan_id=view.plan.id,
    )


def rules_out(view: V2View) -> schemas.PricingRulesPaginatedResponse:
    return schemas.PricingRulesPaginatedResponse(data=plan_rules_out(view.model.pricing_rules, view.version.version))


def card_operation(op: schemas.RateCardOperation) -> plan_v2.Operation:
    data = op.rate_card
    card = None
    if data is not None:
        details = data.rate_card_details
        card = plan_v2.CardInput(
            type=data.type,
            billable_id=data.billable_id,
            display_name=data.display_name,
            invoice_timing=data.invoice_timing,
            tag=data.tag,
            details={name: getattr(details, name) for name in type(details).model_fields},
        )
    return plan_v2.Operation(op.action_type, op.rate_card_name, card)


@router.post(
    "/v2/price_plans/migration",
    response_model=BaseSuccessResponse,
    operation_id="pricePlanMigrationV2",
    status_code=201,
)
def price_plan_migration_v2(body: CreatePricePlanMigrationRequest, ctx: Context = Depends(api_context)) -> Response:
    """As POST /price_plans/migration: v1 and v2 plans are one model (a PRICE_PLAN job, JobsApi)."""
    start_plan_migration(
        ctx,
        source_id=body.source_id,
        source_versions=[body.source_version],
        target_id=body.target_id,
        target_version=body.target_version,
        mode=body.migration_mode,
        retain_start_offsets=bool(body.retain_start_offsets),
        require_confirmation=bool(body.require_confirmation),
    )
    return respond(BaseSuccessResponse(success=True), 201)


@router.post("/v2/price_plans", response_model=schemas.PricePlanV2, operation_id="createPricePlanV2")
def create_price_plan_v2(body: schemas.CreatePricePlanV2Request, ctx: Context = Depends(api_context)) -> Response:
    """A DRAFT plan (version 1) without rate cards: add them with POST .../rate_cards, then finalize."""
    return respond(plan_out(PricePlanV2Service(ctx).create(body)))


@router.get("/v2/price_plans", response_model=schemas.PricePlanV2PaginatedResponse, operation_id="listPricePlansV2")
def list_price_plans_v2(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    """The plans that are not archived, each at its latest version (its draft if it has one)."""
    found = PricePlanV2Service(ctx).page(page)
    return respond(
        schemas.PricePlanV2PaginatedResponse(data=[plan_out(v) for v in found.items], next_token=found.next_token)
    )


@router.get("/v2/price_plans/{price_plan_id}", response_model=schemas.PricePlanV2, operation_id="getPricePlanV2")
def get_price_plan_v2(price_plan_id: str, version: Version = None, ctx: Context = Depends(api_context)) -> Response:
    return respond(plan_out(PricePlanV2Service(ctx).get(price_plan_id, version)))


@router.get(
    "/v2/price_plans/{price_plan_id}/versions",
    response_model=schemas.PricePlanV2PaginatedResponse,
    operation_id="listPricePlanVersions",
)
def list_price_plan_versions(
    price_plan_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """Every version, oldest first, the draft (if any) last."""
    found = PricePlanV2Service(ctx).versions(price_plan_id, page)
    return respond(
        schemas.PricePlanV2PaginatedResponse(data=[plan_out(v) for v in found.items], next_token=found.next_token)
    )


@router.patch("/v2/price_plans/{price_plan_id}", response_model=schemas.PricePlanV2, operation_id="updatePricePlanV2")
def update_price_plan_v2(
    price_plan_id: str, body: schemas.UpdatePricePlanV2Request, ctx: Context = Depends(api_context)
) -> Response:
    """The description at once; the cycle and the currencies on the draft."""
    return respond(plan_out(PricePlanV2Service(ctx).update(price_plan_id, body)))


@router.post(
    "/v2/price_plans/{price_plan_id}/rate_cards",
    response_model=schemas.BulkRateCardOperationsResponse,
    operation_id="bulkPricePlanRateCardOperations",
)
def bulk_price_plan_rate_card_operations(
    price_plan_id: str, body: schemas.BulkRateCardOperationsRequest, ctx: Context = Depends(api_context)
) -> Response:
    """CREATE, UPDATE and DELETE named rate cards on the draft, in order, all or none; answers the cards created or
    updated. A card that breaks a plan rule is kept and listed by GET .../errors."""
    view, cards = PricePlanV2Service(ctx).bulk(price_plan_id, [card_operation(op) for op in body.operations])
    return respond(schemas.BulkRateCardOperationsResponse(rate_cards=[card_out(view, c) for c in cards]))


@router.get(
    "/v2/price_plans/{price_plan_id}/rate_cards",
    response_model=schemas.RateCardPaginatedResponse,
    operation_id="listPricePlanRateCards",
)
def list_price_plan_rate_cards(
    price_plan_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """The cards of the latest version (the draft if there is one)."""
    view, found = PricePlanV2Service(ctx).rate_cards(price_plan_id, page)
    return respond(
        schemas.RateCardPaginatedResponse(data=[card_out(view, c) for c in found.items], next_token=found.next_token)
    )


@router.get(
    "/v2/price_plans/{price_plan_id}/pricing_rules",
    response_model=schemas.PricingRulesPaginatedResponse,
    operation_id="listPricePlanPricingRules",
)
def list_price_plan_pricing_rules(
    price_plan_id: str, version: Version = None, ctx: Context = Depends(api_context)
) -> Response:
    return respond(rules_out(PricePlanV2Service(ctx).pricing_rules(price_plan_id, version)))


@router.put(
    "/v2/price_plans/{price_plan_id}/pricing_rules",
    response_model=schemas.PricingRulesPaginatedResponse,
    operation_id="updatePricePlanPricingRules",
)
def update_price_plan_pricing_rules(
    price_plan_id: str, body: schemas.UpdatePricingRulesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Replace the draft's pricing rules whole."""
    return respond(rules_out(PricePlanV2Service(ctx).set_pricing_rules(price_plan_id, body.pricing_rules or [])))


@router.post(
    "/v2/price_plans/{price_plan_id}/finalize",
    response_model=BaseSuccessResponse,
    operation_id="finalizePricePlan",
)
def finalize_price_plan(
    price_plan_id: str, body: schemas.FinalizePricePlanRequest, ctx: Context = Depends(api_context)
) -> Response:
    """The draft becomes the version in force; `migrationMode` (other than NONE) moves the accounts of the previous
    version (or of every version, ALL_VERSION) to it, as a PRICE_PLAN job."""
    finalize_price_plan_v2(ctx, price_plan_id, body.migration_mode, body.versions_to_migrate)
    return respond(BaseSuccessResponse(success=True))


@router.delete(
    "/v2/price_plans/{price_plan_id}/discard",
    response_model=BaseSuccessResponse,
    operation_id="discardPricePlan",
)
def discard_price_plan(price_plan_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Drop the draft (a plan never finalized is archived)."""
    PricePlanV2Service(ctx).discard(price_plan_id)
    return respond(BaseSuccessResponse(success=True))


@router.get(
    "/v2/price_plans/{price_plan_id}/errors",
    response_model=schemas.ValidatedEntityErrorsPaginatedResponse,
    operation_id="listPricePlanErrors",
)
def list_price_plan_errors(price_plan_id: str, ctx: Context = Depends(api_context)) -> Response:
    """What blocks finalizing the draft: every plan rule, card by card."""
    view, errors = PricePlanV2Service(ctx).errors(price_plan_id)
    return respond(
        schemas.ValidatedEntityErrorsPaginatedResponse(
            data=[
                schemas.ValidatedEntityError(
                    reference_id=view.version.pk,
                    entity_id=e.entity_id,
                    entity_type=e.entity_type,
                    error_message=e.message,
                )
                for e in errors
            ]
        )
    )
