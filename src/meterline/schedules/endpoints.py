"""Price plan association on accounts (AccountsApi): thin routes over ScheduleService."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import plan_v2
from meterline.catalog.plan_schemas import rules_out
from meterline.catalog.plan_v2_endpoints import card_operation
from meterline.catalog.plan_v2_schemas import (
    BulkRateCardOperationsRequest,
    BulkRateCardOperationsResponse,
    PricingRulesPaginatedResponse,
    RateCardPaginatedResponse,
    UpdatePricingRulesRequest,
    ValidatedEntityError,
    ValidatedEntityErrorsPaginatedResponse,
)
from meterline.core.schemas import BaseSuccessResponse, IsoDate
from meterline.schedules import schemas, v2
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.usecases.jobs import start_plan_migration
from meterline.usecases.schedules import (
    discard_schedules,
    draft_schedules,
    edit_schedules,
    finalize_schedules,
    schedule_errors,
    schedule_view,
    stage_schedule_cards,
    stage_schedule_edits,
    stage_schedule_rules,
)

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Accounts"])


@router.post(
    "/accounts/{account_id}/price_plans",
    response_model=schemas.UpdatePricingScheduleResponse,
    operation_id="updatePricingSchedule",
)
def update_pricing_schedule(
    account_id: str, body: schemas.UpdatePricingScheduleRequestWithActions, ctx: Context = Depends(api_context)
) -> Response:
    """Associate a price plan with the account over [effectiveFrom, effectiveUntil), or disassociate it."""
    account, views = edit_schedules(ctx, account_id, [body])
    return respond(schemas.update_response(account, views))


@router.post(
    "/accounts/{account_id}/edit_schedules",
    response_model=schemas.UpdatePricingScheduleResponse,
    operation_id="updatePricingScheduleBatch",
)
def update_pricing_schedule_batch(
    account_id: str,
    body: schemas.EditPricingScheduleRequest,
    dry_run: Annotated[bool, Query()] = False,
    ctx: Context = Depends(api_context),
) -> Response:
    """Apply 1 to 10 edits in order, all or none; `dry_run=true` answers what they would give, saving nothing."""
    account, views = edit_schedules(ctx, account_id, body.edits, dry_run=dry_run)
    return respond(schemas.update_response(account, views))


@router.get(
    "/accounts/{account_id}/pricing_schedules",
    response_model=schemas.PricingSchedulePaginatedResponse,
    operation_id="getPricingSchedules",
)
def get_pricing_schedules(
    account_id: str,
    start_date: Annotated[IsoDate | None, Query()] = None,
    end_date: Annotated[IsoDate | None, Query()] = None,
    include_price_plan_info: Annotated[bool, Query()] = False,
    compact: Annotated[bool, Query()] = False,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=500)] = None,
    page_size: Annotated[int | None, Query(alias="pageSize", ge=1, le=1000)] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """The account's schedules overlapping [start_date, end_date), in time order. An account has few schedules:
    they come in one page (nextToken and pageSize are accepted and ignored)."""
    _, views = ScheduleService(ctx).of_account(account_id, start_date, end_date)
    return respond(
        schemas.PricingSchedulePaginatedResponse(
            data=[schemas.schedule_out(v, info=include_price_plan_info, compact=compact) for v in views]
        )
    )


@router.post(
    "/price_plans/migration",
    status_code=201,
    response_model=BaseSuccessResponse,
    tags=["PricePlans"],
    operation_id="pricePlanMigration",
)
def price_plan_migration(
    body: schemas.CreatePricePlanMigrationRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Move the accounts on a plan version to another plan or version, as a PRICE_PLAN job (GET /jobs): at once,
    or once confirmed (`requireConfirmation`). The migration lives here because it moves schedules."""
    start_plan_migration(
        ctx,
        source_id=body.source_id,
        source_versions=[body.source_version],
        target_id=body.target_id,
        target_version=body.target_version,
        mode=body.migration_mode,
        retain_start_offsets=bool(body.retain_start_offsets),
        require_confirmation=bool(body.require_confirmation),
        v2=bool(body.is_price_plan_v2_migration),
    )
    return respond(BaseSuccessResponse(success=True), 201)


# -- SchedulesApi (v2): staged edits of an account's schedules ----------------------------------------------------
Mode = Annotated[Literal["ACTIVE", "DRAFT"], Query(description="ACTIVE: the schedules in force; DRAFT: as staged")]


@router.post(
    "/v2/accounts/{account_id}/edit_schedules",
    response_model=schemas.UpdatePricingScheduleResponse,
    tags=["Schedules"],
    operation_id="bulkEditSchedules",
)
def bulk_edit_schedules(
    account_id: str,
    body: v2.EditAccountScheduleRequest,
    discard: Annotated[bool, Query()] = False,
    ctx: Context = Depends(api_context),
) -> Response:
    """Stage 1 to 10 edits after the account's staged ones (`discard=true`: in their place), checked at once;
    answers the schedules they would make. Nothing changes until finalize."""
    account, views = stage_schedule_edits(ctx, account_id, body.edits, discard=discard)
    return respond(schemas.update_response(account, views))


