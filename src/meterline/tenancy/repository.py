from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.tenancy.models import ApiKey, ConsoleSession, InstanceSecret, LoginFailure, Organization, User

_KEY_AND_ORG = select(ApiKey, Organization).join(Organization, Organization.id == ApiKey.org_id)
_KEY_AND_ORG_BY_PREFIX = _KEY_AND_ORG.where(ApiKey.prefix == bindparam("prefix"))
_KEY_AND_ORG_BY_ID = _KEY_AND_ORG.where(ApiKey.id == bindparam("key_id"))
_SESSION_USER_ORG = (
    select(ConsoleSession, User, Organization)
    .join(User, User.id == ConsoleSession.user_id)
    .join(Organization, Organization.id == User.org_id)
    .where(ConsoleSession.id == bindparam("session_id"))
)


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

    def api_key_and_org(
        self, *, prefix: str | None = None, key_id: str | None = None
    ) -> tuple[ApiKey, Organization] | None:
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

    # -- console sessions and login failures (tenancy/sessions.py) -----------------------------------------------
    def console_session(self, session_id: str) -> tuple[ConsoleSession, User, Organization] | None:
        """The session with this id (the hash of its token), its user and organization, in one query."""
        row = self.session.execute(_SESSION_USER_ORG, {"session_id": session_id}).first()
        return (row[0], row[1], row[2]) if row is not None else None

    def end_sessions(self, user_id: str, now: datetime) -> int:
        """Revoke every live session of the user; the number revoked."""
        result = self.session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self.session.flush()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def forget_sessions(self, user_id: str, *, ended_before: datetime | None = None) -> None:
        """Delete the user's sessions (all of them, or those revoked or expired before `ended_before`)."""
        statement = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
        if ended_before is not None:
            statement = statement.where(
                (ConsoleSession.expires_at < ended_before) | (ConsoleSession.revoked_at < ended_before)
            )
        self.session.execute(statement)

    def lock_login_keys(self, keys: list[str]) -> None:
        """Serialize the sign-ins of these keys (an email, an address) until the transaction ends: the throttle's
        count, the password check and the failure it records happen one sign-in at a time, in every process
        (PostgreSQL advisory locks, in sorted order; SQLite's writers already run one at a time)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):
            lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
            self.session.execute(lock, {"key": "login:" + key})

    def login_failures_since(self, key: str, since: datetime) -> list[datetime]:
        """When each failure of `key` after `since` happened, oldest first."""
        return list(
            self.session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.key == key, LoginFailure.at > since)
                .order_by(LoginFailure.at)
            )
        )

    def add_login_failures(self, keys: list[str], at: datetime) -> None:
        self.session.add_all([LoginFailure(key=key, at=at) for key in keys])
        self.session.flush()

    def forget_login_failures(self, *, key: str | None = None, before: datetime | None = None) -> None:
        """Delete the failures of one key, or every failure older than `before`."""
        statement = delete(LoginFailure)
        if key is not None:
            statement = statement.where(LoginFailure.key == key)
        if before is not None:
            statement = statement.where(LoginFailure.at < before)
        self.session.execute(statement)
