"""The console's error pages (issue 15): a 400, 403, 404... raised inside a console page, or a path no page has, is
answered with a page in the layout: the side menu when the browser is signed in, a heading and the message in words,
and a way back (the section the address belongs to, the dashboard). Errors under /api never come here: the API
answers `{"message": ...}` (api/errors.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from meterline.console import auth, pages

# The heading of each status, in words
TITLES = {
    400: "That could not be done",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "This page cannot be opened that way",
    409: "That could not be done",
    413: "Too much at once",
    422: "That could not be done",
    429: "Too many requests",
}
DEFAULT_TITLE = "Something is not right"

# The first step of a console path and the section of the side menu it belongs to: (section, label, list page)
SECTIONS = {
    "dashboard": ("dashboard", "the dashboard", "/dashboard"),
    "customers": ("customers", "Customers", "/customers"),
    "accounts": ("customers", "Customers", "/customers"),
    "price-plans": ("plans", "Price Plans", "/price-plans"),
    "usage-meters": ("meters", "Usage Meters", "/usage-meters"),
    "event-schemas": ("schemas", "Event Schemas", "/event-schemas"),
    "features": ("features", "Features", "/features"),
    "events": ("events", "Events", "/events"),
    "invoices": ("invoices", "Invoices", "/invoices"),
    "settings": ("settings", "Settings", "/settings"),
}
HOME = SECTIONS["dashboard"]


def section_of(path: str) -> tuple[str, str, str]:
    """(section, label, href) of the side menu for a console path; the dashboard for any other."""
    return SECTIONS.get(path.strip("/").split("/", 1)[0], HOME)


def page(request: Request, status: int, message: str, now: datetime, headers: dict[str, str] | None = None) -> Response:
    """The error page for `request` (blocking: it reads the browser's session, if any, from the database)."""
    section, label, href = section_of(request.url.path)
    session = request.app.state.session_factory()
    try:
        try:
            user = auth.read(session, request.cookies.get(auth.COOKIE), now)
        except SQLAlchemyError:  # the database is unreachable: the page still says what went wrong, without the menu
            user = None
        response = pages.templates.TemplateResponse(
            request,
            "error.html",
            {
                "user": user,
                "csrf": user.csrf if user is not None else "",
                "notice": None,  # a notice waiting for the next page stays for it
                "section": section,
                "status": status,
                "title": TITLES.get(status, DEFAULT_TITLE),
                "message": message,
                "back_label": label,
                "back_href": href,
                "path": request.url.path,
            },
            status_code=status,
            headers=headers,
        )
    finally:
        session.close()
    return response
