"""Bill runs: bring every organization's invoices up to an instant `as_of`, in short transactions.

1. Sync: every account with a schedule gets the invoices of the cycle pieces that have started by `as_of`.
2. Finalize: the DRAFT invoices due by `as_of` are frozen and numbered, CHUNK at a time, in numbering order
   (InvoiceRepository.due_drafts); credits they take are consumed and the wallet pays. Each chunk commits with its
   numbers, so a run killed at any point leaves whole chunks; running again finishes the rest, and the invoices and
   numbers are those of an uninterrupted run.
3. Group: the invoice groups' COMPOSITE invoices whose members are all finalized are made (`groups`, a required
   argument: usecases/invoice_groups.py, which spans the invoice groups' domain).
4. Expire: credits whose window ended by `as_of` lose what remains once no DRAFT invoice over their window is left.

The worker (`meterline worker`, and a thread of `meterline serve`) runs this with the wall clock; `meterline
bill-run --as-of` with any instant. Several workers on PostgreSQL share the finalizing: the rows of a chunk are
locked and other workers skip them; the sequence row serializes the numbering.

No organization stops another's billing (docs/invoicing.md, "When a bill run fails"): each organization, each chunk
of accounts synced and each chunk of invoices finalized is its own transaction. A failing chunk is rolled back and
done again one account or invoice per transaction, so only what fails waits. Each failure is recorded
(invoicing/failures.py: attempts, next attempt with exponential backoff, shared by every worker process), logged in
one line with its organization and invoice, counted in `meterline_billing_failures_total`, listed in the run's
result and shown in the console; the run goes on with the rest.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.repository import AccountRepository
from meterline.core.background import BackgroundLoop
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.observability import BILLING_FAILURES, INVOICES_FINALIZED, describe
from meterline.credits.service import CreditService
from meterline.invoicing.failures import (
    EXPIRE,
    FINALIZE,
    GROUPS,
    ORGANIZATION,
    STAGES,
    SYNC,
    BillingFailureRepository,
    Recorded,
)
from meterline.invoicing.leases import Leases, part_of, parts_for
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import InvoiceService, credit_holds
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization

CHUNK = 200  # invoices per finalizing transaction
SYNC_CHUNK = 500  # accounts per syncing transaction

log = logging.getLogger("meterline.billing")


@dataclass(frozen=True)
class Failure:
    """A step that failed in this run (also recorded in billing_failures)."""

    org_id: str
    stage: str  # SYNC | FINALIZE | GROUPS | EXPIRE | ORGANIZATION
    subject: str  # the account (SYNC), invoice (FINALIZE) or organization (GROUPS, EXPIRE, ORGANIZATION)
    invoice_pk: str | None
    attempts: int
    next_attempt_at: datetime
    message: str


@dataclass(frozen=True)
class Composite:
    """A COMPOSITE invoice of an invoice group, made by the groups' step."""

    org_id: str
    invoice_id: str
    sequence_id: str
    group_id: str
    total: Decimal
    currency: str


@dataclass
class RunResult:
    finalized: int = 0
    synced_accounts: int = 0
    expired_credits: int = 0
    composites: int = 0  # COMPOSITE invoices of invoice groups made
    failures: list[Failure] = field(default_factory=list)
    made_composites: list[Composite] = field(default_factory=list)  # those composites, in the order made


Progress = Callable[[str, int, int], None]  # (phase, done, total)
# The invoice groups' step: make the COMPOSITE invoices ready at `as_of`; which (usecases.invoice_groups.consolidate)
Groups = Callable[[Context, datetime], list[Composite]]


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
        rows = (
            session.execute(
                text(
                    "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(:tables) "
                    "AND n_live_tup + n_mod_since_analyze > 1000 "
                    "AND (coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > n_live_tup / 5)"
                ),
                {"tables": list(STATISTICS_TABLES)},
            )
            .scalars()
            .all()
        )
        for table in rows:
            if table in STATISTICS_TABLES:  # names come from the constant above, never from input
                session.execute(text(f"ANALYZE {table}"))  # nosec B608 - a constant table name
        session.commit()
        return list(rows)


