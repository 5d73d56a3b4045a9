"""Organizations, users, API keys and authentication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from meterline.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from meterline.core.ids import new_id
from meterline.core.money import is_currency
from meterline.tenancy import security
from meterline.tenancy.models import ApiKey, Organization, User
from meterline.tenancy.repository import TenancyRepository

JWT_SECRET = "jwt-signing-key"  # nosec B105 - the name of the secret's row; the key itself is random
ROLES = ("ADMIN", "MEMBER")
_EMAIL = re.compile(r"^\S+@\S+\.\S+$")


@dataclass(frozen=True)
class Principal:
    org: Organization
    api_key_id: str
    token: str


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
        if net_term_days < 0:
            raise BadRequest("net term days must be 0 or more")
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

    def default_organization(self, now: datetime) -> Organization:
        """The oldest organization, created (as 'Default') when there is none."""
        orgs = self.repo.organizations()
        return orgs[0] if orgs else self.create_organization(name="Default", now=now)

    def resolve_organization(self, org_id: str | None, now: datetime) -> Organization:
        return self.organization(org_id) if org_id else self.default_organization(now)

    # -- users -----------------------------------------------------------------------------------------------
    def create_user(
        self, *, org: Organization, email: str, password: str, now: datetime, name: str | None = None,
        role: str = "ADMIN",
    ) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email) or len(email) > 320:
            raise BadRequest(f"{email!r} is not an email address")
        if len(password) < 8:
            raise BadRequest("A password needs at least 8 characters")
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        if self.repo.user_by_email(email) is not None:
            raise Conflict(f"A user with email {email} already exists")
        user = User(
            id=new_id("user"),
            org_id=org.id,
            email=email,
            name=(name or email.split("@")[0]).strip(),
            role=role,
            password_hash=security.hash_password(password),
            created_at=now,
        )
        self.repo.add(user)
        return user

    def check_password(self, email: str, password: str) -> User | None:
        user = self.repo.user_by_email(email.strip().lower())
        if user is None or not security.verify_password(password, user.password_hash):
            return None
        return user

    # -- API keys --------------------------------------------------------------------------------------------
    def create_api_key(self, *, org: Organization, now: datetime, name: str = "default") -> CreatedApiKey:
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
        if security.looks_like_jwt(token):
            claims = security.read_jwt(self.repo.secret(JWT_SECRET), token, now=now)
            key = self.repo.api_key(claims["sub"]) if claims else None
            if key is None or key.org_id != claims["org"]:  # type: ignore[index]
                raise Unauthorized("The token is invalid or has expired")
        else:
            prefix = security.token_prefix(token)
            key = self.repo.api_key_by_prefix(prefix) if prefix else None
            if key is None or not security.token_matches(token, key.token_hash):
                raise Unauthorized("The API key is invalid")
        if key.revoked_at is not None:
            raise Unauthorized("The API key has been revoked")
        return Principal(org=self.organization(key.org_id), api_key_id=key.id, token=token)

    def issue_jwt(self, principal: Principal, *, now: datetime, ttl: timedelta) -> str:
        """`POST /authenticate`: a JWT for an API key; a JWT is echoed back (Togai's behaviour)."""
        if security.looks_like_jwt(principal.token):
            return principal.token
        return security.issue_jwt(
            self.repo.secret(JWT_SECRET), org_id=principal.org.id, api_key_id=principal.api_key_id, now=now, ttl=ttl
        )
