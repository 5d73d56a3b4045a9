"""Console sessions kept in the database, and the throttle of failed sign-ins (issue 14).

Sessions: the browser's cookie holds a random token (256 bits); the table keeps only its SHA-256 (the session's
id), the user, its CSRF token, when it started and expires, and when it was revoked. Every request looks the session
up, so ending it takes effect at the next request of every process. `TenancyService` ends every session of a user
when they sign out, change their password, or are removed.

Throttle: each failed sign-in is a row per key, one for the email typed and one for the client's address (both as
SHA-256, so the table holds no addresses in clear). A key with `limit` failures inside the window is refused until
the oldest of them leaves the window. The rows are in the database, so every server process (and every replica on
PostgreSQL) counts alike. A successful sign-in forgets the email's failures, not the address's.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from meterline.tenancy.models import ConsoleSession, Organization, User
from meterline.tenancy.repository import TenancyRepository

LIFETIME = timedelta(hours=12)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class StartedSession:
    token: str  # for the cookie; never stored
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class LiveSession:
    id: str
    user: User
    org: Organization
    csrf: str


class ConsoleSessions:
    def __init__(self, session: Session) -> None:
        self.repo = TenancyRepository(session)

    def start(self, user: User, now: datetime) -> StartedSession:
        """A new session for a user who just proved who they are (a fresh token: no session fixation)."""
        self.repo.forget_sessions(user.id, ended_before=now)  # the user's old ended sessions are not kept
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires_at = now + LIFETIME
        self.repo.add(
            ConsoleSession(
                id=_digest(token),
                org_id=user.org_id,
                user_id=user.id,
                csrf=csrf,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        return StartedSession(token=token, csrf=csrf, expires_at=expires_at)

    def live(self, token: str | None, now: datetime) -> LiveSession | None:
        """The session a cookie names, if it exists, is not revoked and has not expired."""
        if not token or len(token) > 200:
            return None
        found = self.repo.console_session(_digest(token))
        if found is None:
            return None
        row, user, org = found
        if row.revoked_at is not None or row.expires_at <= now or user.org_id != row.org_id:
            return None
        return LiveSession(id=row.id, user=user, org=org, csrf=row.csrf)


@dataclass(frozen=True)
class ThrottleRules:
    per_email: int  # failures of one email within the window before it is refused; 0: no limit
    per_address: int  # the same, per client address
    window: timedelta


class LoginThrottle:
    def __init__(self, session: Session, rules: ThrottleRules) -> None:
        self.repo = TenancyRepository(session)
        self.rules = rules

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        return [
            (_digest("email:" + email.strip().lower()), self.rules.per_email),
            (_digest("address:" + address), self.rules.per_address),
        ]

    def retry_after(self, email: str, address: str, now: datetime) -> int | None:
        """Seconds until a sign-in of this email from this address is heard again; None if it is now. Sign-ins of
        the same email or address take turns from here to the end of the transaction (which records the failure),
        so simultaneous tries cannot all slip under the limit."""
        self.repo.lock_login_keys([key for key, limit in self._keys(email, address) if limit > 0])
        wait = timedelta(0)
        for key, limit in self._keys(email, address):
            if limit <= 0:
                continue
            failures = self.repo.login_failures_since(key, now - self.rules.window)
            if len(failures) >= limit:
                # Heard again once enough of the failures have left the window to be under the limit.
                wait = max(wait, failures[len(failures) - limit] + self.rules.window - now)
        return max(1, math.ceil(wait.total_seconds())) if wait > timedelta(0) else None

    def failed(self, email: str, address: str, now: datetime) -> None:
        self.repo.forget_login_failures(before=now - self.rules.window)  # what no longer counts
        self.repo.add_login_failures([key for key, _limit in self._keys(email, address)], now)

    def succeeded(self, email: str) -> None:
        self.repo.forget_login_failures(key=_digest("email:" + email.strip().lower()))
