"""AuthenticationApi."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterline.api.deps import principal, session_of
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.clock import utc_now
from meterline.core.schemas import ResponseModel
from meterline.tenancy.service import Principal, TenancyService

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Authentication"])


class TokenResponse(ResponseModel):
    token: str


@router.post("/authenticate", response_model=TokenResponse, operation_id="authenticate")
def authenticate(request: Request, who: Principal = Depends(principal)) -> Response:
    """Exchange an API key for a JWT valid for 24 hours (a JWT sent here is returned as it is)."""
    ttl = timedelta(seconds=request.app.state.settings.jwt_ttl_seconds)
    token = TenancyService(session_of(request)).issue_jwt(who, now=utc_now(), ttl=ttl)
    return respond(TokenResponse(token=token))
