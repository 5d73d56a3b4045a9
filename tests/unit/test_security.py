from __future__ import annotations

from datetime import datetime, timedelta, timezone

from meterline.tenancy import security

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SECRET = "a-test-secret-of-at-least-32-bytes-long"


def test_api_tokens_are_verified_by_hash_and_prefix() -> None:
    new = security.new_api_token()
    assert security.token_prefix(new.token) == new.prefix
    assert security.token_matches(new.token, new.token_hash)
    assert not security.token_matches(new.token + "x", new.token_hash)
    assert new.token not in new.token_hash
    for bad in ("", "mlk_", "abc_def_ghi", "mlk__secret", "Bearer x"):
        assert security.token_prefix(bad) is None


def test_passwords_use_argon2() -> None:
    hashed = security.hash_password("correct horse")
    assert hashed.startswith("$argon2")
    assert security.verify_password("correct horse", hashed)
    assert not security.verify_password("wrong horse", hashed)
    assert not security.verify_password("x", "not-a-hash")


def test_jwts_expire_and_need_our_secret() -> None:
    token = security.issue_jwt(SECRET, org_id="org.1", api_key_id="key.1", now=NOW, ttl=timedelta(hours=24))
    assert security.looks_like_jwt(token)
    claims = security.read_jwt(SECRET, token, now=NOW + timedelta(hours=23))
    assert claims is not None and (claims["sub"], claims["org"]) == ("key.1", "org.1")
    assert security.read_jwt(SECRET, token, now=NOW + timedelta(hours=24)) is None
    assert security.read_jwt("another-secret-that-is-long-enough-0000", token, now=NOW) is None
    assert security.read_jwt(SECRET, token[:-2] + "xx", now=NOW) is None