@router.post(
    "/v2/accounts/{account_id}/finalize_schedules",
    response_model=v2.SchedulesPaginatedResponse,
    tags=["Schedules"],
    operation_id="finalizeAccountSchedules",
)
def finalize_account_schedules(
    account_id: str, body: v2.FinalizeAccountSchedules, ctx: Context = Depends(api_context)
) -> Response:
    """Apply the staged edits, in order, all or none (never before the finalized invoices; drafts re-synced)."""
    views = finalize_schedules(ctx, account_id, body)
    return respond(v2.account_schedules(account_id, views))


@router.delete(
    "/v2/accounts/{account_id}/discard_schedules",
    response_model=BaseSuccessResponse,
    tags=["Schedules"],
    operation_id="discardAccountSchedules",
)
def discard_account_schedules(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Drop the account's staged edits."""
    discard_schedules(ctx, account_id)
    return respond(BaseSuccessResponse(success=True))


@router.get(
    "/v2/accounts/{account_id}/schedules",
    response_model=v2.SchedulesPaginatedResponse,
    tags=["Schedules"],
    operation_id="listaccountSchedules",
)
def listaccount_schedules(
    account_id: str,
    mode: Mode,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=500)] = None,
    page_size: Annotated[int | None, Query(alias="pageSize", ge=1, le=1000)] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """The account's schedules in force (ACTIVE) or as its staged edits would make them (DRAFT), in time order, in
    one page (nextToken and pageSize are accepted and ignored: an account has few schedules)."""
    if mode == "ACTIVE":
        _, views = ScheduleService(ctx).of_account(account_id)
    else:
        _, views = draft_schedules(ctx, account_id)
    return respond(v2.account_schedules(account_id, views))


@router.get(
    "/v2/schedules/{schedule_id}/rate_cards",
    response_model=RateCardPaginatedResponse,
    tags=["Schedules"],
    operation_id="listScheduleRateCards",
)
def list_schedule_rate_cards(
    schedule_id: str,
    mode: Mode,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=500)] = None,
    page_size: Annotated[int | None, Query(alias="pageSize", ge=1, le=1000)] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """The schedule's rate cards (its plan version's with the account's overrides), as named v2 cards: in force
    (ACTIVE) or with its staged changes (DRAFT). One page."""
    account, view = schedule_view(ctx, schedule_id, mode)
    cards = plan_v2.named_cards(view.model)
    return respond(RateCardPaginatedResponse(data=[v2.card_out(view, account.id, c) for c in cards]))


@router.post(
    "/v2/schedules/{schedule_id}/rate_cards",
    response_model=BulkRateCardOperationsResponse,
    tags=["Schedules"],
    operation_id="bulkRateCardOperationsOnSchedule",
)
def bulk_rate_card_operations_on_schedule(
    schedule_id: str, body: BulkRateCardOperationsRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Stage CREATE / UPDATE / DELETE of the schedule's rate cards (the account's overrides), applied by the
    account's finalize; answers the cards created or updated, as staged."""
    account, view, touched = stage_schedule_cards(ctx, schedule_id, [card_operation(op) for op in body.operations])
    return respond(BulkRateCardOperationsResponse(rate_cards=[v2.card_out(view, account.id, c) for c in touched]))


@router.get(
    "/v2/schedules/{schedule_id}/pricing_rules",
    response_model=PricingRulesPaginatedResponse,
    tags=["Schedules"],
    operation_id="listPricingRules",
)
def list_pricing_rules(schedule_id: str, mode: Mode, ctx: Context = Depends(api_context)) -> Response:
    """The schedule's pricing rules in order: in force (ACTIVE) or as staged (DRAFT)."""
    _, view = schedule_view(ctx, schedule_id, mode)
    return respond(PricingRulesPaginatedResponse(data=rules_out(view.model.pricing_rules, view.version)))


@router.put(
    "/v2/schedules/{schedule_id}/pricing_rules",
    response_model=PricingRulesPaginatedResponse,
    tags=["Schedules"],
    operation_id="updatePricingRules",
)
def update_pricing_rules(
    schedule_id: str, body: UpdatePricingRulesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Stage the schedule's pricing rules (they replace its rules whole; none: no rules), applied by finalize."""
    _, view = stage_schedule_rules(ctx, schedule_id, list(body.pricing_rules or []))
    return respond(PricingRulesPaginatedResponse(data=rules_out(view.model.pricing_rules, view.version)))


@router.get(
    "/v2/schedules/{schedule_id}/errors",
    response_model=ValidatedEntityErrorsPaginatedResponse,
    tags=["Schedules"],
    operation_id="listScheduleErrors",
)
def list_schedule_errors(schedule_id: str, ctx: Context = Depends(api_context)) -> Response:
    """What keeps the schedule, with its staged changes, from finalizing (each card's and rule's own error)."""
    errors = schedule_errors(ctx, schedule_id)
    return respond(
        ValidatedEntityErrorsPaginatedResponse(
            data=[
                ValidatedEntityError(
                    reference_id=schedule_id,
                    entity_id=e.entity_id,
                    entity_type="ACCOUNT_SCHEDULE" if e.entity_type == "PRICE_PLAN" else e.entity_type,
                    error_message=e.message,
                )
                for e in errors
            ]
        )
    )
