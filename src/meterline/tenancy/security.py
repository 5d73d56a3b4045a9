"""Secrets: API tokens, passwords, JWTs. Pure functions, no I/O.

API tokens are 160 random bits, so a plain SHA-256 of the token is a safe verifier (a slow password hash would
only add latency to every request); the public `prefix` finds the row, and the hash is compared in constant time.
Passwords, which people choose, use argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_MARK = "mlk"  # noqa: S105  # nosec B105 - the visible prefix of every API key, not a secret
PORTAL_MARK = "mlp"  # the visible prefix of a customer portal's delegate token (portal/), which is no API key
_password_hasher = PasswordHasher()


@dataclass(frozen=True)
class NewToken:
    prefix: str
    token: str
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(mark: str = TOKEN_MARK) -> NewToken:
    """A new secret `<mark>_<prefix>_<random>`: an API key's (`mlk`), or a portal delegate token's (`mlp`)."""
    prefix = secrets.token_hex(6)
    token = f"{mark}_{prefix}_{secrets.token_urlsafe(24)}"
    return NewToken(prefix=prefix, token=token, token_hash=hash_token(token))


def token_prefix(token: str, mark: str = TOKEN_MARK) -> str | None:
    """The lookup prefix of a token of this kind; None for any other text (a portal token is no API key)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != mark or not parts[1]:
        return None
    return parts[1]


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def new_password() -> str:
    """A password for a person to change or keep: 96 random bits, 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_password_hash() -> str:
    """A hash of a random password nobody knows, made by the same hasher (same cost) as real ones: checking a
    password against it takes as long as against a user's."""
    return _password_hasher.hash(secrets.token_urlsafe(16))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def issue_jwt(secret: str, *, org_id: str, api_key_id: str, now: datetime, ttl: timedelta) -> str:
    claims = {"iss": "meterline", "sub": api_key_id, "org": org_id, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_jwt(secret: str, token: str, *, now: datetime) -> dict[str, str] | None:
    """The claims of a valid, unexpired token of ours, else None."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="meterline", options={"verify_exp": False})
    except jwt.PyJWTError:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        return None
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("org"), str):
        return None
    return claims
