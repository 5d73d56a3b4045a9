from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterline.core.repository import OrgRepository
from meterline.portal.models import PortalToken
from meterline.tenancy.models import Organization


class PortalRepository(OrgRepository):
    """The organization's delegate tokens (writes)."""


def token_and_org(session: Session, prefix: str) -> tuple[PortalToken, Organization] | None:
    """The token with this lookup prefix and its organization, whatever the organization: opening the portal is where
    scoping starts from (as an API key's lookup is), so this one read is not org-scoped."""
    row = session.execute(
        select(PortalToken, Organization)
        .join(Organization, Organization.id == PortalToken.org_id)
        .where(PortalToken.prefix == prefix)
    ).first()
    return (row[0], row[1]) if row is not None else None
