"""The delivery worker: sends the outbox's deliveries, at least once, never from a request.

A thread of `meterline serve` (every METERLINE_WEBHOOK_INTERVAL seconds, 1 by default; 0 turns it off there) and of
`meterline worker`. Each round:

1. claims up to CONCURRENCY due deliveries (PER_ENDPOINT of each endpoint first, then any) in a short
   transaction, pushing each to a lease (2 x METERLINE_WEBHOOK_TIMEOUT + 5 s): other workers skip them
   (PostgreSQL: FOR UPDATE SKIP LOCKED), and if this process dies mid-delivery they are due again when the
   lease ends, and sent again;
2. POSTs them at once (asyncio: one event loop and one client kept for every round), signed (Standard Webhooks,
   with the `standardwebhooks` library: `webhook-id`, `webhook-timestamp`, `webhook-signature`, two signatures
   while a rotated secret overlaps); each attempt has METERLINE_WEBHOOK_TIMEOUT **in all** (connect, send, the
   answer's status line and headers: a receiver that answers a byte at a time is cut at the deadline), and the
   answer's body is never read;
   a 2xx is a success, anything else (another status, a timeout, a refused connection, a redirect) a failure;
3. records every outcome in one short transaction: the attempt in the log; the delivery SUCCEEDED, PENDING until
   its next retry (METERLINE_WEBHOOK_RETRY_SCHEDULE's delays, +-10% jitter), or FAILED after the last one; an
   endpoint failing without a success for METERLINE_WEBHOOK_DISABLE_AFTER seconds is DISABLED, and so is one whose
   delivery's last retry failed with no success of the endpoint since that delivery was made (its whole retry
   window, ~3 days by default, failed: a lone failing message must not leave the endpoint enabled unnoticed).

No transaction is open while a request is in flight. One endpoint's failures only move its own deliveries' retries.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from meterline import __version__
from meterline.core.background import BackgroundLoop
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.observability import describe
from meterline.core.settings import Settings
from meterline.webhooks.repository import Claimed, DeliveryQueue

log = logging.getLogger("meterline.webhooks")

CONCURRENCY = 16  # deliveries in flight per worker process
PER_ENDPOINT = 2  # of one endpoint per round while other endpoints have due deliveries
JITTER = 0.1
USER_AGENT = f"Meterline-Webhooks/{__version__}"


def parse_schedule(text: str) -> tuple[float, ...]:
    """`5,60,300`: the delays in seconds before each retry."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"METERLINE_WEBHOOK_RETRY_SCHEDULE: {text!r} is not a list of seconds, e.g. 5,60,300"
        ) from None
    if any(d <= 0 for d in delays):
        raise ValueError("METERLINE_WEBHOOK_RETRY_SCHEDULE: every delay must be more than 0 seconds")
    return delays


def next_attempt(schedule: tuple[float, ...], attempts: int, now: datetime) -> datetime | None:
    """After `attempts` failed attempts, when to try again (None: that was the last). Each delay +-10% jitter, so
    deliveries that failed together do not come back together."""
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311  # nosec B311 - jitter, not a secret
    return now + timedelta(seconds=delay)


