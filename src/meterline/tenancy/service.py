"""Organizations, users, API keys and authentication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from meterline.core import numbers
from meterline.core.clock import UTC
from meterline.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from meterline.core.ids import new_id
from meterline.core.money import is_currency
from meterline.tenancy import security
from meterline.tenancy.models import ApiKey, Organization, User
from meterline.tenancy.repository import TenancyRepository

JWT_SECRET = "jwt-signing-key"  # noqa: S105  # nosec B105 - the name of the secret's row; the key itself is random
ROLES = ("ADMIN", "MEMBER")
_EMAIL = re.compile(r"^\S+@\S+\.\S+$")


class InvalidUser(BadRequest):
    """A new user's field that is not right: `field` names it (email, name, password or role)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _check_new_password(password: str, field: str = "password") -> None:
    if len(password) < 8:
        raise InvalidUser(field, "A password needs at least 8 characters")
    if len(password) > 1024:
        raise InvalidUser(field, "A password has at most 1024 characters")


@dataclass(frozen=True)
class Principal:
    org: Organization
    api_key_id: str
    token: str
    expires_at: datetime | None = None  # a JWT's expiry (an API key has none)


@dataclass(frozen=True)
class CreatedApiKey:
    key: ApiKey
    token: str


class TenancyService:
    def __init__(self, session: Session) -> None:
        self.repo = TenancyRepository(session)

    # -- organizations ---------------------------------------------------------------------------------------
    def create_organization(
        self,
        *,
        name: str,
        now: datetime,
        base_currency: str = "USD",
        timezone: str = "UTC",
        net_term_days: int = 0,
    ) -> Organization:
        name = name.strip()
        if not 1 <= len(name) <= 255:
            raise BadRequest("Organization name must be 1 to 255 characters")
        base_currency = base_currency.upper()
        if not is_currency(base_currency):
            raise BadRequest(f"base currency {base_currency!r} is not an ISO 4217 currency code")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(f"timezone {timezone!r} is not an IANA time zone name (e.g. UTC, Asia/Kolkata)") from None
        try:  # the bound every entry point shares (core/numbers.py): a due date must stay a date
            numbers.check_days(net_term_days, "net term days")
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        org = Organization(
            id=new_id("org"),
            name=name,
            base_currency=base_currency,
            timezone=timezone,
            net_term_days=net_term_days,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(org)
        return org

    def organization(self, org_id: str) -> Organization:
        org = self.repo.organization(org_id)
        if org is None:
            raise NotFound(f"Organization {org_id} not found")
        return org

    def organizations(self) -> list[Organization]:
        return self.repo.organizations()

    def rename_organization(self, org: Organization, name: str, now: datetime) -> Organization:
        """The name is the only field that changes: the currency, timezone and net terms shape billing cycles."""
        name = name.strip()
        if not 1 <= len(name) <= 255:
            raise BadRequest("Organization name must be 1 to 255 characters")
        org.name = name
        org.updated_at = now
        return org

    def default_organization(self, now: datetime) -> Organization:
        """The oldest organization, created (as 'Default') when there is none."""
        orgs = self.repo.organizations()
        return orgs[0] if orgs else self.create_organization(name="Default", now=now)

    def resolve_organization(self, org_id: str | None, now: datetime) -> Organization:
        return self.organization(org_id) if org_id else self.default_organization(now)

    # -- users -----------------------------------------------------------------------------------------------
    def create_user(
        self,
        *,
        org: Organization,
        email: str,
        password: str,
        now: datetime,
        name: str | None = None,
        role: str = "ADMIN",
    ) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email) or len(email) > 320:
            raise InvalidUser("email", f"{email!r} is not an email address")
        if name is not None and len(name.strip()) > 255:
            raise InvalidUser("name", "A name has at most 255 characters")
        _check_new_password(password)
        if role not in ROLES:
            raise InvalidUser("role", f"role must be one of {', '.join(ROLES)}")
        if self.repo.user_by_email(email) is not None:
            raise Conflict(f"A user with email {email} already exists")
        user = User(
            id=new_id("user"),
            org_id=org.id,
            email=email,
            name=(name or "").strip() or email.split("@")[0],
            role=role,
            password_hash=security.hash_password(password),
            created_at=now,
        )
        self.repo.add(user)
        return user

    def users(self, org: Organization) -> list[User]:
        return self.repo.users(org.id)

    def remove_user(self, *, org: Organization, user_id: str, by: User) -> User:
        """Remove a user of the organization and every console session of theirs; nobody removes themselves, so
        an organization always keeps the admin who removes the others."""
        user = self.repo.user(user_id)
        if user is None or user.org_id != org.id:
            raise NotFound(f"User {user_id} not found")
        if user.id == by.id:
            raise BadRequest("You cannot remove yourself: ask another admin")
        self.repo.forget_sessions(user.id)
        self.repo.delete(user)
        return user

    def user_by_email(self, email: str) -> User:
        user = self.repo.user_by_email(email.strip().lower())
        if user is None:
            raise NotFound(f"No user has the email {email.strip()!r}")
        return user

    def check_password(self, email: str, password: str) -> User | None:
        """The user with this email and password, else None. An unknown email costs the same argon2 work as a
        known one (a check against a dummy hash), so the time of the answer does not tell which emails exist."""
        user = self.repo.user_by_email(email.strip().lower())
        if user is None:
            security.verify_password(password, security.dummy_password_hash())
            return None
        return user if security.verify_password(password, user.password_hash) else None

    def set_password(self, user: User, new_password: str, now: datetime) -> User:
        """A new password (`meterline user set-password`, or `change_password`); every console session of the user
        ends."""
        _check_new_password(new_password, "new_password")
        user.password_hash = security.hash_password(new_password)
        self.repo.end_sessions(user.id, now)
        return user

    def change_password(self, user: User, *, current_password: str, new_password: str, now: datetime) -> User:
        """The signed-in user's change: the current password first."""
        if not security.verify_password(current_password, user.password_hash):
            raise InvalidUser("current_password", "That is not your current password")
        return self.set_password(user, new_password, now)

    def end_sessions(self, user: User, now: datetime) -> int:
        """Sign the user out everywhere (the console's "Sign out")."""
        return self.repo.end_sessions(user.id, now)

    # -- API keys --------------------------------------------------------------------------------------------
    def create_api_key(self, *, org: Organization, now: datetime, name: str = "default") -> CreatedApiKey:
        if len(name.strip()) > 255:
            raise BadRequest("An API key's name has at most 255 characters")
        new = security.new_api_token()
        key = ApiKey(
            id=new_id("key"),
            org_id=org.id,
            name=name.strip() or "default",
            prefix=new.prefix,
            token_hash=new.token_hash,
            created_at=now,
            revoked_at=None,
        )
        self.repo.add(key)
        return CreatedApiKey(key=key, token=new.token)

    def api_keys(self, org: Organization) -> list[ApiKey]:
        return self.repo.api_keys(org.id)

    def revoke_api_key(self, *, org: Organization, key_id: str, now: datetime) -> ApiKey:
        key = self.repo.api_key(key_id)
        if key is None or key.org_id != org.id:
            raise NotFound(f"API key {key_id} not found")
        if key.revoked_at is None:
            key.revoked_at = now
        return key

    # -- authentication --------------------------------------------------------------------------------------
    def authenticate(self, token: str | None, now: datetime) -> Principal:
        """An API key or a JWT from `issue_jwt`; the key behind either must exist and not be revoked."""
        if not token:
            raise Unauthorized("Missing credentials: send 'Authorization: Bearer <API key>'")
        expires_at = None
        if security.looks_like_jwt(token):
            claims = security.read_jwt(self.repo.secret(JWT_SECRET), token, now=now)
            found = self.repo.api_key_and_org(key_id=claims["sub"]) if claims else None
            if found is None or found[0].org_id != claims["org"]:  # type: ignore[index]
                raise Unauthorized("The token is invalid or has expired")
            expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)  # type: ignore[index]
        else:
            prefix = security.token_prefix(token)
            found = self.repo.api_key_and_org(prefix=prefix) if prefix else None
            if found is None or not security.token_matches(token, found[0].token_hash):
                raise Unauthorized("The API key is invalid")
        key, org = found
        if key.revoked_at is not None:
            raise Unauthorized("The API key has been revoked")
        return Principal(org=org, api_key_id=key.id, token=token, expires_at=expires_at)

    def issue_jwt(self, principal: Principal, *, now: datetime, ttl: timedelta) -> str:
        """`POST /authenticate`: a JWT for an API key; a JWT is echoed back (Togai's behaviour)."""
        if security.looks_like_jwt(principal.token):
            return principal.token
        return security.issue_jwt(
            self.repo.secret(JWT_SECRET), org_id=principal.org.id, api_key_id=principal.api_key_id, now=now, ttl=ttl
        )
