"""AddOnsApi: thin routes over AddOnService."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog import addon_schemas as schemas
from meterline.catalog.addon_service import AddOnService
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, PaginationOptions
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, tags=["AddOns"])


@router.post("/addons", response_model=schemas.AddOn, operation_id="createAddOn")
def create_add_on(body: schemas.CreateAddOnRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create an add-on (answered 200, as Togai does)."""
    return respond(schemas.addon_out(AddOnService(ctx).create(body)))


@router.get("/addons", response_model=schemas.AddOnPaginatedResponse, operation_id="getAddOns")
def get_add_ons(
    status: Annotated[Literal["ACTIVE", "ARCHIVED"] | None, Query()] = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """Add-ons in creation order; every status unless `status` is given."""
    result = AddOnService(ctx).page(page, status)
    return respond(
        schemas.AddOnPaginatedResponse(
            data=[schemas.addon_out(a) for a in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/addons/{addon_id}", response_model=schemas.AddOn, operation_id="getAddOn")
def get_add_on(addon_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.addon_out(AddOnService(ctx).get(addon_id)))


@router.patch("/addons/{addon_id}", response_model=schemas.AddOn, operation_id="updateAddOn")
def update_add_on(addon_id: str, body: schemas.UpdateAddOnRequest, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.addon_out(AddOnService(ctx).update(addon_id, body)))


@router.delete("/addons/{addon_id}", response_model=BaseSuccessResponse, operation_id="deleteAddOn")
def delete_add_on(addon_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Archive the add-on: it stays readable, frees its name, and cannot be put on new rate cards."""
    AddOnService(ctx).archive(addon_id)
    return respond(BaseSuccessResponse(success=True))
