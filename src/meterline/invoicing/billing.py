"""Bill runs: bring every organization's invoices up to an instant `as_of`, in short transactions.

1. Sync: every account with a schedule gets the invoices of the cycle pieces that have started by `as_of`.
2. Finalize: the DRAFT invoices due by `as_of` are frozen and numbered, CHUNK at a time, in numbering order
   (InvoiceRepository.due_drafts); credits they take are consumed and the wallet pays. Each chunk commits with its
   numbers, so a run killed at any point leaves whole chunks; running again finishes the rest, and the invoices and
   numbers are those of an uninterrupted run.
3. Expire: credits whose window ended by `as_of` lose what remains once no DRAFT invoice over their window is left.

The worker (`meterline worker`, and a thread of `meterline serve`) runs this with the wall clock; `meterline
bill-run --as-of` with any instant. Several workers on PostgreSQL share the finalizing: the rows of a chunk are
locked and other workers skip them; the sequence row serializes the numbering.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.observability import INVOICES_FINALIZED
from meterline.credits.models import Credit
from meterline.credits.service import CreditService
from meterline.events.store import EventStore
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import InvoiceService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization

CHUNK = 200  # invoices per finalizing transaction
SYNC_CHUNK = 500  # accounts per syncing transaction
CLAIM_DAYS = 45  # D6: how long an event id stays claimed

log = logging.getLogger("meterline.billing")


@dataclass
class RunResult:
    finalized: int = 0
    synced_accounts: int = 0
    expired_credits: int = 0


Progress = Callable[[str, int, int], None]  # (phase, done, total)


def batch_process_gc() -> None:
    """For processes that only bill (`meterline bill-run`, `meterline worker`): a run makes and drops hundreds of
    thousands of short-lived objects, and Python's default collects its youngest generation every 700 allocations,
    which measured ~15% of a run. Every 50,000 instead; a process-wide setting, so never called by `serve`."""
    gc.set_threshold(50_000, 20, 20)


def _orgs(factory: sessionmaker[Session], org_id: str | None) -> list[Organization]:
    with unit_of_work(factory, write=False) as session:
        stmt = select(Organization).order_by(Organization.id)
        if org_id is not None:
            stmt = stmt.where(Organization.id == org_id)
        return list(session.scalars(stmt))


STATISTICS_TABLES = ("usage_daily", "usage_rollups", "invoices", "pricing_schedules", "credits", "wallets")


def refresh_statistics(factory: sessionmaker[Session]) -> list[str]:
    """PostgreSQL plans a run's chunk queries from table statistics. Right after a bulk load (a migration, an
    import, a busy day) they can be missing or far off until autovacuum analyzes the tables, and a plan made for an
    empty table scans the whole day index for every chunk: 213 s instead of 11 s for 10,000 invoices
    (docs/performance.md). So a run first analyzes the tables it reads whose statistics are missing or stale (more
    than a fifth of the rows changed since), as autovacuum would a little later. Returns the tables analyzed."""
    with factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            return []
        rows = session.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(:tables) "
            "AND n_live_tup + n_mod_since_analyze > 1000 "
            "AND (coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > n_live_tup / 5)"),
            {"tables": list(STATISTICS_TABLES)}).scalars().all()
        for table in rows:
            if table in STATISTICS_TABLES:  # names come from the constant above, never from input
                session.execute(text(f"ANALYZE {table}"))  # nosec B608 - a constant table name
        session.commit()
        return list(rows)


def run(factory: sessionmaker[Session], as_of: datetime, *, org_id: str | None = None,
        progress: Progress | None = None) -> RunResult:
    result = RunResult()
    refresh_statistics(factory)
    for org in _orgs(factory, org_id):
        with unit_of_work(factory, write=False) as session:
            accounts = InvoiceRepository(session, org.id).accounts_with_schedules()
        for i in range(0, len(accounts), SYNC_CHUNK):
            with unit_of_work(factory) as session:
                ctx = Context(session, session.get_one(Organization, org.id), as_of)
                chunk = AccountRepository(session, org.id).by_pks(set(accounts[i:i + SYNC_CHUNK]))
                InvoiceService(ctx).sync_many(list(chunk.values()), as_of)
            result.synced_accounts += len(accounts[i:i + SYNC_CHUNK])
            if progress:
                progress(f"sync {org.id}", result.synced_accounts, len(accounts))
        with unit_of_work(factory, write=False) as session:
            total = InvoiceRepository(session, org.id).count_due(as_of)
        done = 0
        while True:
            with unit_of_work(factory) as session:
                ctx = Context(session, session.get_one(Organization, org.id), as_of)
                postgres = session.get_bind().dialect.name == "postgresql"
                count = InvoiceService(ctx).finalize_due(as_of, CHUNK, skip_locked=postgres)
            if count == 0:
                break
            done += count
            INVOICES_FINALIZED.inc(count)
            if progress:
                progress(f"finalize {org.id}", done, max(total, done))
        result.finalized += done
        with unit_of_work(factory) as session:  # credits whose window is over and fully billed expire (D9)
            ctx = Context(session, session.get_one(Organization, org.id), as_of)
            invoices = InvoiceRepository(session, org.id)
            result.expired_credits += CreditService(ctx).expire(partial(_still_billing, invoices))
    return result


def _still_billing(invoices: InvoiceRepository, credit: Credit) -> bool:
    return invoices.still_billing(credit.account_pk, credit.starts_at, credit.ends_at)


def forget_claims(factory: sessionmaker[Session], now: datetime) -> int:
    """End the event-id claims older than the dedup window (D6): a later event may reuse such an id."""
    forgotten = 0
    for org in _orgs(factory, None):
        with unit_of_work(factory) as session:
            forgotten += EventStore(session, org.id).forget_ids_before(now - timedelta(days=CLAIM_DAYS))
    return forgotten


class Worker:
    """Runs bill runs with the wall clock every `interval` seconds, and forgets old event-id claims hourly."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        self.factory = factory
        self.interval = interval
        self.stopping = threading.Event()
        self._last_forget: datetime | None = None

    def tick(self) -> RunResult:
        now = utc_now()
        result = run(self.factory, now)
        if self._last_forget is None or now - self._last_forget >= timedelta(hours=1):
            forget_claims(self.factory, now)
            self._last_forget = now
        return result

    def loop(self) -> None:
        while not self.stopping.is_set():
            try:
                result = self.tick()
                if result.finalized:
                    log.info("finalized %d invoices", result.finalized)
            except Exception:  # a failing run is logged and retried next tick; the worker stays up
                log.exception("bill run failed")
            self.stopping.wait(self.interval)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.loop, name="meterline-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
