"""InvoiceGroupsApi: thin routes over InvoiceGroupService."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse
from meterline.invoice_groups import schemas
from meterline.invoice_groups.service import InvoiceGroupService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute)
TAGS: list[str | Enum] = ["InvoiceGroups"]  # FastAPI takes tags as list[str | Enum]


@router.post("/invoice_groups", response_model=schemas.InvoiceGroups, tags=TAGS, operation_id="createInvoiceGroup")
def create_invoice_group(body: schemas.CreateInvoiceGroupRequest, ctx: Context = Depends(api_context)) -> Response:
    """A group of 1 to 100 accounts of one currency, each in no other group (200, as Togai)."""
    service = InvoiceGroupService(ctx)
    group = service.create(body)
    return respond(schemas.group_out(group, len(body.account_ids)))


@router.get(
    "/invoice_groups",
    response_model=schemas.InvoiceGroupPaginatedResponse,
    tags=TAGS,
    operation_id="listInvoiceGroups",
)
def list_invoice_groups(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result, counts = InvoiceGroupService(ctx).page(page)
    return respond(
        schemas.InvoiceGroupPaginatedResponse(
            data=[schemas.group_out(g, counts.get(g.pk, 0)) for g in result.items], next_token=result.next_token
        )
    )


@router.get(
    "/invoice_groups/{invoice_group_id}",
    response_model=schemas.InvoiceGroupAccountsPaginatedResponse,
    tags=TAGS,
    operation_id="getInvoiceGroup",
)
def get_invoice_group(invoice_group_id: str, ctx: Context = Depends(api_context)) -> Response:
    """The group with its accounts' ids (at most 100: one page)."""
    service = InvoiceGroupService(ctx)
    group = service.get(invoice_group_id)
    return respond(schemas.group_with_accounts_out(group, service.account_ids(group)))


@router.post(
    "/invoice_groups/{invoice_group_id}/add_accounts",
    response_model=schemas.InvoiceGroups,
    tags=TAGS,
    operation_id="AddInvoiceGroupAccounts",
)
def add_invoice_group_accounts(
    invoice_group_id: str, body: schemas.UpdateInvoiceGroupAccounts, ctx: Context = Depends(api_context)
) -> Response:
    """Add accounts (of the group's currency, in no other group; one already in this group is left as it is)."""
    service = InvoiceGroupService(ctx)
    group = service.add_accounts(invoice_group_id, body.account_ids)
    return respond(schemas.group_out(group, service.count(group)))


@router.post(
    "/invoice_groups/{invoice_group_id}/remove_accounts",
    response_model=BaseSuccessResponse,
    tags=TAGS,
    operation_id="RemoveInvoiceGroupAccounts",
)
def remove_invoice_group_accounts(
    invoice_group_id: str, body: schemas.UpdateInvoiceGroupAccounts, ctx: Context = Depends(api_context)
) -> Response:
    """Take accounts out of the group; removing the last one deletes the group."""
    InvoiceGroupService(ctx).remove_accounts(invoice_group_id, body.account_ids)
    return respond(BaseSuccessResponse(success=True))
