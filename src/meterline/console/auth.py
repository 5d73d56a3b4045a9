"""Console sessions: a signed, expiring cookie (a JWT with our own key) naming the user, with a CSRF token.

- The cookie is HttpOnly, SameSite=Lax, and Secure when the console is served over HTTPS.
- Every form carries the session's CSRF token in a hidden field; a POST whose token does not match the cookie's is
  refused (403). SameSite alone would not cover older browsers or same-site subdomains.
- Sessions last 12 hours; logging out deletes the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from meterline.tenancy.models import Organization, User
from meterline.tenancy.repository import TenancyRepository

COOKIE = "meterline_session"
SECRET_NAME = "console-session-key"  # noqa: S105  # nosec B105 - the name of the secret's row; the key itself is random
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class ConsoleUser:
    user: User
    org: Organization
    csrf: str


def issue(session: Session, user: User, now: datetime) -> str:
    claims = {"iss": "meterline-console", "sub": user.id, "org": user.org_id, "csrf": secrets.token_urlsafe(24),
              "iat": now, "exp": now + LIFETIME}
    return jwt.encode(claims, TenancyRepository(session).secret(SECRET_NAME), algorithm="HS256")


def read(session: Session, cookie: str | None, now: datetime) -> ConsoleUser | None:
    if not cookie:
        return None
    try:
        claims = jwt.decode(cookie, TenancyRepository(session).secret(SECRET_NAME), algorithms=["HS256"],
                            issuer="meterline-console", options={"verify_exp": False})
    except jwt.PyJWTError:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        return None
    user = session.get(User, claims.get("sub"))
    if user is None or user.org_id != claims.get("org"):
        return None
    org = session.get(Organization, user.org_id)
    return ConsoleUser(user=user, org=org, csrf=str(claims.get("csrf", ""))) if org else None


def csrf_ok(user: ConsoleUser, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(user.csrf, token or "")
