"""LicensesApi: thin routes over LicenseService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import UtcDatetime
from meterline.licenses import schemas
from meterline.licenses.service import LicenseService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Licenses"])


@router.post("/license_updates", response_model=schemas.LicenseUpdateResponse, operation_id="addLicenseUpdateEntry")
def add_license_update_entry(body: schemas.LicenseUpdateRequest, ctx: Context = Depends(api_context)) -> Response:
    """Set (ABSOLUTE) or change (RELATIVE) an account's quantity of a license from `effectiveFrom` on."""
    return respond(schemas.update_out(LicenseService(ctx).update(body)))


@router.get("/license_updates", response_model=schemas.GetLicenseUpdatesResponse, operation_id="getLicenseUpdates")
def get_license_updates(
    account_id: Annotated[str | None, Query(max_length=50)] = None,
    license_id: Annotated[str | None, Query(alias="licenseId", max_length=50)] = None,
    effective_from: Annotated[UtcDatetime | None, Query(alias="effectiveFrom")] = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """License updates in the order they were made, filtered by account, license, and from an instant on."""
    result = LicenseService(ctx).page(page, account_id=account_id, license_id=license_id, effective_from=effective_from)
    return respond(
        schemas.GetLicenseUpdatesResponse(
            data=[schemas.update_out(u) for u in result.items], next_token=result.next_token
        )
    )


@router.patch(
    "/license_updates/{license_id}",
    response_model=schemas.LicenseUpdateResponse,
    operation_id="updateLicenseEntryDetails",
)
def update_license_entry_details(
    license_id: str,
    body: schemas.LicenseEntryDetailsUpdateRequest,
    license_query: Annotated[str | None, Query(alias="licenseId", max_length=50)] = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """Replace the metadata of the update at (license, account, effectiveFrom). The SDK sends the literal path
    `/license_updates/{license_id}` with the id in the `licenseId` query parameter, which wins when present."""
    return respond(schemas.update_out(LicenseService(ctx).update_details(license_query or license_id, body)))


@router.get(
    "/named_license_updates",
    response_model=schemas.NamedLicenseUpdatesPaginatedResponse,
    operation_id="getNamedLicenseUpdates",
)
def get_named_license_updates(
    page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    """Who holds each named seat over time: one row per seat that `togai-named-license` events added (and removed),
    in the order they were added."""
    result, account_ids = LicenseService(ctx).named_updates(page)
    return respond(
        schemas.NamedLicenseUpdatesPaginatedResponse(
            data=[schemas.seat_out(s, account_ids.get(s.account_pk, s.account_pk)) for s in result.items],
            next_token=result.next_token,
        )
    )
