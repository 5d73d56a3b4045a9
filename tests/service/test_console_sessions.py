"""Console sessions, the sign-in throttle and constant-time sign-in, on both engines (issue 14, defect 6).

No test here measures time: the throttle takes `now` as an argument, and constant-time sign-in is checked by
counting the argon2 verifications the real hasher does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy.orm import Session

from meterline.core.clock import utc_now
from meterline.tenancy import security
from meterline.tenancy.models import ConsoleSession, Organization, User
from meterline.tenancy.service import InvalidUser, TenancyService
from meterline.tenancy.sessions import LIFETIME, ConsoleSessions, LoginThrottle, ThrottleRules

RULES = ThrottleRules(per_email=5, per_address=20, window=timedelta(minutes=15))


def _user(session: Session, org: Organization, password: str = "long enough", role: str = "ADMIN") -> User:  # noqa: S107
    return TenancyService(session).create_user(
        org=org, email=f"u-{secrets.token_hex(4)}@sessions.test", password=password, now=utc_now(), role=role
    )


def test_a_session_is_live_until_it_expires_or_is_ended(session: Session, org: Organization) -> None:
    now = utc_now()
    user = _user(session, org)
    sessions = ConsoleSessions(session)
    started = sessions.start(user, now)
    other = sessions.start(user, now)
    stored = session.get(ConsoleSession, started.token)
    assert stored is None  # the token itself is not the key: only its hash is stored
    live = sessions.live(started.token, now + LIFETIME - timedelta(seconds=1))
    assert live is not None and live.user.id == user.id and live.org.id == org.id and live.csrf == started.csrf
    assert sessions.live(started.token, now + LIFETIME) is None  # expired
    assert sessions.live(started.token + "x", now) is None and sessions.live(None, now) is None

    assert TenancyService(session).end_sessions(user, now) == 2  # sign-out ends every session of the user
    assert sessions.live(started.token, now) is None and sessions.live(other.token, now) is None


def test_a_new_password_ends_every_session(session: Session, org: Organization) -> None:
    now = utc_now()
    user = _user(session, org)
    service, sessions = TenancyService(session), ConsoleSessions(session)
    before = sessions.start(user, now)
    with pytest.raises(InvalidUser) as wrong:
        service.change_password(user, current_password="not it at all", new_password="new and long", now=now)
    assert wrong.value.field == "current_password" and sessions.live(before.token, now) is not None
    with pytest.raises(InvalidUser) as short:
        service.change_password(user, current_password="long enough", new_password="short", now=now)
    assert short.value.field == "new_password" and sessions.live(before.token, now) is not None

    service.change_password(user, current_password="long enough", new_password="new and long", now=now)
    assert sessions.live(before.token, now) is None
    assert service.check_password(user.email, "long enough") is None
    assert service.check_password(user.email, "new and long") == user

    again = sessions.start(user, now)
    service.set_password(user, "set by the operator", now)  # `meterline user set-password`
    assert sessions.live(again.token, now) is None


def test_removing_a_user_removes_their_sessions(session: Session, org: Organization) -> None:
    now = utc_now()
    admin, member = _user(session, org), _user(session, org, role="MEMBER")
    started = ConsoleSessions(session).start(member, now)
    TenancyService(session).remove_user(org=org, user_id=member.id, by=admin)
    assert ConsoleSessions(session).live(started.token, now) is None
    assert session.query(ConsoleSession).filter(ConsoleSession.user_id == member.id).count() == 0


def test_the_throttle_counts_failures_in_the_window(session: Session) -> None:
    now = utc_now()
    throttle = LoginThrottle(session, RULES)
    email, address = f"x-{secrets.token_hex(4)}@throttle.test", f"198.51.100.{secrets.randbelow(250)}"
    for i in range(5):
        assert throttle.retry_after(email, address, now + timedelta(minutes=i)) is None
        throttle.failed(email, address, now + timedelta(minutes=i))
    # The 6th try, at minute 5: refused until the first failure (minute 0) leaves the 15-minute window.
    assert throttle.retry_after(email, address, now + timedelta(minutes=5)) == 10 * 60
    assert throttle.retry_after(email.upper(), address, now + timedelta(minutes=5)) == 10 * 60  # the same email
    assert throttle.retry_after(email, address, now + timedelta(minutes=15, seconds=1)) is None
    # Another email from the same address is heard (5 of its 20), and a success forgets the email's failures.
    assert throttle.retry_after("other@throttle.test", address, now + timedelta(minutes=5)) is None
    throttle.succeeded(email)
    assert throttle.retry_after(email, address, now + timedelta(minutes=5)) is None


def test_the_throttle_counts_per_address(session: Session) -> None:
    now = utc_now()
    throttle = LoginThrottle(session, RULES)
    address = f"203.0.113.{secrets.randbelow(250)}-{secrets.token_hex(3)}"
    for i in range(20):  # 20 emails, one failure each: no email reaches its limit, the address does
        throttle.failed(f"guess{i}@throttle.test", address, now)
    assert throttle.retry_after("fresh@throttle.test", address, now + timedelta(seconds=30)) == 15 * 60 - 30
    assert throttle.retry_after("fresh@throttle.test", "another address", now) is None


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A spy on the real argon2 hasher: every verification still runs, and the hash it checked is recorded."""
    seen: list[str] = []
    real: Callable[..., Any] = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return seen


def test_an_unknown_email_costs_the_same_argon2_work(
    session: Session, org: Organization, verifications: list[str]
) -> None:
    user = _user(session, org)
    service = TenancyService(session)
    assert service.check_password(user.email, "a wrong password") is None
    assert verifications == [user.password_hash]  # a known email: one verification, of the user's hash
    verifications.clear()
    assert service.check_password(f"nobody-{secrets.token_hex(4)}@sessions.test", "a wrong password") is None
    assert len(verifications) == 1  # an unknown email: one verification too, of a dummy hash of the same cost
    assert verifications[0].startswith("$argon2") and verifications[0] == security.dummy_password_hash()
    assert extract_parameters(verifications[0]) == extract_parameters(user.password_hash)