def run(
    factory: sessionmaker[Session],
    as_of: datetime,
    *,
    now: datetime,
    groups: Groups,
    leases: Leases | None,
    org_id: str | None = None,
    progress: Progress | None = None,
    retry_now: bool = False,
) -> RunResult:
    """Bill every organization (or `org_id`) up to `as_of`. `now` is the wall clock of the run, which the retries'
    backoff is counted in; a step that failed before is tried again once its next attempt is due, or at once with
    `retry_now` (`meterline bill-run`: an operator asking for it). A failing organization, chunk or invoice is
    recorded, logged and counted, and the run goes on with the next one; `RunResult.failures` lists them.
    `leases`: the worker's (invoicing/leases.py), so that workers share the run part by part; None runs every part
    (an operator's run, the demo), as correct beside the workers, only not shared with them."""
    result = RunResult()
    try:
        refresh_statistics(factory)
    except Exception as exc:  # statistics only speed the run up
        log.warning("bill run: statistics not refreshed", extra={"fields": {"error": describe(exc)}})
    try:
        for org in _orgs(factory, org_id):
            try:
                _Org(factory, org.id, as_of, now, retry_now, progress, result, groups, leases).bill()
            except Exception as exc:  # outside the steps' own isolation (a row that cannot be read...): the next one
                _failed(factory, org.id, ORGANIZATION, org.id, None, exc, now, result)
    finally:
        if leases is not None:
            leases.release()
    return result


