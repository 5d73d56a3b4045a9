from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from meterline.core.repository import OrgRepository
from meterline.portal.models import PortalToken
from meterline.tenancy.models import ApiKey, Organization, User


@dataclass(frozen=True)
class Found:
    """A token looked up by its prefix, its organization, and whether its issuer still stands."""

    token: PortalToken
    org: Organization
    issuer_live: bool


@dataclass(frozen=True)
class Listed:
    """A live token as the console lists it, with its issuer's name (None: unknown, issued before migration 0018)."""

    token: PortalToken
    key_name: str | None
    user_name: str | None


class PortalRepository(OrgRepository):
    """The organization's delegate tokens."""

    def forget_expired(self, before: datetime) -> int:
        """Delete the organization's tokens that expired before `before` (index org_id, expires_at)."""
        result = self.session.execute(
            delete(PortalToken).where(PortalToken.org_id == self.org_id, PortalToken.expires_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _live(self, stmt: Any, customer_pk: str, now: datetime) -> Any:
        """The customer's tokens that open something: not expired, their issuer standing (as `token_and_org`)."""
        return (
            stmt.outerjoin(ApiKey, ApiKey.id == PortalToken.issued_by_key)
            .outerjoin(User, User.id == PortalToken.issued_by_user)
            .where(
                PortalToken.org_id == self.org_id,
                PortalToken.customer_pk == customer_pk,
                PortalToken.expires_at > now,
                or_(PortalToken.issued_by_key.is_(None), and_(ApiKey.id.is_not(None), ApiKey.revoked_at.is_(None))),
                or_(PortalToken.issued_by_user.is_(None), User.id.is_not(None)),
            )
        )

    def count_live(self, customer_pk: str, now: datetime) -> int:
        stmt = self._live(select(func.count()).select_from(PortalToken), customer_pk, now)
        return int(self.session.scalar(stmt) or 0)

    def live(self, customer_pk: str, now: datetime, limit: int) -> list[Listed]:
        """The customer's live tokens, newest first, with the names of their issuers."""
        stmt = (
            self._live(select(PortalToken, ApiKey.name, User.name), customer_pk, now)
            .order_by(PortalToken.created_at.desc(), PortalToken.pk.desc())
            .limit(limit)
        )
        return [Listed(row[0], row[1], row[2]) for row in self.session.execute(stmt)]

    def revoke(self, customer_pk: str, token_pk: str | None = None) -> int:
        """Delete one token of the customer (`token_pk`), or all of them: how many were deleted."""
        stmt = delete(PortalToken).where(PortalToken.org_id == self.org_id, PortalToken.customer_pk == customer_pk)
        if token_pk is not None:
            stmt = stmt.where(PortalToken.pk == token_pk)
        return int(getattr(self.session.execute(stmt), "rowcount", 0) or 0)


def token_and_org(session: Session, prefix: str) -> Found | None:
    """The token with this lookup prefix, its organization and whether its issuer stands (its API key exists and is
    not revoked, its console user exists), whatever the organization, in one query: opening the portal is where
    scoping starts from (as an API key's lookup is), so this one read is not org-scoped."""
    row = session.execute(
        select(PortalToken, Organization, ApiKey.id, ApiKey.revoked_at, User.id)
        .join(Organization, Organization.id == PortalToken.org_id)
        .outerjoin(ApiKey, ApiKey.id == PortalToken.issued_by_key)
        .outerjoin(User, User.id == PortalToken.issued_by_user)
        .where(PortalToken.prefix == prefix)
    ).first()
    if row is None:
        return None
    token, org, key_id, key_revoked_at, user_id = row
    key_stands = token.issued_by_key is None or (key_id is not None and key_revoked_at is None)
    user_stands = token.issued_by_user is None or user_id is not None
    return Found(token, org, key_stands and user_stands)
