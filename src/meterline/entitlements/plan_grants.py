"""The feature credits a price plan grants each cycle of a schedule (docs/entitlements.md, "Entitlements in price
plans").

- A billing entitlement card grants its `featureCreditLimit` units of its feature in each cycle it bills in
  (recurrenceConfig), as one PRICE_PLAN entry `scheduleId#YYYYMMDD$PRICE_PLAN` (the day the cycle starts, in the
  organization's timezone), valid from the piece's start + `effectiveFrom` to the piece's start + `effectiveUntil`
  (ISO durations on the organization's calendar). IN_ADVANCE and IN_ARREARS cards grant when the cycle starts;
  PREPAID cards once the cycle's in-advance invoice is PAID.
- An entitlement overage card grants one OVERAGE entry per billing period (billingConfig), `maxQuantity` units (no
  limit without it), valid over the period: the entitled events consume it after every other entry, and the
  invoice of the period's last cycle bills what was used of it.

Grants are made when they are needed and at most once: `ensure` runs before `/entitled` consumes and before
feature credits or entitlement values are read, for the cycle that holds the instant in question; the entry id
makes a grant idempotent (a key lock, backed by the table's unique key, makes concurrent callers take turns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_rules, rate_cards
from meterline.catalog.plan_schemas import EntitlementOverageRateCard
from meterline.core.clock import END_OF_TIME
from meterline.entitlements.models import FeatureCreditEntry
from meterline.entitlements.repository import EntryRepository
from meterline.entitlements.service import ACTIVE, OVERAGE, PRICE_PLAN, VOIDED, FeatureCreditService, cycle_entry_id
from meterline.entitlements.statuses import EntrySource
from meterline.rating import cycles
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import ScheduleService, ScheduleView
from meterline.tenancy.context import Context

TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class CycleGrant:
    feature_id: str
    entry_id: str
    source: EntrySource
    starts: datetime
    ends: datetime
    granted: Decimal | None  # None: no limit (an overage card without maxQuantity)


def shifted(instant: datetime, duration: str, tz: tzinfo) -> datetime:
    """`instant` moved by an ISO 8601 duration of years, months, weeks and days on the organization's calendar (the
    local time of day kept)."""
    local = instant.astimezone(tz)
    try:
        day = plan_rules.add_duration(local.date(), duration)
    except (ValueError, OverflowError):  # past the calendar's last day (a plan saved before durations were bounded)
        return END_OF_TIME
    return min(END_OF_TIME, cycles.local_start_of_day(day, tz) + (local - cycles.local_start_of_day(local.date(), tz)))


def _nth_cycle(config: cycles.CycleConfig, cycle: cycles.Cycle, steps: int, tz: tzinfo) -> cycles.Cycle:
    """The cycle `steps` cycles after (or before, when negative) `cycle`."""
    for _ in range(steps):
        cycle = cycles.next_cycle(config, cycle, tz)
    for _ in range(-steps):
        cycle = cycles.cycle_containing(config, cycle.start - TICK, tz)
    return cycle


def overage_window(
    view: ScheduleView, cycle: cycles.Cycle, index: int, card: EntitlementOverageRateCard, tz: tzinfo
) -> tuple[str, datetime, datetime]:
    """The OVERAGE entry of an overage card for the billing period holding the schedule's cycle `index` (`cycle`):
    its id (the day the period's first cycle starts) and its window (the period, within the schedule)."""
    if view.cycle is None:  # pragma: no cover - a schedule with overage cards is on a BILLING plan, with a cycle
        raise ValueError(f"schedule {view.id} has no pricing cycle")
    config = cycles.effective_config(view.cycle, view.start, tz)
    first, end = rate_cards.overage_period(card, index)
    first_cycle = _nth_cycle(config, cycle, first - index, tz)
    last_cycle = _nth_cycle(config, cycle, end - 1 - index, tz)
    entry_id = cycle_entry_id(view.id, cycles.local_day(first_cycle.start, tz), OVERAGE)
    return entry_id, max(first_cycle.start, view.start), min(last_cycle.end, view.end)


def cycle_grants(
    view: ScheduleView, cycle: cycles.Cycle, index: int, tz: tzinfo, *, prepaid: bool = False
) -> list[CycleGrant]:
    """What the schedule's plan grants for its cycle `index` (`cycle`): PRICE_PLAN entries of its billing
    entitlement cards (PREPAID ones only with `prepaid`, the others only without), and OVERAGE entries of its
    overage cards for the billing period holding the cycle (without `prepaid`). Pure."""
    out: list[CycleGrant] = []
    piece_start = max(cycle.start, view.start)
    day = cycles.local_day(cycle.start, tz)
    for card in view.model.billing_entitlement_cards:
        if (card.invoice_timing == "PREPAID") != prepaid or not rate_cards.applies(card, index):
            continue
        config = card.feature_configs[0]
        units = config.feature_credit_limit
        if units <= 0:
            continue
        out.append(
            CycleGrant(
                card.feature_id,
                cycle_entry_id(view.id, day, PRICE_PLAN),
                PRICE_PLAN,
                shifted(piece_start, config.effective_from or "P0D", tz),
                shifted(piece_start, config.effective_until, tz),
                units,
            )
        )
    if prepaid or view.cycle is None:
        return out
    for overage in view.model.entitlement_overage_cards:
        limit = overage.max_quantity
        if limit is not None and limit <= 0:
            continue
        entry_id, starts, ends = overage_window(view, cycle, index, overage, tz)
        out.append(CycleGrant(overage.feature_id, entry_id, OVERAGE, starts, ends, limit))
    return out


class PlanGrants:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tz = ZoneInfo(ctx.org.timezone)
        self.repo = EntryRepository(ctx.session, ctx.org_id)

    def _missing(self, account: Account, grants: list[CycleGrant]) -> list[CycleGrant]:
        if not grants:
            return []
        have = self.repo.entry_ids(account.pk, {g.feature_id for g in grants})
        return [g for g in grants if (g.feature_id, g.entry_id) not in have]

    def apply(self, account: Account, grants: list[CycleGrant], origin: str) -> None:
        """Add the entries not made yet (idempotent by entry id)."""
        credits = FeatureCreditService(self.ctx)
        for g in self._missing(account, grants):
            self.repo.lock_key("feature-entry", account.pk, g.feature_id, g.entry_id)
            if self.repo.by_entry_id(account.pk, g.feature_id, g.entry_id) is not None:
                continue  # a concurrent caller made it while we waited
            credits.add_entry(
                account.pk,
                g.feature_id,
                g.entry_id,
                source=g.source,
                starts=g.starts,
                ends=g.ends,
                granted=g.granted,
                origin=origin,
            )

    def _due(self, account: Account, at: datetime, *, fresh: bool = False) -> list[tuple[CycleGrant, str]]:
        """What the account's schedules grant for the cycle holding `at` (made or not), with the schedule's id."""
        at = min(at, self.ctx.now)
        repo = ScheduleRepository(self.ctx.session, self.ctx.org_id)
        if fresh:  # (after the account's lock: an edit that committed meanwhile is read)
            schedules = repo.of_account(account.pk, at, at + TICK, fresh=True)
        else:  # they are only read
            schedules = repo.read_of_account(account.pk, at, at + TICK)
        if not schedules:
            return []
        out = []
        for view in ScheduleService(self.ctx).views(schedules):
            if view.cycle is None or not view.model.has_entitlement_cards or not view.start <= at < view.end:
                continue
            config = cycles.effective_config(view.cycle, view.start, self.tz)
            cycle = cycles.cycle_containing(config, at, self.tz)
            index = len(cycles.cycles_overlapping(config, view.start, cycle.start, self.tz))
            out += [(g, view.id) for g in cycle_grants(view, cycle, index, self.tz)]
        return out

    def ensure(self, account: Account, at: datetime) -> None:
        """Grant what the account's schedules owe for the cycle holding `at` (an instant up to now): before
        `/entitled` consumes. When something is owed, the account's row is locked and its schedules read again
        before granting: an edit of the schedules (which locks the row first, then fits the entries) either
        committed before, and is read, or waits until these entries are made, and fits them (never an entry of a
        schedule that is gone)."""
        due = self._due(account, at)
        if not self._missing(account, [g for g, _ in due]):
            return
        if AccountRepository(self.ctx.session, self.ctx.org_id).lock_account(account.pk) is None:
            return  # deleted meanwhile: nothing is owed to it
        for grant, origin in self._due(account, at, fresh=True):
            self.apply(account, [grant], origin)

    def owed(self, account: Account, at: datetime) -> list[FeatureCreditEntry]:
        """The entries the schedules owe for the cycle holding `at` and have not made yet, as unsaved rows: a read
        shows them as they will be, and writes nothing (a GET never takes SQLite's write lock)."""
        due = self._due(account, at)
        missing = {(g.feature_id, g.entry_id) for g in self._missing(account, [g for g, _ in due])}
        return [
            FeatureCreditEntry(
                pk="",  # not made: sorts before every made entry, which it cannot be confused with
                org_id=self.ctx.org_id,
                account_pk=account.pk,
                feature_pk=g.feature_id,
                entry_id=g.entry_id,
                source=g.source,
                status=ACTIVE,
                starts_at=g.starts,
                ends_at=g.ends,
                granted=g.granted,
                used=Decimal(0),
                origin=origin,
                created_at=self.ctx.now,
                updated_at=self.ctx.now,
            )
            for g, origin in due
            if (g.feature_id, g.entry_id) in missing
        ]

    def fit(self, account: Account) -> None:
        """After the account's schedules changed (usecases/schedules.py): entries of a schedule that is gone, or of
        its cycles after its new end, are VOIDED (their cycles will not be invoiced); an OVERAGE entry of a schedule
        that now ends earlier ends with it (overage after it could not be billed). Locked as every entry change."""
        now = self.ctx.now
        schedules = {s.pk: s for s in ScheduleRepository(self.ctx.session, self.ctx.org_id).of_account(account.pk)}
        for entry in self.repo.lock_plan_entries(account.pk, now):
            schedule = schedules.get(entry.origin or "")
            if schedule is None or entry.starts_at >= schedule.end_at:
                entry.status = VOIDED
                entry.voided_at = entry.updated_at = now
            elif entry.source == OVERAGE and entry.ends_at > schedule.end_at:
                entry.ends_at = max(schedule.end_at, now)
                entry.updated_at = now
        self.ctx.session.flush()

    def grant_prepaid(self, account: Account, view: ScheduleView, cycle_start: datetime) -> None:
        """The PREPAID billing entitlement cards' entries of the cycle starting at `cycle_start`, once its in-advance
        invoice is PAID."""
        if view.cycle is None or not view.model.billing_entitlement_cards:
            return
        config = cycles.effective_config(view.cycle, view.start, self.tz)
        cycle = cycles.cycle_containing(config, cycle_start, self.tz)
        index = len(cycles.cycles_overlapping(config, view.start, cycle.start, self.tz))
        self.apply(account, cycle_grants(view, cycle, index, self.tz, prepaid=True), view.id)
