"""Leases: how several workers (processes, machines) split the bill run between them (docs/clickhouse.md, "Billing
that scales out").

An organization's run is cut into parts: its accounts with a schedule, by crc32(pk) % parts, one part per
`accounts_per_part` accounts (at least one); part 0 also carries the organization's own steps (composite invoices,
credit expiry, overdue marks). A worker syncs a part only while it holds the part's lease: a `billing_leases` row
taken with one atomic statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE the lease expired or is already the
worker's), so two workers never hold one part at once. It renews its leases after every chunk it syncs and gives them
back at the end of its round; a worker that dies stops renewing, its leases expire after `ttl`, and the next worker to
look takes its parts over. A worker whose renewal fails (it stalled past `ttl` and another took the part) stops
working on that part.

Leases only spread the work. What keeps billing exact is where it always was: the invoices' unique keys and row
locks, the drafts taken FOR UPDATE SKIP LOCKED to finalize (shared by every worker that holds any part of the
organization), the numbering sequence's row. A run without leases (`meterline bill-run`, an operator's run of
everything) is as correct beside working workers, only not shared with them."""

from __future__ import annotations

import os
import socket
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.db import unit_of_work
from meterline.core.repository import OrgRepository
from meterline.invoicing.models import BillingLease

ACCOUNTS_PER_PART = 5_000


def part_of(account_pk: str, parts: int) -> int:
    """The part an account belongs to: stable across processes and machines (crc32, not Python's salted hash)."""
    return zlib.crc32(account_pk.encode()) % parts


def parts_for(accounts: int, accounts_per_part: int) -> int:
    return max(1, -(-accounts // accounts_per_part))


def new_holder() -> str:
    """A name for one worker: its machine, its process, and a random tail (two workers of one process differ)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class LeaseRepository(OrgRepository):
    def take(self, part: int, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew the lease of `part` until `until`, if it is free, expired or already `holder`'s; one
        statement, so two workers asking at once cannot both get it."""
        stmt = self.insert(BillingLease).values(org_id=self.org_id, part=part, holder=holder, expires_at=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[BillingLease.org_id, BillingLease.part],
            set_={"holder": holder, "expires_at": until},
            where=or_(BillingLease.expires_at <= now, BillingLease.holder == holder),
        ).returning(BillingLease.part)
        return self.session.execute(stmt).first() is not None


class Leases:
    """One worker's leases. `clock` is the wall clock the leases expire in (a test passes its own)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
        holder: str | None = None,
        accounts_per_part: int = ACCOUNTS_PER_PART,
    ) -> None:
        if ttl <= timedelta(0) or accounts_per_part < 1:
            raise ValueError("a lease lasts a positive time and a part holds at least one account")
        self.factory, self.ttl, self.clock = factory, ttl, clock
        self.holder = holder or new_holder()
        self.accounts_per_part = accounts_per_part
        self.held: set[tuple[str, int]] = set()
        # the (organization, part) leases taken, in order, the last 10,000 (a worker runs for months: bounded)
        self.taken: deque[tuple[str, int]] = deque(maxlen=10_000)

    def take(self, org_id: str, part: int) -> bool:
        """Take (or renew) the lease of one part of `org_id`'s run; False when another worker holds it."""
        now = self.clock()
        with unit_of_work(self.factory) as session:
            got = LeaseRepository(session, org_id).take(part, self.holder, now, now + self.ttl)
        if got:
            if (org_id, part) not in self.held:
                self.taken.append((org_id, part))
            self.held.add((org_id, part))
        else:
            self.held.discard((org_id, part))
        return got

    def holds(self, org_id: str, part: int) -> bool:
        return (org_id, part) in self.held

    def release(self) -> None:
        """Give back every lease this worker holds (at the end of its round)."""
        with unit_of_work(self.factory) as session:
            session.execute(delete(BillingLease).where(BillingLease.holder == self.holder))
        self.held.clear()
