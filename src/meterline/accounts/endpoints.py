"""AccountsApi (accounts and their aliases) and AliasesApi (the organization's alias registry)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.accounts import schemas
from meterline.accounts.service import AccountService
from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, PaginationOptions, UtcDatetime
from meterline.invoice_groups.schemas import group_details_out
from meterline.invoice_groups.service import InvoiceGroupService
from meterline.tenancy.context import Context
from meterline.usecases.accounts import delete_account as delete_account_with_history

router = APIRouter(route_class=UnitOfWorkRoute)
ACCOUNTS: list[str | Enum] = ["Accounts"]  # FastAPI takes tags as list[str | Enum]
ALIASES: list[str | Enum] = ["Aliases"]  # FastAPI takes tags as list[str | Enum]


def _account(service: AccountService, account_id: str, at: datetime | None = None) -> Response:
    return respond(schemas.account_out(service.view(service.get(account_id), at)))


@router.post("/accounts", status_code=201, response_model=schemas.Account, tags=ACCOUNTS, operation_id="createAccount")
def create_account(body: schemas.CreateAccountRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create another account of a customer. Its invoiceCurrency (default: the organization's) never changes."""
    service = AccountService(ctx)
    return respond(schemas.account_out(service.view(service.create(body))), 201)


@router.get("/accounts", response_model=schemas.AccountPaginatedResponse, tags=ACCOUNTS, operation_id="getAccounts")
def get_accounts(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    service = AccountService(ctx)
    result = service.page(page)
    return respond(
        schemas.AccountPaginatedResponse(
            data=[schemas.account_out(v) for v in service.views(result.items)],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/accounts/{account_id}", response_model=schemas.Account, tags=ACCOUNTS, operation_id="getAccount")
def get_account(
    account_id: str,
    effective_on: UtcDatetime | None = Query(None, alias="effectiveOn", description="list the aliases effective then"),
    include_group_details: bool | None = Query(None, alias="includeGroupDetails"),
    ctx: Context = Depends(api_context),
) -> Response:
    """The account; with includeGroupDetails=true, the invoice group it is in (invoiceGroupDetails), if any."""
    view = AccountService(ctx).view_by_id(account_id, effective_on)
    out = schemas.account_out(view)
    if include_group_details:
        group = InvoiceGroupService(ctx).of_account(view.account)
        if group is not None:
            out.invoice_group_details = group_details_out(group)
    return respond(out)


@router.patch("/accounts/{account_id}", response_model=schemas.Account, tags=ACCOUNTS, operation_id="updateAccount")
def update_account(
    account_id: str, body: schemas.UpdateAccountRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Change an account. `metadata` replaces the stored map ({} clears it); invoiceCurrency cannot change."""
    service = AccountService(ctx)
    service.update(account_id, body)
    return _account(service, account_id)


@router.delete(
    "/accounts/{account_id}", response_model=BaseSuccessResponse, tags=ACCOUNTS, operation_id="deleteAccount"
)
def delete_account(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Remove the account; archive it instead when it has finalized invoices."""
    delete_account_with_history(ctx, account_id)
    return respond(BaseSuccessResponse(success=True))


@router.post(
    "/accounts/{account_id}/add_aliases", response_model=schemas.Account, tags=ACCOUNTS, operation_id="addAliases"
)
def add_aliases(
    account_id: str, body: schemas.AddAccountAliasesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Add aliases, plain (`aliases`) or over a time range (`accountAliases`)."""
    service = AccountService(ctx)
    service.add_aliases(account_id, body)
    return _account(service, account_id)


@router.post(
    "/accounts/{account_id}/remove_aliases",
    response_model=schemas.Account,
    tags=ACCOUNTS,
    operation_id="removeAliases",
)
def remove_aliases(
    account_id: str, body: schemas.RemoveAccountAliasesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """End aliases now (`aliases`, by value) or from a given instant (`accountAliases`, by id)."""
    service = AccountService(ctx)
    service.remove_aliases(account_id, body)
    return _account(service, account_id)


@router.get(
    "/accounts/{account_id}/account_aliases",
    response_model=schemas.AccountAliasesPaginatedResponse,
    tags=ACCOUNTS,
    operation_id="listAccountAliases",
)
def list_account_aliases(account_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Every alias the account has had, has, or will have, with its range."""
    rows = AccountService(ctx).aliases(account_id)
    return respond(schemas.AccountAliasesPaginatedResponse(data=[schemas.account_alias_out(r) for r in rows]))


@router.post(
    "/aliases", status_code=201, response_model=schemas.AliasPaginatedResponse, tags=ALIASES, operation_id="createAlias"
)
def create_alias(body: schemas.CreateBulkAliasRequest, ctx: Context = Depends(api_context)) -> Response:
    created = AccountService(ctx).register_aliases([a.value for a in body.aliases])
    return respond(schemas.AliasPaginatedResponse(data=[schemas.alias_out(a) for a in created]), 201)


@router.get("/aliases", response_model=schemas.AliasPaginatedResponse, tags=ALIASES, operation_id="listAliases")
def list_aliases(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result = AccountService(ctx).registry_page(page)
    return respond(
        schemas.AliasPaginatedResponse(data=[schemas.alias_out(a) for a in result.items], next_token=result.next_token)
    )


@router.get("/aliases/{alias}", response_model=schemas.Alias, tags=ALIASES, operation_id="getAlias")
def get_alias(alias: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.alias_out(AccountService(ctx).registry_alias(alias)))


@router.delete("/aliases/{alias}", response_model=BaseSuccessResponse, tags=ALIASES, operation_id="deleteAlias")
def delete_alias(alias: str, ctx: Context = Depends(api_context)) -> Response:
    """Remove a value from the registry; refused while an account still holds it."""
    AccountService(ctx).delete_registry_alias(alias)
    return respond(BaseSuccessResponse(success=True))
