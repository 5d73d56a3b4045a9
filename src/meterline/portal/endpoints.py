"""CustomerPortalApi: `POST /portal/token`, a thin route over PortalService. The portal's pages are
console/portal_pages.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context, principal
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.portal.schemas import GetCustomerPortalDelegateTokenRequest
from meterline.portal.service import PortalService
from meterline.tenancy.context import Context
from meterline.tenancy.endpoints import TokenResponse
from meterline.tenancy.service import Principal

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Customer Portal"])


@router.post("/portal/token", response_model=TokenResponse, operation_id="getCustomerPortalDelegateToken")
def get_customer_portal_delegate_token(
    body: GetCustomerPortalDelegateTokenRequest,
    ctx: Context = Depends(api_context),
    who: Principal = Depends(principal),
) -> Response:
    """A delegate token that opens the customer portal (`/portal?token=...`) for one customer: up to 5 of its
    accounts (`accountIds`) or all of them (`allAccountsAccess`), for `expiry` seconds (60 to 604800; without it,
    until the JWT the request was made with expires, or 3600 seconds with an API key). The token is no API key: it
    opens the portal's pages only (docs/portal.md)."""
    issued = PortalService(ctx).issue(
        customer_id=body.customer_id,
        account_ids=body.account_ids,
        all_accounts=body.all_accounts_access,
        expiry=body.expiry,
        caller_expires_at=who.expires_at,
        issued_by_key=who.api_key_id,  # a JWT's subject is its API key: revoking the key ends the token
    )
    return respond(TokenResponse(token=issued.token))
