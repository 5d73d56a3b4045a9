"""Organizations, keys and authentication on both engines."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from meterline.core.clock import utc_now
from meterline.core.errors import BadRequest, Conflict, Unauthorized
from meterline.tenancy import security
from meterline.tenancy.models import ApiKey
from meterline.tenancy.repository import TenancyRepository
from meterline.tenancy.service import JWT_SECRET, TenancyService


def test_keys_are_stored_hashed_and_revocable(session: Session) -> None:
    service = TenancyService(session)
    now = utc_now()
    org = service.create_organization(name="Keys Inc", now=now)
    created = service.create_api_key(org=org, now=now)
    stored = session.get(ApiKey, created.key.id)
    assert stored is not None and created.token not in (stored.token_hash, stored.prefix)
    assert service.authenticate(created.token, now).org.id == org.id
    service.revoke_api_key(org=org, key_id=created.key.id, now=now)
    with pytest.raises(Unauthorized, match="revoked"):
        service.authenticate(created.token, now)


def test_jwt_follows_its_key(session: Session) -> None:
    service = TenancyService(session)
    now = utc_now()
    org = service.create_organization(name="Jwt Inc", now=now)
    created = service.create_api_key(org=org, now=now)
    principal = service.authenticate(created.token, now)
    jwt = service.issue_jwt(principal, now=now, ttl=timedelta(hours=24))
    assert service.authenticate(jwt, now + timedelta(hours=23)).org.id == org.id
    with pytest.raises(Unauthorized, match="^The token is invalid or has expired$"):
        service.authenticate(jwt, now + timedelta(hours=24, seconds=1))
    service.revoke_api_key(org=org, key_id=created.key.id, now=now)
    with pytest.raises(Unauthorized, match="^The API key has been revoked$"):
        service.authenticate(jwt, now)


def test_a_key_is_its_whole_token_and_a_jwt_names_its_key_s_organization(session: Session) -> None:
    # Given two organizations made here, each with an API key
    service = TenancyService(session)
    now = utc_now()
    org, other = service.create_organization(name="Ours", now=now), service.create_organization(name="Theirs", now=now)
    ours, theirs = service.create_api_key(org=org, now=now), service.create_api_key(org=other, now=now)
    # A token with a real key's prefix but another secret is no key at all (nor one of the other organization's)
    mark, prefix, _secret = ours.token.split("_", 2)
    for forged in (f"{mark}_{prefix}_{'x' * 32}", f"{mark}_{prefix}_{theirs.token.split('_', 2)[2]}"):
        with pytest.raises(Unauthorized, match="^The API key is invalid$"):
            service.authenticate(forged, now)
    # A JWT signed by us for one organization's key but naming the other organization is refused
    secret = TenancyRepository(session).secret(JWT_SECRET)
    crossed = security.issue_jwt(secret, org_id=other.id, api_key_id=ours.key.id, now=now, ttl=timedelta(hours=1))
    with pytest.raises(Unauthorized, match="^The token is invalid or has expired$"):
        service.authenticate(crossed, now)
    # While each organization's own credentials answer for it
    assert service.authenticate(ours.token, now).org.id == org.id
    assert service.authenticate(theirs.token, now).org.id == other.id
    honest = security.issue_jwt(secret, org_id=org.id, api_key_id=ours.key.id, now=now, ttl=timedelta(hours=1))
    assert service.authenticate(honest, now).org.id == org.id


def test_organization_settings_are_validated(session: Session) -> None:
    service = TenancyService(session)
    now = utc_now()
    org = service.create_organization(
        name="Tz Inc", base_currency="eur", timezone="Asia/Kathmandu", net_term_days=15, now=now
    )
    assert (org.base_currency, org.timezone, org.net_term_days) == ("EUR", "Asia/Kathmandu", 15)
    for kwargs, words in (
        ({"base_currency": "EURO"}, "^base currency 'EURO' is not an ISO 4217 currency code$"),
        ({"timezone": "Nowhere/City"}, "^timezone 'Nowhere/City' is not an IANA time zone name"),
        ({"net_term_days": -1}, "^net term days"),
        ({"name": " "}, "^Organization name must be 1 to 255 characters$"),
    ):
        with pytest.raises(BadRequest, match=words):
            service.create_organization(**{"name": "Bad", "now": now, **kwargs})  # type: ignore[arg-type]


def test_users_have_unique_emails_and_argon2_passwords(session: Session) -> None:
    service = TenancyService(session)
    now = utc_now()
    org = service.create_organization(name="Users Inc", now=now)
    email = f"ops+{org.id[-8:]}@users.test"
    user = service.create_user(org=org, email=email.upper(), password="long enough", now=now)
    assert user.email == email and user.password_hash.startswith("$argon2")
    assert service.check_password(email, "long enough") == user
    assert service.check_password(email, "wrong") is None
    with pytest.raises(Conflict, match=f"^A user with email {re.escape(email)} already exists$"):
        service.create_user(org=org, email=email, password="long enough", now=now)
    with pytest.raises(BadRequest, match="^A password needs at least 8 characters$"):
        service.create_user(org=org, email="other@users.test", password="short", now=now)
