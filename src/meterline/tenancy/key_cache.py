"""Verified API keys (and JWTs), remembered by each server process for at most half a second.

Every API request names its key. Verifying it reads the key and its organization from the database (one statement,
about a fifth of a cheap read's time on one process); a product that checks entitlements on each of its own requests
sends the same key hundreds of times a second. So each process remembers, for `TTL` seconds, the answer of the
database for a token it verified: the key's id and its organization's columns.

Why a lifetime and nothing else (docs/performance.md, "Verified API keys"): a revoked key must be refused within one
second in every process (issue 21). An entry lives `TTL` (0.5 s) from an instant *before* the database was read, so
whatever changed in the database (a key revoked by the console, the CLI or another process, a key or an organization
removed, an organization renamed) is seen by every process at most 0.5 s after it was committed, with no message
between processes, no table to keep, and no write path that must remember to invalidate anything: nothing can be
forgotten, because nothing has to be done. A miss costs one statement, at most once per key, process and half second.

- Keyed by the token's SHA-256 (the token itself is not kept).
- A JWT's entry also ends at the JWT's own expiry.
- Failures are not remembered: a wrong or revoked key reads the database every time, as before.
- Each hit gets its own `Organization` instance (detached, as if loaded by a session now closed): requests never
  share a mutable ORM object.
- At most `MAX_ENTRIES` entries; past it, the expired ones go, and if that is not enough, all of them.

Console sessions are not cached: a console page is no hot path, and looking its session up on every request keeps
"signing out ends every session at the next request".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect

from meterline.core.prepared import loaded
from meterline.tenancy.models import Organization
from meterline.tenancy.security import hash_token
from meterline.tenancy.service import Principal

TTL = 0.5  # seconds: a revocation reaches every process within this (the requirement: within 1 s)
MAX_ENTRIES = 10_000
_ORG_COLUMNS = tuple(attr.key for attr in inspect(Organization).column_attrs)


@dataclass(frozen=True)
class _Verified:
    deadline: float  # on the cache's clock: TTL after an instant before the database was read
    api_key_id: str
    org: dict[str, Any]  # the organization's columns, as read
    expires_at: datetime | None  # a JWT's expiry


class VerifiedKeys:
    """One per process (the API application's state). Thread-safe: entries are immutable, and the dict's get and
    set are atomic."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, _Verified] = {}
        self._pruning = threading.Lock()

    def get(self, token: str, now: datetime) -> Principal | None:
        """The principal of a token verified less than `ttl` ago, else None (verify it, then `put`)."""
        digest = hash_token(token)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self.clock() >= entry.deadline or (entry.expires_at is not None and now >= entry.expires_at):
            self._entries.pop(digest, None)
            return None
        org = loaded(Organization, entry.org)
        return Principal(org=org, api_key_id=entry.api_key_id, token=token, expires_at=entry.expires_at)

    def put(self, token: str, who: Principal, read_from: float) -> None:
        """Remember a principal the database just verified; `read_from` is `clock()` taken before that read."""
        if len(self._entries) >= MAX_ENTRIES:
            self._prune()
        self._entries[hash_token(token)] = _Verified(
            deadline=read_from + self.ttl,
            api_key_id=who.api_key_id,
            org={name: getattr(who.org, name) for name in _ORG_COLUMNS},
            expires_at=who.expires_at,
        )

    def _prune(self) -> None:
        with self._pruning:
            now = self.clock()
            live = {k: v for k, v in self._entries.items() if v.deadline > now}
            self._entries = live if len(live) < MAX_ENTRIES else {}
