"""Console sessions in the browser: the cookies and the CSRF checks. The sessions themselves are rows in the
database (tenancy/sessions.py): the cookie holds a random token naming one, and every request checks it is live.

- `meterline_session` is HttpOnly, SameSite=Lax, and Secure when the console is served over HTTPS; it lasts as long
  as its session (12 hours) unless the session is ended first (sign-out, a password change, the user removed).
- Every form carries the session's CSRF token in a hidden field; a POST whose token does not match the session's is
  refused (403). SameSite alone would not cover older browsers or same-site subdomains.
- Before there is a session, the sign-in form is protected the same way (login CSRF): GET /login sets a pre-session
  cookie, `meterline_login` (HttpOnly, SameSite=Lax), and puts the same random value in the form; POST /login
  refuses (403) a form whose value does not match the cookie, and any post whose Origin header names another host.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from meterline.tenancy.models import Organization, User
from meterline.tenancy.sessions import LIFETIME, ConsoleSessions

COOKIE = "meterline_session"
LOGIN_COOKIE = "meterline_login"


@dataclass(frozen=True)
class ConsoleUser:
    user: User
    org: Organization
    csrf: str


def start(session: Session, user: User, now: datetime, request: Request, response: Response) -> None:
    """Start a session for `user` and put its cookie on `response`."""
    started = ConsoleSessions(session).start(user, now)
    response.set_cookie(
        COOKIE,
        started.token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(LIFETIME.total_seconds()),
    )


def read(session: Session, cookie: str | None, now: datetime) -> ConsoleUser | None:
    live = ConsoleSessions(session).live(cookie, now)
    return ConsoleUser(user=live.user, org=live.org, csrf=live.csrf) if live is not None else None


def csrf_ok(user: ConsoleUser, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(user.csrf, token or "")


# -- the sign-in form's own CSRF token (before there is a session) ----------------------------------------------
def login_token(request: Request) -> str:
    """The pre-session token of this browser: the cookie's when it has a well-formed one, else a new one."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    return current if 20 <= len(current) <= 64 and current.isascii() else secrets.token_urlsafe(24)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/login"
    )


def cross_site(request: Request) -> bool:
    """A post whose Origin header (sent by every current browser on a POST) names another host than this one.
    The host alone is compared: behind a proxy that ends TLS the scheme seen here may differ from the browser's."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def login_form_ok(request: Request, token: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return bool(cookie) and bool(token) and hmac.compare_digest(cookie, token or "")
