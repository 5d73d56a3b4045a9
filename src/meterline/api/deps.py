"""Dependencies shared by every endpoint: the authenticated context and page parameters.

Those that do no I/O are `async`, so FastAPI runs them on the event loop instead of a thread pool hop each.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterline.core.clock import utc_now
from meterline.core.pagination import MAX_PAGE_SIZE, PageRequest, page_request
from meterline.tenancy.context import Context
from meterline.tenancy.key_cache import VerifiedKeys
from meterline.tenancy.service import Principal, TenancyService

bearer = HTTPBearer(auto_error=False, scheme_name="bearerAuth")


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def _verify(request: Request, token: str | None) -> Principal:
    """The database's answer for the token (TenancyService.authenticate), remembered for the next requests."""
    keys: VerifiedKeys = request.app.state.verified_keys
    read_from = keys.clock()  # before the read: the entry ends TTL after it, whatever the read saw
    who = TenancyService(session_of(request)).authenticate(token, utc_now())
    keys.put(who.token, who, read_from)
    return who


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The caller: a key verified less than half a second ago by this process (tenancy/key_cache.py: no I/O, so on
    the event loop), else verified against the database in the thread pool."""
    token = credentials.credentials if credentials else None
    keys: VerifiedKeys = request.app.state.verified_keys
    who = keys.get(token, utc_now()) if token else None
    if who is None:
        who = await run_in_threadpool(_verify, request, token)
    route = request.scope.get("route")
    request.app.state.quotas.take(who.api_key_id, getattr(route, "path", ""))
    request.state.principal = who
    return who


async def api_context(request: Request) -> Context:
    """The organization of the caller's key; every service call of the request runs in it. The caller is the one
    `principal` found: every API router has it as its first dependency (web/api.py), so it ran before this one
    (asking for it again through `Depends` would solve its own dependencies a second time on every request)."""
    who: Principal | None = getattr(request.state, "principal", None)
    if who is None:  # a route outside the API's routers
        who = await principal(request, await bearer(request))
    return Context(session=session_of(request), org=who.org, now=utc_now())


async def page_params(
    next_token: str | None = Query(None, alias="nextToken", description="the nextToken of the previous page"),
    page_size: Decimal | None = Query(
        None, alias="pageSize", ge=1, le=MAX_PAGE_SIZE, multiple_of=1, description="1 to 50, default 50"
    ),
) -> PageRequest:
    return page_request(next_token, page_size)
