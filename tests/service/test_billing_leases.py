"""Workers share a bill run part by part through leases (invoicing/leases.py), on both engines: one lease goes to
one worker however many ask at once; a worker bills only the parts it holds; a dead worker's parts are taken over
once its leases expire, and the invoices are those of one uninterrupted run; workers running at once (PostgreSQL)
finalize every invoice once, numbered without gaps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.models import Account
from meterline.core.db import unit_of_work
from meterline.invoicing import billing
from meterline.invoicing.leases import Leases, part_of
from meterline.invoicing.models import Invoice
from meterline.tenancy.models import Organization
from meterline.usecases import bill_runs
from meterline.usecases.invoice_groups import consolidate
from tests.conftest import new_org
from tests.service.test_bill_runs import company, invoices

UTC = timezone.utc
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)
T = datetime(2024, 7, 1, 0, 5, tzinfo=UTC)
TTL = timedelta(seconds=60)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def worker_leases(factory: sessionmaker[Session], holder: str, clock: Callable[[], datetime]) -> Leases:
    return Leases(factory, ttl=TTL, clock=clock, holder=holder, accounts_per_part=10)


def run(factory: sessionmaker[Session], org: Organization, leases: Leases | None) -> billing.RunResult:
    return billing.run(factory, AS_OF, now=T, groups=consolidate, leases=leases, org_id=org.id)


def accounts_invoiced(factory: sessionmaker[Session], org: Organization) -> set[str]:
    with unit_of_work(factory, write=False) as session:
        stmt = select(Account.id).join(Invoice, Invoice.account_pk == Account.pk).where(Invoice.org_id == org.id)
        return set(session.scalars(stmt))


def account_parts(factory: sessionmaker[Session], org: Organization, parts: int) -> dict[str, int]:
    with unit_of_work(factory, write=False) as session:
        rows = session.execute(select(Account.id, Account.pk).where(Account.org_id == org.id))
        return {account_id: part_of(pk, parts) for account_id, pk in rows if account_id != "acme"}  # no schedule


def test_one_lease_goes_to_one_worker_however_many_ask_at_once(session_factory: sessionmaker[Session]) -> None:
    org = new_org(session_factory)
    clock = Clock(T)
    workers = [worker_leases(session_factory, f"w{i}", clock) for i in range(8)]
    start = threading.Barrier(len(workers))
    got: dict[str, bool] = {}

    def ask(leases: Leases) -> None:
        start.wait()
        got[leases.holder] = leases.take(org.id, 0)

    threads = [threading.Thread(target=ask, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [winner] = [h for h, ok in got.items() if ok]
    first = next(w for w in workers if w.holder == winner)
    other = next(w for w in workers if w.holder != winner)
    clock.at = T + TTL - timedelta(seconds=1)
    assert first.take(org.id, 0) and not other.take(org.id, 0)  # the holder renews; others still wait
    clock.at = T + 2 * TTL - timedelta(seconds=2)
    assert not other.take(org.id, 0)  # renewed: a TTL after the renewal
    clock.at = T + 2 * TTL - timedelta(seconds=1)
    assert other.take(org.id, 0) and not first.take(org.id, 0)  # expired: taken over; the old holder lost it
    other.release()
    assert first.take(org.id, 0)  # given back: free at once


def test_a_worker_bills_the_parts_it_holds_and_takes_a_dead_worker_s_over(
    session_factory: sessionmaker[Session],
) -> None:
    org = company(session_factory, 40)  # 4 parts of 10 accounts
    parts = account_parts(session_factory, org, 4)
    clock = Clock(T)
    dead = worker_leases(session_factory, "dead", clock)
    assert dead.take(org.id, 1) and dead.take(org.id, 3)  # ... and the worker dies holding them
    alive = worker_leases(session_factory, "alive", clock)
    first = run(session_factory, org, alive)
    mine = {a for a, p in parts.items() if p in (0, 2)}
    assert first.synced_accounts == len(mine) and 0 < len(mine) < 40
    assert accounts_invoiced(session_factory, org) == mine
    assert first.finalized == 6 * len(mine)  # January to June of its own accounts
    assert list(alive.taken) == [(org.id, 0), (org.id, 2)] and not alive.held  # given back at the end of the round

    clock.at = T + TTL  # the dead worker's leases expire
    second = run(session_factory, org, alive)
    assert accounts_invoiced(session_factory, org) == set(parts)
    assert second.finalized == 6 * (40 - len(mine))
    assert list(alive.taken)[2:] == [(org.id, 0), (org.id, 1), (org.id, 2), (org.id, 3)]

    reference = company(session_factory, 40)
    bill_runs.run(session_factory, AS_OF, now=T, org_id=reference.id)  # one run of everything, no leases
    # the same invoices (their numbers aside: the split run numbered the parts it held first)
    shared, whole = invoices(session_factory, org), invoices(session_factory, reference)
    assert [r[:4] + r[5:] for r in shared] == [r[:4] + r[5:] for r in whole]
    assert sorted(str(r[4]) for r in shared) == sorted(str(r[4]) for r in whole)


def test_a_worker_stops_a_part_whose_lease_it_lost(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that stalled past its lease finds another worker took the part: it stops syncing that part at its
    next chunk (the other worker syncs it; the row locks keep it exact either way) and leaves the organization's own
    steps to the part's new holder."""
    org = company(session_factory, 30)
    clock = Clock(T)
    slow = Leases(session_factory, ttl=TTL, clock=clock, holder="slow", accounts_per_part=1_000)  # one part
    fast = Leases(session_factory, ttl=TTL, clock=clock, holder="fast", accounts_per_part=1_000)
    monkeypatch.setattr(billing, "SYNC_CHUNK", 10)
    synced: list[int] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase.startswith("sync"):
            if not synced:
                clock.at = T + TTL  # the slow worker stalls past its lease after its first chunk
                assert fast.take(org.id, 0)
            synced.append(done)

    result = billing.run(
        session_factory, AS_OF, now=T, groups=consolidate, leases=slow, org_id=org.id, progress=progress
    )
    assert result.synced_accounts == 10 and synced == [10]
    assert len(accounts_invoiced(session_factory, org)) == 10
    assert result.finalized == 60  # finalizing is shared: the drafts it made are due
    assert fast.take(org.id, 0)  # still the new holder's


@pytest.mark.parametrize("workers", [3])
def test_workers_at_once_finalize_every_invoice_once(
    db_url: str, session_factory: sessionmaker[Session], workers: int
) -> None:
    """Workers with their own leases bill one organization at once (on SQLite they take turns): every account is
    synced, every invoice finalized once, numbered 1 to 1,200 without a gap or a repeat, and the syncing is split
    between them rather than done by each."""
    org = company(session_factory, 200)
    clock = Clock(T)
    start = threading.Barrier(workers)
    results: list[billing.RunResult] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            results.append(run(session_factory, org, worker_leases(session_factory, f"w{i}", clock)))
        except BaseException as exc:  # noqa: BLE001  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(not r.failures for r in results)
    assert sum(r.finalized for r in results) == 1200
    numbers = sorted(int(r[4].split("-")[1]) for r in invoices(session_factory, org) if r[3] != "DRAFT")
    assert numbers == list(range(1, 1201))
    assert len(accounts_invoiced(session_factory, org)) == 200
    # split, not repeated by each (without leases every worker syncs all 200; measured here: 200 in all, e.g. 61/69/70)
    assert sum(r.synced_accounts for r in results) < workers * 200
