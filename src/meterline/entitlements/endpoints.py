"""FeatureApi and EntitlementsApi: thin routes over the features, feature credits and entitlement values services;
and Meterline's one extension, `POST /accounts/{account_id}/features/{feature_id}/entries` (a grant)."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.errors import error_response
from meterline.api.responses import respond
from meterline.api.routing import ReadOnlyRoute, UnitOfWorkRoute, keep_writes
from meterline.core.observability import count_events
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, ErrorResponse, PaginationOptions
from meterline.entitlements import schemas
from meterline.entitlements.feature_service import FeatureService
from meterline.entitlements.service import FeatureCreditService, Grant
from meterline.entitlements.values import EntitlementValues
from meterline.events import wire
from meterline.events.statuses import IngestionStatus
from meterline.tenancy.context import Context
from meterline.usecases.events import entitled_ingestion

router = APIRouter(route_class=UnitOfWorkRoute)
# Queries sent as POST: no write lock, nothing committed.
read_router = APIRouter(route_class=ReadOnlyRoute)

FEATURES: list[str | Enum] = ["Feature"]
ENTITLEMENTS: list[str | Enum] = ["Entitlements"]
ENTRY = "/accounts/{account_id}/features/{feature_id}/entries"


# -- FeatureApi --------------------------------------------------------------------------------------------------
@router.post("/features", response_model=schemas.Feature, tags=FEATURES, operation_id="createFeature")
def create_feature(body: schemas.CreateFeatureRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create a feature reading (event schema, attribute) pairs (200, as Togai)."""
    view = FeatureService(ctx).create(body.name, body.billable_name, [a.pair() for a in body.schema_associations])
    return respond(schemas.feature_out(view))


