from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from meterline.tenancy.models import Organization


@dataclass(frozen=True)
class Context:
    """What every service call runs with: one unit of work, one organization, one `now`."""

    session: Session
    org: Organization
    now: datetime

    @property
    def org_id(self) -> str:
        return self.org.id
