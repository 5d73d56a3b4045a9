from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterline.core.repository import OrgRepository
from meterline.portal.models import PortalToken
from meterline.tenancy.models import Organization


class PortalRepository(OrgRepository):
    """The organization's delegate tokens (writes)."""

    def forget_expired(self, before: datetime) -> None:
        """Delete the organization's tokens that expired before `before`."""
        self.session.execute(
            delete(PortalToken).where(PortalToken.org_id == self.org_id, PortalToken.expires_at < before)
        )


def token_and_org(session: Session, prefix: str) -> tuple[PortalToken, Organization] | None:
    """The token with this lookup prefix and its organization, whatever the organization: opening the portal is where
    scoping starts from (as an API key's lookup is), so this one read is not org-scoped."""
    row = session.execute(
        select(PortalToken, Organization)
        .join(Organization, Organization.id == PortalToken.org_id)
        .where(PortalToken.prefix == prefix)
    ).first()
    return (row[0], row[1]) if row is not None else None
