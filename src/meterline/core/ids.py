"""Server-generated ids: a type prefix (D14) and a time-ordered random part.

The random part is a ULID-like string (48-bit millisecond time + 80 random bits, Crockford base32, lower case),
so ids sort by creation time: keyset pagination orders by id alone. Within one process ids are monotonic (ULID's
monotonic mode: in the same millisecond the random part counts up), so even objects made in one millisecond list
in the order they were made.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> 2 characters (ids are made per event)


def _b32(value: int, length: int) -> str:
    """`value` in `length` Crockford base32 characters (most significant first)."""
    if length % 2:
        return _b32(value >> 5, length - 1) + _ALPHABET[value & 31]
    return "".join(_PAIRS[(value >> shift) & 1023] for shift in range(5 * length - 10, -1, -10))


_lock = threading.Lock()
_last = (0, 0)


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """`prefix.` + 26 characters, sortable by creation time."""
    if now_ms is not None:  # an explicit time (tests): no ordering state is kept
        return f"{prefix}.{_b32(now_ms, 10)}{_b32(secrets.randbits(79), 16)}"
    return new_ids(prefix, 1)[0]


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids as `new_id` makes them, in order, for one batch (ingestion makes one per event)."""
    global _last
    with _lock:
        ms = int(time.time() * 1000)
        last_ms, last_random = _last
        if ms <= last_ms:
            ms, first = last_ms, last_random + 1
        else:
            first = secrets.randbits(79)  # leaves room to count up within the millisecond
        _last = (ms, first + count - 1)
    head = f"{prefix}.{_b32(ms, 10)}"
    return [head + _b32(first + n, 16) for n in range(count)]


def new_id_after(prefix: str, floor: str | None) -> str:
    """A new id that sorts after `floor` (an id with the same prefix, which another process may have made in the same
    millisecond, where only the random part would order the two): for rows whose order is their id."""
    made = new_id(prefix)
    if floor is None or made > floor:
        return made
    value = 0
    for char in floor.split(".", 1)[1]:
        value = value * 32 + _ALPHABET.index(char)
    return f"{prefix}.{_b32(value + 1, 26)}"


def new_short_id(prefix: str, length: int = 12) -> str:
    """A short random id for objects whose ids the SDK caps (usage meters: at most 20 characters)."""
    return f"{prefix}.{_b32(secrets.randbits(5 * length), length)}"
