"""The customer portal's pages (issue 18; docs/portal.md): what one delegate token (`POST /api/portal/token`) opens,
read-only, in a layout of its own with the organization's name. Thin handlers over usecases/portal.py.

- `GET /portal?token=...` checks the token and exchanges it for the portal's cookie (a 303 to `/portal`), so that the
  token does not stay in the address bar, the history or a Referer; `GET /portal` is the customer's page (accounts,
  the ongoing invoice and its usage, wallet, credits, feature credits, invoices); `/portal/invoices/{id}` an invoice
  and `/portal/invoices/{id}/pdf` its PDF (invoicing/pdf.py), for invoices of the token's accounts only (404 else).
- The cookie (`meterline_portal`, path /portal, HttpOnly) carries the token itself, for as long as the token lives;
  every request checks it again (its expiry included: an expired one is a 401 page saying whom to ask). Over HTTPS it
  is `SameSite=None; Secure; Partitioned`, so that it works inside the operator's iframe (Partitioned: kept per
  embedding site, which browsers blocking third-party cookies still allow); over plain HTTP (development) browsers
  refuse SameSite=None without Secure, so it is `SameSite=Lax`: the portal then works opened directly, or framed by a
  page of the same site (http://localhost:3000 framing http://localhost:8000).
- Embedding: every portal answer says who may frame it, `Content-Security-Policy: frame-ancestors <the organization's
  allow-list>` (Settings -> Organization, portal/service.py), `'none'` without a list or before a token names the
  organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from meterline.api.deps import session_of
from meterline.api.routing import UnitOfWorkRoute
from meterline.console.invoice_pages import document_parts, invoice_view
from meterline.console.pages import templates
from meterline.core.clock import utc_now
from meterline.core.errors import Conflict, MeterlineError
from meterline.invoicing import pdf
from meterline.portal.service import Access, Expired, embed_origins, open_token
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases import portal
from meterline.web.security_headers import framed_by

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
COOKIE = "meterline_portal"
TITLES = {401: "This link cannot be opened", 404: "Not found"}


@dataclass(frozen=True)
class Viewer:
    """What the templates' `day()` reads the time zone from (`user.org`, as on the console's pages)."""

    org: Organization


def _headers(request: Request, org: Organization | None) -> dict[str, str]:
    origins = embed_origins(Context(session_of(request), org, utc_now())) if org is not None else []
    return {"Content-Security-Policy": framed_by(origins), "Cache-Control": "no-store"}


def _render(request: Request, name: str, org: Organization | None, status: int = 200, **values: Any) -> Response:
    response = templates.TemplateResponse(
        request,
        name,
        {"user": Viewer(org) if org is not None else None, "org": org, **values},
        status_code=status,
        headers=_headers(request, org),
    )
    return response


def _refused(request: Request, exc: MeterlineError, org: Organization | None = None) -> Response:
    """The portal's error page: what happened in words, in the portal's layout (never the console's)."""
    if isinstance(exc, Expired):
        org = exc.org
    response = _render(
        request,
        "portal_error.html",
        org,
        status=exc.status_code,
        code=exc.status_code,
        title=TITLES.get(exc.status_code, "That could not be shown"),
        message=exc.message,
    )
    if exc.status_code == 401:  # removed with the attributes it was set with (else a browser may keep it)
        _set_cookie(request, response, "", 0)
    return response


def no_such_page(request: Request, status: int, message: str) -> Response:
    """A path under /portal that no page has (the app's HTTP error handler): the portal's page, not the console's."""
    return _render(
        request,
        "portal_error.html",
        None,
        status=status,
        code=status,
        title=TITLES.get(status, "That could not be shown"),
        message=message,
    )


def _set_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """The portal's cookie (max_age 0: removed), with the same attributes either way."""
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/portal",
        httponly=True,
        secure=secure,
        samesite="none" if secure else "lax",
    )
    if secure:  # (Starlette writes Partitioned only on Python 3.14 and later: the attribute is added here)
        last = max(n for n, (name, _) in enumerate(response.raw_headers) if name == b"set-cookie")
        response.raw_headers[last] = (b"set-cookie", response.raw_headers[last][1] + b"; Partitioned")


def _access(request: Request) -> Access:
    return open_token(session_of(request), request.cookies.get(COOKIE), utc_now())


@router.get("/portal")
def portal_home(request: Request, token: str = "", page: str = "", invoices: str = "") -> Response:  # noqa: S107  # nosec B107 - no default secret
    now = utc_now()
    if token:  # the link: exchanged for the cookie, and out of the address bar at once
        try:
            access = open_token(session_of(request), token, now)
        except MeterlineError as exc:
            return _refused(request, exc)
        response = RedirectResponse("/portal", status_code=303, headers=_headers(request, access.org))
        _set_cookie(request, response, token, portal.expires_in(access, now))
        return response
    try:
        access = _access(request)
    except MeterlineError as exc:
        return _refused(request, exc)
    try:
        pages = portal.page_number(page, "page"), portal.page_number(invoices, "invoices")
        overview = portal.overview(access.context(session_of(request), now), access, *pages)
    except MeterlineError as exc:
        return _refused(request, exc, access.org)
    return _render(request, "portal.html", access.org, access=access, overview=overview, now=now)


@router.get("/portal/invoices/{invoice_id}")
def portal_invoice(request: Request, invoice_id: str) -> Response:
    try:
        access = _access(request)
    except MeterlineError as exc:
        return _refused(request, exc)
    ctx = access.context(session_of(request), utc_now())
    try:
        view = invoice_view(ctx, portal.invoice_of(ctx, access, invoice_id).pk)
    except MeterlineError as exc:
        return _refused(request, exc, access.org)
    return _render(
        request,
        "portal_invoice.html",
        access.org,
        access=access,
        view=view,
        invoice=view.invoice,
        account=view.account,
        now=ctx.now,
        **document_parts(view, access.org.name),
    )


@router.get("/portal/invoices/{invoice_id}/pdf")
def portal_invoice_pdf(request: Request, invoice_id: str) -> Response:
    try:
        access = _access(request)
    except MeterlineError as exc:
        return _refused(request, exc)
    ctx = access.context(session_of(request), utc_now())
    try:
        view = invoice_view(ctx, portal.invoice_of(ctx, access, invoice_id).pk)
        if view.document is None:
            raise Conflict("This draft invoice cannot be computed now: its PDF cannot be made")
    except MeterlineError as exc:
        return _refused(request, exc, access.org)
    name = view.invoice.sequence_id or f"draft-{view.invoice.pk}"
    return Response(
        pdf.render_invoice_pdf(view.document, ctx.org.timezone, wallet=view.wallet),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"',
            **_headers(request, access.org),
        },
    )