@router.get("/features", response_model=schemas.FeaturePaginatedListData, tags=FEATURES, operation_id="getFeatures")
def get_features(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result, counts = FeatureService(ctx).page(page)
    return respond(
        schemas.FeaturePaginatedListData(
            data=[schemas.feature_list_out(f, counts[f.pk]) for f in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/features/{feature_id}", response_model=schemas.Feature, tags=FEATURES, operation_id="getFeature")
def get_feature(feature_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.feature_out(FeatureService(ctx).get(feature_id)))


@router.patch("/features/{feature_id}", response_model=schemas.Feature, tags=FEATURES, operation_id="updateFeature")
def update_feature(
    feature_id: str, body: schemas.UpdateFeatureRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Change the name, billable name, or the schema associations as a whole."""
    pairs = [a.pair() for a in body.schema_associations] if body.schema_associations is not None else None
    view = FeatureService(ctx).update(feature_id, name=body.name, billable_name=body.billable_name, associations=pairs)
    return respond(schemas.feature_out(view))


# -- POST /entitled ----------------------------------------------------------------------------------------------
async def _body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/entitled",
    response_model=BaseSuccessResponse,
    tags=ENTITLEMENTS,
    operation_id="ingestEntitledEvent",
    openapi_extra=wire.request_body("IngestEventRequest"),
    responses={422: {"model": ErrorResponse, "description": "The feature credits do not cover the event"}},
)
def ingest_entitled_event(body: bytes = Depends(_body), ctx: Context = Depends(api_context)) -> Response:
    """Ingest the event only when the account's credits of its feature cover its units, consuming them: 200
    `{success: true}`; 422 when they do not cover it (nothing stored); a rejected event as `/ingest` answers it
    (stored with its status; 409 for an id already ingested, else 400)."""
    result = entitled_ingestion(ctx).ingest(wire.decode_event(body))
    count_events([result.status])
    if not result.accepted:
        status = 409 if result.status == IngestionStatus.DUPLICATE else 400
        return keep_writes(error_response(status, result.message or result.status))
    return respond(BaseSuccessResponse(success=True))


# -- entitlement values ------------------------------------------------------------------------------------------
@router.get(
    "/accounts/{account_id}/entitlements",
    response_model=schemas.GetEntitlementValuesResponse,
    tags=ENTITLEMENTS,
    operation_id="getEntitlements",
)
def get_entitlements(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Every feature the account has a value of: a metered feature's balance, a configuration feature's setting."""
    values = EntitlementValues(ctx).all(account_id)
    return respond(
        schemas.GetEntitlementValuesResponse(data=[schemas.EntitlementValue(feature_id=f, value=v) for f, v in values])
    )


@router.get(
    "/accounts/{account_id}/entitlements/{feature_id}",
    response_model=schemas.GetEntitlementValuesResponse,
    tags=ENTITLEMENTS,
    operation_id="getEntitlementValue",
)
def get_entitlement_value(account_id: str, feature_id: str, ctx: Context = Depends(api_context)) -> Response:
    value = EntitlementValues(ctx).one(account_id, feature_id)
    return respond(
        schemas.GetEntitlementValuesResponse(data=[schemas.EntitlementValue(feature_id=feature_id, value=value)])
    )


@read_router.post(
    "/accounts/{account_id}/entitlements/{feature_id}",
    response_model=BaseSuccessResponse,
    tags=ENTITLEMENTS,
    operation_id="validateEntitlementValue",
)
def validate_entitlement_value(
    account_id: str,
    feature_id: str,
    body: schemas.ValidateEntitlementValueRequest,
    ctx: Context = Depends(api_context),
) -> Response:
    """Is `value` within the account's entitlement? 200 `{success: true|false}` (docs/entitlements.md)."""
    return respond(BaseSuccessResponse(success=EntitlementValues(ctx).validate(account_id, feature_id, body.value)))


# -- feature credits ---------------------------------------------------------------------------------------------
@router.get(
    "/accounts/{account_id}/features/{feature_id}",
    response_model=schemas.GetFeatureCreditsResponse,
    tags=ENTITLEMENTS,
    operation_id="getFeatureCredits",
)
def get_feature_credits(account_id: str, feature_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Granted and balance of the entries in effect now; usedOverage 0 until overage cards exist."""
    credits = FeatureCreditService(ctx).credits(account_id, feature_id)
    return respond(schemas.credits_out(account_id, feature_id, credits))


@router.get(
    ENTRY,
    response_model=schemas.GetFeatureCreditEntriesPaginatedResponse,
    tags=ENTITLEMENTS,
    operation_id="listFeatureCreditEntries",
)
def list_feature_credit_entries(
    account_id: str, feature_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """Every entry, whatever its status, in the order they were made."""
    result = FeatureCreditService(ctx).page(account_id, feature_id, page)
    return respond(
        schemas.GetFeatureCreditEntriesPaginatedResponse(
            data=[schemas.entry_out(e, ctx.now) for e in result.items], next_token=result.next_token
        )
    )


@router.post(
    ENTRY,
    status_code=201,
    response_model=schemas.FeatureCreditEntry,
    tags=["Meterline"],
    operation_id="grantFeatureCredits",
)
def grant_feature_credits(
    account_id: str, feature_id: str, body: schemas.GrantFeatureCreditsRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Meterline's extension: grant `granted` units of the feature to the account as an ENTITLEMENT entry (201); a
    repeated idempotencyKey gives back the entry it made."""
    entry = FeatureCreditService(ctx).grant_entitlement(
        Grant(
            account_id=account_id,
            feature_id=feature_id,
            granted=body.granted,
            effective_from=body.effective_from,
            effective_until=body.effective_until,
            idempotency_key=body.idempotency_key,
        )
    )
    return respond(schemas.entry_out(entry, ctx.now), 201)


@router.patch(
    ENTRY + "/{entry_id}",
    response_model=schemas.FeatureCreditEntry,
    tags=ENTITLEMENTS,
    operation_id="UpdateFeatureCreditEntry",
)
def update_feature_credit_entry(
    account_id: str,
    feature_id: str,
    entry_id: str,
    body: schemas.UpdateFeatureCreditsRequest | None = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """Change an ACTIVE entry's effectiveUntil (in the future) or granted (at least what it used)."""
    entry = FeatureCreditService(ctx).update(
        account_id,
        feature_id,
        entry_id,
        effective_until=body.effective_until if body else None,
        granted=body.granted if body else None,
    )
    return respond(schemas.entry_out(entry, ctx.now))


@router.post(
    ENTRY + "/{entry_id}/void",
    response_model=BaseSuccessResponse,
    tags=ENTITLEMENTS,
    operation_id="VoidFeatureCreditEntry",
)
def void_feature_credit_entry(
    account_id: str, feature_id: str, entry_id: str, ctx: Context = Depends(api_context)
) -> Response:
    """VOIDED: what is left of the entry can no longer be used; what it used stays."""
    FeatureCreditService(ctx).void(account_id, feature_id, entry_id)
    return respond(BaseSuccessResponse(success=True))
