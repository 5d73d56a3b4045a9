"""WalletApi: thin routes over WalletService. Holds come from invoicing (DRAFT invoices computed now)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.customers.repository import CustomerRepository
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.wallet import schemas
from meterline.wallet.service import HoldEntry, WalletService, WalletView

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Wallet"])


def _service(ctx: Context) -> WalletService:
    return balances.wallet(ctx)


def _out(ctx: Context, view: WalletView) -> schemas.WalletBalanceResponse:
    customer = CustomerRepository(ctx.session, ctx.org_id).by_pk(view.account.customer_pk)
    return schemas.wallet_out(view, customer.id if customer else "")


@router.get(
    "/accounts/{account_id}/wallet",
    response_model=schemas.WalletBalanceResponse,
    operation_id="walletBalanceForAccount",
)
def wallet_balance_for_account(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    """The balance: credited - (debited + on hold for DRAFT invoices)."""
    return respond(_out(ctx, _service(ctx).view(account_id)))


@router.patch(
    "/accounts/{account_id}/wallet", response_model=schemas.WalletBalanceResponse, operation_id="updateWalletForAccount"
)
def update_wallet_for_account(
    account_id: str, body: schemas.UpdateWalletRequest, ctx: Context = Depends(api_context)
) -> Response:
    """INACTIVE stops the wallet paying invoices; effectiveFrom: invoices dated before it are not paid by it."""
    return respond(_out(ctx, _service(ctx).update(account_id, body.status, body.effective_from)))


@router.post(
    "/accounts/{account_id}/wallet_topup",
    response_model=schemas.WalletBalanceResponse,
    operation_id="topUpWalletForAccount",
)
def top_up_wallet_for_account(
    account_id: str, body: schemas.TopupWalletRequest, ctx: Context = Depends(api_context)
) -> Response:
    return respond(_out(ctx, _service(ctx).top_up(account_id, body.topup_amount)))


@router.get(
    "/accounts/{account_id}/wallet/entries",
    response_model=schemas.WalletEntriesPaginatedResponse,
    operation_id="walletEntriesForAccount",
)
def wallet_entries_for_account(
    account_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """ON_HOLD amounts of DRAFT invoices first, then the entries, oldest first; `pageSize` counts both."""
    items, next_token, wallet_pk = _service(ctx).entries(account_id, page)
    data = [schemas.hold_out(i, wallet_pk) if isinstance(i, HoldEntry) else schemas.entry_out(i) for i in items]
    return respond(schemas.WalletEntriesPaginatedResponse(data=data, next_token=next_token))
