"""CreditsApi: thin routes over CreditService. Holds come from invoicing (DRAFT invoices computed now)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.credits import schemas
from meterline.credits.models import Credit
from meterline.credits.service import CreditService
from meterline.customers.repository import CustomerRepository
from meterline.tenancy.context import Context
from meterline.usecases import balances

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Credits"])


def _service(ctx: Context) -> CreditService:
    return balances.credits(ctx)


def _out(ctx: Context, service: CreditService, credits: list[Credit]) -> list[schemas.CreditOut]:
    accounts = service.accounts.by_pks({c.account_pk for c in credits})
    customers = CustomerRepository(ctx.session, ctx.org_id).by_pks({a.customer_pk for a in accounts.values()})
    held = service.held(credits)
    out = []
    for c in credits:
        account = accounts[c.account_pk]
        out.append(schemas.credit_out(c, account.id, customers[account.customer_pk].id, held.get(c.pk, Decimal(0))))
    return out


@router.post("/credits", response_model=schemas.CreateCreditResponse, operation_id="createCredit")
def create_credit(body: schemas.CreateCreditRequest, ctx: Context = Depends(api_context)) -> Response:
    """Grant credits (200, as Togai); a repeated idempotencyKey gives back the credit it made."""
    service = _service(ctx)
    made = service.grant([r.grant() for r in body.credit_requests])
    return respond(schemas.CreateCreditResponse(credits=_out(ctx, service, made)))


@router.get("/credits", response_model=schemas.ListCreditsResponse, operation_id="listCredits")
def list_credits(
    status: Annotated[schemas.CreditStatus | None, Query()] = None,
    account_id: Annotated[str | None, Query(max_length=50)] = None,
    id: Annotated[str | None, Query(max_length=50)] = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    service = _service(ctx)
    result = service.page(page, status=status, account_id=account_id, credit_id=id)
    return respond(schemas.ListCreditsResponse(data=_out(ctx, service, result.items), next_token=result.next_token))


@router.get("/credits/{credit_id}", response_model=schemas.CreditDetailsResponse, operation_id="getCreditDetails")
def get_credit_details(credit_id: str, ctx: Context = Depends(api_context)) -> Response:
    """A credit with its ledger: CREDITED, DEBITED (by finalized invoices), EXPIRED, VOIDED."""
    service = _service(ctx)
    credit = service.get(credit_id)
    [out] = _out(ctx, service, [credit])
    transactions = [schemas.transaction_out(t) for t in service.repo.transactions(credit.pk)]
    return respond(schemas.CreditDetailsResponse(**out.model_dump(), transactions=transactions))


@router.post("/credits/{credit_id}/void", response_model=schemas.CreditOut, operation_id="voidCredit")
def void_credit(credit_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Void an ACTIVE credit: what remains of it is gone (DRAFT invoices stop using it)."""
    service = _service(ctx)
    credit = service.void(credit_id)
    return respond(_out(ctx, service, [credit])[0])


@router.get(
    "/accounts/{account_id}/credit_balance",
    response_model=schemas.CreditBalanceResponse,
    operation_id="creditBalanceForAccount",
)
def credit_balance_for_account(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.balance_out(_service(ctx).balance(account_id)))