def sign(claimed: Claimed, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: every current secret signs (two while a rotation overlaps)."""
    signatures = " ".join(Webhook(secret).sign(claimed.message_pk, at, claimed.payload) for secret in claimed.secrets)
    return {
        "webhook-id": claimed.message_pk,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None  # None: delivered


class Deliverer(BackgroundLoop):
    thread_name, what, log = "meterline-webhooks", "webhook delivery round", log

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(settings.webhook_interval or 1)
        self.factory = factory
        self.timeout = settings.webhook_timeout
        self.schedule = parse_schedule(settings.webhook_retry_schedule)
        self.disable_after = timedelta(seconds=settings.webhook_disable_after)
        self.lease = timedelta(seconds=2 * self.timeout + 5)
        # One event loop for every round, in a thread of its own (so that a caller's thread may run a loop of its
        # own), and one client: connections kept alive, the TLS context made once.
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="meterline-webhook-io", daemon=True).start()
        self._client: httpx.AsyncClient | None = None
        weakref.finalize(self, self._loop.call_soon_threadsafe, self._loop.stop)  # dropped by hand: the loop stops

    def claim(self) -> list[Claimed]:
        now = utc_now()
        with unit_of_work(self.factory, write=False) as session:
            if not DeliveryQueue(session).any_due(now):  # the idle check takes no write lock
                return []
        with unit_of_work(self.factory) as session:
            return DeliveryQueue(session).claim(now, now + self.lease, CONCURRENCY, PER_ENDPOINT)

    async def send(self, client: httpx.AsyncClient, claimed: Claimed) -> Outcome:
        """One attempt, cut at the deadline whatever the receiver does; the answer's body is never read."""
        at = utc_now()
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                request = client.build_request(
                    "POST", claimed.url, content=claimed.payload.encode("utf-8"), headers=sign(claimed, at)
                )
                response = await client.send(request, stream=True)
                await response.aclose()
            code: int | None = response.status_code
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        except TimeoutError:
            code, error = None, f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            code, error = None, describe(exc)
        except Exception as exc:  # a URL httpx cannot even try: a failure of this delivery, not of the worker
            code, error = None, describe(exc)
        return Outcome(claimed, at, code, int((time.monotonic() - started) * 1000), error)

    async def send_all(self, claimed: list[Claimed]) -> list[Outcome]:
        if self._client is None:  # made once, in the runner's loop (its TLS context costs tens of milliseconds)
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        client = self._client
        return list(await asyncio.gather(*(self.send(client, c) for c in claimed)))

    def record(self, outcomes: list[Outcome]) -> None:
        with unit_of_work(self.factory) as session:
            queue = DeliveryQueue(session)
            for o in sorted(outcomes, key=lambda o: o.claimed.pk):
                retry = None if o.error is None else next_attempt(self.schedule, o.claimed.attempts + 1, o.at)
                queue.record(o.claimed, o.at, o.status_code, o.duration_ms, o.error, retry)
                if o.error is None:
                    queue.endpoint_succeeded(o.claimed.endpoint_pk)
                    continue
                reason = f"failing since at least {self.disable_after} without a success (last: {o.error})"
                # The last retry failed, and the endpoint had no success since the delivery was made: its whole
                # retry window failed; disabled now, whatever METERLINE_WEBHOOK_DISABLE_AFTER (docs/webhooks.md)
                window_failed = retry is None and not queue.succeeded_since(o.claimed.endpoint_pk, o.claimed.created_at)
                if window_failed:
                    reason = (
                        f"every attempt of delivery {o.claimed.pk} failed, over its whole retry schedule, "
                        f"without a success since (last: {o.error})"
                    )
                disable_before = o.at if window_failed else o.at - self.disable_after
                if queue.endpoint_failed(o.claimed.endpoint_pk, o.at, disable_before, reason):
                    log.warning(
                        "webhook endpoint disabled",
                        extra={"fields": {"org_id": o.claimed.org_id, "endpoint_id": o.claimed.endpoint_pk}},
                    )
                log.info(
                    "webhook delivery failed",
                    extra={
                        "fields": {
                            "org_id": o.claimed.org_id,
                            "endpoint_id": o.claimed.endpoint_pk,
                            "delivery_id": o.claimed.pk,
                            "attempts": o.claimed.attempts + 1,
                            "reason": o.error,
                            "next_attempt_at": retry.isoformat() if retry else None,
                        }
                    },
                )

    def tick(self) -> int:
        """One round; how many deliveries were attempted."""
        claimed = self.claim()
        if not claimed:
            return 0
        outcomes = asyncio.run_coroutine_threadsafe(self.send_all(claimed), self._loop).result()
        self.record(outcomes)
        return len(outcomes)

    def round(self) -> bool:
        return self.tick() > 0  # more may be due: no wait while there is work

    def close(self) -> None:
        """Close the client and the event loop (after the loop's thread ended, or for a Deliverer used by hand)."""
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
            self._client = None
        self._loop.call_soon_threadsafe(self._loop.stop)
