from __future__ import annotations

import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.tenancy.models import ApiKey, InstanceSecret, Organization, User

_KEY_AND_ORG = select(ApiKey, Organization).join(Organization, Organization.id == ApiKey.org_id)
_KEY_AND_ORG_BY_PREFIX = _KEY_AND_ORG.where(ApiKey.prefix == bindparam("prefix"))
_KEY_AND_ORG_BY_ID = _KEY_AND_ORG.where(ApiKey.id == bindparam("key_id"))


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

    def delete(self, obj: object) -> None:
        self.session.delete(obj)
        self.session.flush()

    def user(self, user_id: str) -> User | None:
        return self.session.get(User, user_id)

    def users(self, org_id: str) -> list[User]:
        return list(self.session.scalars(select(User).where(User.org_id == org_id).order_by(User.created_at, User.id)))

    def user_by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email))

    def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    def api_key_and_org(self, *, prefix: str | None = None, key_id: str | None = None) -> tuple[ApiKey, Organization] | None:
        """The key (by its lookup prefix or its id) and its organization, in one query: every API request asks.
        The statements are built once (building one costs more than running it on SQLite)."""
        if prefix is not None:
            row = self.session.execute(_KEY_AND_ORG_BY_PREFIX, {"prefix": prefix}).first()
        else:
            row = self.session.execute(_KEY_AND_ORG_BY_ID, {"key_id": key_id}).first()
        return (row[0], row[1]) if row is not None else None

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