class _Org:
    """One organization's bill run: sync, finalize, expire; each step isolated as docs/invoicing.md says."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        org_id: str,
        as_of: datetime,
        now: datetime,
        retry_now: bool,
        progress: Progress | None,
        result: RunResult,
        groups: Groups,
        leases: Leases | None,
    ) -> None:
        self.factory, self.org_id, self.as_of, self.now = factory, org_id, as_of, now
        self.retry_now, self.progress, self.result, self.groups = retry_now, progress, result, groups
        self.leases = leases

    def _due(self, next_attempt_at: datetime) -> bool:
        return self.retry_now or next_attempt_at <= self.now

    def _context(self, session: Session) -> Context:
        org = session.get(Organization, self.org_id)
        if org is None:
            raise LookupError(f"organization {self.org_id} was deleted during the bill run")
        return Context(session, org, self.as_of)

    def bill(self) -> None:
        with unit_of_work(self.factory, write=False) as session:
            failures = BillingFailureRepository(session, self.org_id)
            failed = {stage: failures.of_stage(stage) for stage in STAGES}
            whole = failed[ORGANIZATION].get(self.org_id)
            if whole is not None and not self._due(whole):
                return  # the organization's run failed as a whole: it waits for its next attempt
            accounts = InvoiceRepository(session, self.org_id).accounts_with_schedules()
        if self.leases is None:
            self.sync(accounts, failed[SYNC])
        else:
            parts = parts_for(len(accounts), self.leases.accounts_per_part)
            held = [part for part in range(parts) if self._sync_part(part, parts, accounts, failed[SYNC])]
            if not held:
                return  # other workers hold every part of this organization's run
        self.finalize(failed[FINALIZE])  # shared with the other workers by skipped row locks
        if self.leases is not None and not self.leases.holds(self.org_id, 0):
            return  # the organization's own steps go with part 0
        grouped = failed[GROUPS].get(self.org_id)
        if grouped is None or self._due(grouped):
            self.group(failed_before=grouped is not None)
        expiry = failed[EXPIRE].get(self.org_id)
        if expiry is None or self._due(expiry):
            self.expire(failed_before=expiry is not None)
        self.overdue()
        if whole is not None:
            with unit_of_work(self.factory) as session:
                BillingFailureRepository(session, self.org_id).clear(ORGANIZATION, [self.org_id])

    # -- sync --------------------------------------------------------------------------------------------------------
    def _sync_part(self, part: int, parts: int, accounts: list[str], failed: dict[str, datetime]) -> bool:
        """Sync the accounts of one part if this worker can take its lease; whether it could."""
        assert self.leases is not None  # noqa: S101  # nosec B101 - only called with leases
        leases = self.leases
        if not leases.take(self.org_id, part):
            return False
        mine = [pk for pk in accounts if part_of(pk, parts) == part]
        retried = {pk: at for pk, at in failed.items() if part_of(pk, parts) == part}
        self.sync(mine, retried, lambda: leases.take(self.org_id, part))
        return True

    def sync(self, accounts: list[str], failed: dict[str, datetime], renew: Callable[[], bool] = lambda: True) -> None:
        """Chunks of accounts, each in its own transaction; a failing chunk is synced again an account at a time.
        Accounts whose sync failed before are left out of the chunks and tried alone when their attempt is due.
        `renew` is asked before every chunk (the part's lease): when it answers False, another worker has the part."""
        scheduled = set(accounts)
        gone = [pk for pk in failed if pk not in scheduled]  # no schedule any more: nothing to sync
        if gone:
            with unit_of_work(self.factory) as session:
                BillingFailureRepository(session, self.org_id).clear(SYNC, gone)
        healthy = [pk for pk in accounts if pk not in failed]
        for i in range(0, len(healthy), SYNC_CHUNK):
            if i and not renew():
                return
            chunk = healthy[i : i + SYNC_CHUNK]
            try:
                self._sync(chunk)
            except Exception:
                for pk in chunk:
                    self._sync_alone(pk)
            self.result.synced_accounts += len(chunk)
            if self.progress:
                self.progress(f"sync {self.org_id}", self.result.synced_accounts, len(accounts))
        for pk, at in failed.items():
            if pk in scheduled and self._due(at):
                self._sync_alone(pk, cleared=True)

    def _sync(self, account_pks: list[str], cleared: bool = False) -> None:
        with unit_of_work(self.factory) as session:
            chunk = AccountRepository(session, self.org_id).by_pks(set(account_pks))
            InvoiceService(self._context(session)).sync_many(list(chunk.values()), self.as_of)
            if cleared:
                BillingFailureRepository(session, self.org_id).clear(SYNC, account_pks)

    def _sync_alone(self, account_pk: str, cleared: bool = False) -> None:
        try:
            self._sync([account_pk], cleared)
        except Exception as exc:
            _failed(self.factory, self.org_id, SYNC, account_pk, None, exc, self.now, self.result)

    # -- finalize ----------------------------------------------------------------------------------------------------
    def finalize(self, failed: dict[str, datetime]) -> None:
        """Invoices whose finalizing failed before are tried alone when due; then the others, CHUNK at a time, each
        chunk in its own transaction. A failing chunk is rolled back and its invoices finalized one per transaction,
        so only the failing invoice waits."""
        done = 0
        for pk, at in failed.items():
            if self._due(at):
                done += self._finalize_alone(pk)
        skip = set(failed)  # known failures never share a chunk
        with unit_of_work(self.factory, write=False) as session:
            total = InvoiceRepository(session, self.org_id).count_due(self.as_of)
        while True:
            ids: list[str] = []
            try:
                with unit_of_work(self.factory) as session:
                    postgres = session.get_bind().dialect.name == "postgresql"
                    due = InvoiceRepository(session, self.org_id).due_drafts(self.as_of, CHUNK, postgres, exclude=skip)
                    ids = [i.pk for i in due]
                    InvoiceService(self._context(session)).finalize(due, self.as_of)
            except Exception:
                if not ids:  # reading the chunk failed: not an invoice's fault
                    raise
                skip.update(ids)
                for pk in ids:
                    done += self._finalize_alone(pk)
                continue
            if not ids:
                break
            done += len(ids)
            INVOICES_FINALIZED.inc(len(ids))
            if self.progress:
                self.progress(f"finalize {self.org_id}", done, max(total, done))
        self.result.finalized += done

    def _finalize_alone(self, invoice_pk: str) -> int:
        """Finalize one invoice in its own transaction if it is still due and DRAFT (and no other worker holds
        it); 1 when it was, 0 otherwise. A failure is recorded."""
        try:
            with unit_of_work(self.factory) as session:
                postgres = session.get_bind().dialect.name == "postgresql"
                due = InvoiceRepository(session, self.org_id).due_drafts(self.as_of, 1, postgres, only=invoice_pk)
                InvoiceService(self._context(session)).finalize(due, self.as_of)  # clears its failure
        except Exception as exc:
            _failed(self.factory, self.org_id, FINALIZE, invoice_pk, invoice_pk, exc, self.now, self.result)
            return 0
        INVOICES_FINALIZED.inc(len(due))
        return len(due)

    # -- group -------------------------------------------------------------------------------------------------------
    def group(self, failed_before: bool) -> None:
        """The invoice groups' COMPOSITE invoices whose members are finalized, in one transaction (each group is
        locked while its composite is made)."""
        try:
            with unit_of_work(self.factory) as session:
                made = self.groups(self._context(session), self.as_of)
                if failed_before:
                    BillingFailureRepository(session, self.org_id).clear(GROUPS, [self.org_id])
            self.result.composites += len(made)  # once committed
            self.result.made_composites.extend(made)
        except Exception as exc:
            _failed(self.factory, self.org_id, GROUPS, self.org_id, None, exc, self.now, self.result)

    # -- expire ------------------------------------------------------------------------------------------------------
    def expire(self, failed_before: bool) -> None:
        """Credits whose window is over and fully billed expire (D9)."""
        try:
            with unit_of_work(self.factory) as session:
                ctx = self._context(session)
                invoices = InvoiceRepository(session, self.org_id)
                self.result.expired_credits += CreditService(ctx, holds=credit_holds).expire(
                    lambda c: invoices.still_billing(c.account_pk, c.starts_at, c.ends_at)
                )
                if failed_before:
                    BillingFailureRepository(session, self.org_id).clear(EXPIRE, [self.org_id])
        except Exception as exc:
            _failed(self.factory, self.org_id, EXPIRE, self.org_id, None, exc, self.now, self.result)

    # -- overdue -----------------------------------------------------------------------------------------------------
    def overdue(self) -> None:
        """Invoices still owed past their due date are marked and announced once (`invoice.overdue`), CHUNK per
        transaction. A failure is logged and tried again at the next run (nothing is lost: an invoice is marked in
        the transaction that writes its webhook)."""
        try:
            while True:
                with unit_of_work(self.factory) as session:
                    if InvoiceService(self._context(session)).announce_overdue(self.as_of, CHUNK) < CHUNK:
                        return
        except Exception as exc:
            log.warning(
                "marking overdue invoices failed", extra={"fields": {"org_id": self.org_id, "error": describe(exc)}}
            )


def _failed(
    factory: sessionmaker[Session],
    org_id: str,
    stage: str,
    subject: str,
    invoice_pk: str | None,
    exc: Exception,
    now: datetime,
    result: RunResult,
) -> None:
    """Record a failed step (its own transaction), count it, log one line with its organization and invoice (the
    traceback only at the first attempt), and add it to the run's result."""
    message = describe(exc)
    try:
        with unit_of_work(factory) as session:
            recorded = BillingFailureRepository(session, org_id).record(stage, subject, invoice_pk, message, now)
    except Exception as error:  # the database is unreachable or refuses: the step is tried again next run
        log.error(
            "bill run: a failure could not be recorded",
            extra={
                "fields": {
                    "org_id": org_id,
                    "stage": stage.lower(),
                    "subject": subject,
                    "reason": message,
                    "record_error": describe(error),
                }
            },
        )
        recorded = Recorded(0, now)
    BILLING_FAILURES.labels(stage=stage.lower()).inc()
    failure = Failure(org_id, stage, subject, invoice_pk, recorded.attempts, recorded.next_attempt_at, message)
    result.failures.append(failure)
    log.warning(
        "billing failed",
        exc_info=exc if recorded.attempts <= 1 else None,
        extra={
            "fields": {
                "org_id": org_id,
                "stage": stage.lower(),
                "invoice_id": invoice_pk,
                "account_pk" if stage == SYNC else "subject": subject,
                "attempts": recorded.attempts,
                "next_attempt_at": recorded.next_attempt_at.isoformat(),
                "reason": message,
            }
        },
    )


class Worker(BackgroundLoop):
    """Runs bill runs with the wall clock every `interval` seconds; hourly, `housekeeping` (usecases/housekeeping.py:
    old event-id claims, expired portal tokens, old webhook messages). Every entry point passes it: there is no
    default, so no worker forgets its chores."""

    thread_name, what, log = "meterline-worker", "bill run", log

    def __init__(
        self,
        factory: sessionmaker[Session],
        interval: float,
        *,
        groups: Groups,
        housekeeping: Callable[[datetime], object],
        leases: Leases,
    ) -> None:
        super().__init__(interval)
        self.factory, self.groups, self.housekeeping, self.leases = factory, groups, housekeeping, leases
        self._last_forget: datetime | None = None

    def tick(self) -> RunResult:
        now = utc_now()
        result = run(self.factory, now, now=now, groups=self.groups, leases=self.leases)
        if self._last_forget is None or now - self._last_forget >= timedelta(hours=1):
            self.housekeeping(now)
            self._last_forget = now
        return result

    def round(self) -> bool:
        result = self.tick()
        if result.finalized or result.failures:
            log.info("bill run", extra={"fields": {"finalized": result.finalized, "failures": len(result.failures)}})
        return False
