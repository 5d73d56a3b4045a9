"""Purchases and proposals on AccountsApi (deprecated in Togai's SDK, served): thin routes."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.purchases import schemas
from meterline.purchases.service import PurchaseService
from meterline.tenancy.context import Context
from meterline.usecases import purchases

router = APIRouter(route_class=UnitOfWorkRoute)
TAGS: list[str | Enum] = ["Accounts"]


@router.post(
    "/accounts/{account_id}/purchases",
    response_model=schemas.PurchaseOut,
    tags=TAGS,
    operation_id="initiateOneTimeEntitlementPlan",
)
def initiate_purchase(
    account_id: str, body: schemas.CreatePurchaseRequest, ctx: Context = Depends(api_context)
) -> Response:
    """A purchase made and billed now on an ORDER invoice; a repeated idempotencyKey gives back the first one."""
    purchase = purchases.initiate(ctx, account_id, body)
    return respond(schemas.purchase_out(purchase, account_id))


@router.get(
    "/accounts/{account_id}/purchases",
    response_model=schemas.PurchasePaginatedListData,
    tags=TAGS,
    operation_id="listAccountPurchases",
)
def list_account_purchases(
    account_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    result = PurchaseService(ctx).page(account_id, page, proposals=False)
    return respond(
        schemas.PurchasePaginatedListData(
            data=[schemas.purchase_item(p) for p in result.items], next_token=result.next_token
        )
    )


@router.get("/purchases/{purchase_id}", response_model=schemas.PurchaseOut, tags=TAGS, operation_id="getPurchase")
def get_purchase(purchase_id: str, ctx: Context = Depends(api_context)) -> Response:
    service = PurchaseService(ctx)
    purchase = service.get(purchase_id, proposal=False)
    return respond(schemas.purchase_out(purchase, service.account_id_of(purchase)))


@router.post(
    "/accounts/{account_id}/purchase_proposals",
    response_model=schemas.ProposalOut,
    tags=TAGS,
    operation_id="createProposal",
)
def create_proposal(
    account_id: str, body: schemas.CreateProposalRequest, ctx: Context = Depends(api_context)
) -> Response:
    """A PROPOSAL_ACTIVE proposal: nothing is bought until it is approved."""
    service = PurchaseService(ctx)
    proposal, _ = service.begin(account_id, body)
    return respond(schemas.proposal_out(proposal, account_id, service.shown_status(proposal)))


@router.get(
    "/accounts/{account_id}/purchase_proposals",
    response_model=schemas.ProposalsPaginatedResponse,
    tags=TAGS,
    operation_id="listAccountProposals",
)
def list_account_proposals(
    account_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    service = PurchaseService(ctx)
    result = service.page(account_id, page, proposals=True)
    return respond(
        schemas.ProposalsPaginatedResponse(
            data=[schemas.proposal_item(p, service.shown_status(p)) for p in result.items],
            next_token=result.next_token,
        )
    )


@router.get(
    "/purchase_proposals/{purchase_proposal_id}",
    response_model=schemas.ProposalOut,
    tags=TAGS,
    operation_id="getProposal",
)
def get_proposal(purchase_proposal_id: str, ctx: Context = Depends(api_context)) -> Response:
    service = PurchaseService(ctx)
    proposal = service.get(purchase_proposal_id, proposal=True)
    return respond(schemas.proposal_out(proposal, service.account_id_of(proposal), service.shown_status(proposal)))


@router.post(
    "/purchase_proposals/{purchase_proposal_id}/update_status",
    response_model=schemas.ProposalOut,
    tags=TAGS,
    operation_id="updateProposalStatus",
)
def update_proposal_status(
    purchase_proposal_id: str, body: schemas.UpdateProposalStatus, ctx: Context = Depends(api_context)
) -> Response:
    """APPROVE (the purchase is made now) or DECLINE a PROPOSAL_ACTIVE proposal (409 otherwise)."""
    proposal = purchases.decide(ctx, purchase_proposal_id, body.status == "APPROVE")
    service = PurchaseService(ctx)
    return respond(schemas.proposal_out(proposal, service.account_id_of(proposal), proposal.status))
