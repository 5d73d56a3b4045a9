from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.tenancy.models import ApiKey, InstanceSecret, Organization, User


class TenancyRepository:
    """Organizations, users, keys and instance secrets. Not org-scoped: it is what scoping starts from."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)
        self.session.flush()

    def organization(self, org_id: str) -> Organization | None:
        return self.session.get(Organization, org_id)

    def organizations(self) -> list[Organization]:
        return list(self.session.scalars(select(Organization).order_by(Organization.created_at, Organization.id)))

    def user_by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email))

    def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    def api_key(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def api_keys(self, org_id: str) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.id)))

    def secret(self, name: str) -> str:
        """The named instance secret, created on first use; concurrent first uses agree on one value."""
        row = self.session.get(InstanceSecret, name)
        if row is not None:
            return row.value
        try:
            with self.session.begin_nested():
                self.session.add(InstanceSecret(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another process created it first: use theirs
        return self.session.get(InstanceSecret, name, populate_existing=True).value  # type: ignore[union-attr]
