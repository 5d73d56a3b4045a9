"""Dependencies shared by every endpoint: the authenticated context and page parameters.

Those that do no I/O are `async`, so FastAPI runs them on the event loop instead of a thread pool hop each.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from meterline.core.clock import utc_now
from meterline.core.pagination import MAX_PAGE_SIZE, PageRequest, page_request
from meterline.tenancy.context import Context
from meterline.tenancy.service import Principal, TenancyService

bearer = HTTPBearer(auto_error=False, scheme_name="bearerAuth")


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    token = credentials.credentials if credentials else None
    who = TenancyService(session_of(request)).authenticate(token, utc_now())
    route = request.scope.get("route")
    request.app.state.quotas.take(who.api_key_id, getattr(route, "path", ""))
    return who


async def api_context(request: Request, who: Principal = Depends(principal)) -> Context:
    """The organization of the caller's key; every service call of the request runs in it."""
    return Context(session=session_of(request), org=who.org, now=utc_now())


async def page_params(
    next_token: str | None = Query(None, alias="nextToken", description="the nextToken of the previous page"),
    page_size: Decimal | None = Query(
        None, alias="pageSize", ge=1, le=MAX_PAGE_SIZE, multiple_of=1, description="1 to 50, default 50"
    ),
) -> PageRequest:
    return page_request(next_token, page_size)
