"""Server-generated ids: a type prefix (D14) and a time-ordered random part.

The random part is a ULID-like string (48-bit millisecond time + 80 random bits, Crockford base32, lower case),
so ids sort by creation time: keyset pagination orders by id alone.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """`prefix.` + 26 characters, sortable by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}.{_b32(ms, 10)}{_b32(secrets.randbits(80), 16)}"


def new_short_id(prefix: str, length: int = 12) -> str:
    """A short random id for objects whose ids the SDK caps (usage meters: at most 20 characters)."""
    return f"{prefix}.{_b32(secrets.randbits(5 * length), length)}"
