"""Per-API-key request quotas (token buckets), off by default: `METERLINE_RATE_LIMIT_INGEST` (ingestion) and
`METERLINE_RATE_LIMIT_API` (every other operation) set a rate in requests per second, 0 (the default) turns one off.
Togai's hosted limits are 50 and 10 (docs/operations.md, "Quotas").

A bucket holds one second of requests and refills continuously, so short bursts pass and a steady stream above the
rate gets 429 with `Retry-After`. Buckets live in the process: with several processes each has its own
(docs/operations.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from meterline.core.errors import TooManyRequests

INGEST_PATHS = frozenset({"/ingest", "/ingestBatch"})


class Quotas:
    def __init__(self, ingest_rate: float, api_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rates = {"ingest": ingest_rate, "api": api_rate}
        self.clock = clock
        self.buckets: dict[tuple[str, str], tuple[float, float]] = {}  # (key, kind) -> (tokens, at)
        self.lock = threading.Lock()

    def take(self, key: str, path: str) -> None:
        """Spend one request of `key` on `path`'s quota, or raise TooManyRequests saying when to retry."""
        kind = "ingest" if path in INGEST_PATHS else "api"
        rate = self.rates[kind]
        if rate <= 0:
            return
        now = self.clock()
        with self.lock:
            tokens, at = self.buckets.get((key, kind), (rate, now))
            tokens = min(rate, tokens + (now - at) * rate)
            if tokens < 1:
                self.buckets[(key, kind)] = (tokens, now)
                wait = math.ceil((1 - tokens) / rate)
                raise TooManyRequests(
                    f"Over the quota of {rate:g} {'ingestion ' if kind == 'ingest' else ''}requests per second for "
                    f"this API key; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self.buckets[(key, kind)] = (tokens - 1, now)
