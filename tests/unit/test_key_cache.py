"""The cache of verified API keys (tenancy/key_cache.py): what it gives back, and for how long. The two-process
revocation bound is tests/api/test_key_revocation.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import inspect

from meterline.tenancy import key_cache
from meterline.tenancy.key_cache import TTL, VerifiedKeys
from meterline.tenancy.models import Organization
from meterline.tenancy.service import Principal

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def principal(token: str = "mlk_abc_secret", expires_at: datetime | None = None) -> Principal:  # noqa: S107 - a test token
    org = Organization(
        id="org.1",
        name="Acme",
        base_currency="EUR",
        timezone="Europe/Paris",
        net_term_days=15,
        created_at=NOW,
        updated_at=NOW,
    )
    return Principal(org=org, api_key_id="key.1", token=token, expires_at=expires_at)


def test_a_verified_key_lives_ttl_from_before_its_read_then_is_verified_again() -> None:
    clock = Clock()
    keys = VerifiedKeys(clock=clock)
    assert TTL <= 0.5
    assert keys.get("mlk_abc_secret", NOW) is None  # never verified
    read_from = clock()
    clock.now += 0.3  # the database's answer took a while: the entry still ends TTL after the read started
    keys.put("mlk_abc_secret", principal(), read_from)
    found = keys.get("mlk_abc_secret", NOW)
    assert found is not None and found.api_key_id == "key.1" and found.token == "mlk_abc_secret"
    clock.now = read_from + TTL - 0.001
    assert keys.get("mlk_abc_secret", NOW) is not None
    clock.now = read_from + TTL
    assert keys.get("mlk_abc_secret", NOW) is None
    assert keys.get("mlk_abc_secret", NOW) is None  # gone, not revived


def test_each_hit_gets_its_own_detached_organization_with_the_values_read() -> None:
    keys = VerifiedKeys(clock=Clock())
    keys.put("mlk_abc_secret", principal(), 1000.0)
    one, two = keys.get("mlk_abc_secret", NOW), keys.get("mlk_abc_secret", NOW)
    assert one is not None and two is not None and one.org is not two.org
    for org in (one.org, two.org):
        assert inspect(org).detached
        assert (org.id, org.name, org.base_currency, org.timezone, org.net_term_days) == (
            "org.1",
            "Acme",
            "EUR",
            "Europe/Paris",
            15,
        )
    one.org.name = "Changed by a request"
    again = keys.get("mlk_abc_secret", NOW)
    assert again is not None and again.org.name == "Acme"


def test_another_token_is_not_found_and_no_token_is_kept() -> None:
    keys = VerifiedKeys(clock=Clock())
    keys.put("mlk_abc_secret", principal(), 1000.0)
    assert keys.get("mlk_abc_secreT", NOW) is None
    assert keys.get("mlk_abc", NOW) is None
    assert all("secret" not in digest for digest in keys._entries)  # SHA-256 digests only


def test_a_jwt_entry_ends_at_the_jwt_expiry() -> None:
    keys = VerifiedKeys(clock=Clock())
    expiry = NOW + timedelta(seconds=5)
    keys.put("eyJ.a.b", principal("eyJ.a.b", expires_at=expiry), 1000.0)
    found = keys.get("eyJ.a.b", expiry - timedelta(microseconds=1))
    assert found is not None and found.expires_at == expiry
    assert keys.get("eyJ.a.b", expiry) is None


def test_past_the_limit_expired_entries_go_then_all() -> None:
    clock = Clock()
    keys = VerifiedKeys(clock=clock)
    limit = key_cache.MAX_ENTRIES
    for n in range(limit):
        keys.put(f"mlk_{n}_old", principal(f"mlk_{n}_old"), clock() - 1)  # already expired
    keys.put("mlk_new_1", principal("mlk_new_1"), clock())
    assert len(keys._entries) == 1 and keys.get("mlk_new_1", NOW) is not None
    for n in range(limit - 1):
        keys.put(f"mlk_{n}_live", principal(f"mlk_{n}_live"), clock())
    keys.put("mlk_new_2", principal("mlk_new_2"), clock())  # all live: all go, the new one stays
    assert len(keys._entries) == 1 and keys.get("mlk_new_2", NOW) is not None
