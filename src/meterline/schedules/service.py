"""Which plan an account is on, when (docs/pricing.md "Schedules").

- Dates are calendar dates in the organization's timezone; a schedule runs from 00:00 of `effectiveFrom` to 00:00
  of `effectiveUntil` (exclusive). `effectiveUntil` from 9999-01-01 on means no end.
- ASSOCIATE puts the plan (its newest version, with the account's overrides) on [from, until), cutting whatever the
  account had there; DISASSOCIATE cuts [from, until) out of the account's schedules. Edits apply in order, in one
  transaction (`edit_schedules`, whose `dry_run` answers without saving).
- The plan must be ACTIVE, in the account's currency, with the overrides priced in it.
- The cycle a schedule bills on is fixed when it is made: the plan's (or the override's) offsets; with
  `anniversaryCycle`, the offsets of `effectiveFrom`; with `retainStartOffsets`, those of the schedule the account
  is on at `effectiveFrom` (same interval, else 400).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_model, plan_rules
from meterline.catalog.plan_model import PlanModel, StoredDetails
from meterline.catalog.plan_models import PricePlan
from meterline.catalog.plan_repository import PricePlanRepository, decode_details, encode_details
from meterline.catalog.plan_schemas import PricingCycleConfig
from meterline.catalog.plan_service import ACTIVE, PricePlanService
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.rating import cycles
from meterline.schedules import schemas
from meterline.schedules.models import PricingSchedule
from meterline.schedules.repository import ScheduleRepository
from meterline.tenancy.context import Context

OPEN_END = date(9999, 1, 1)


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as read (plain values, so a dry run can answer after rolling back)."""

    id: str
    plan_id: str
    plan_name: str
    plan_description: str | None
    plan_type: str
    version: int
    active_currencies: list[str]
    start: datetime
    end: datetime
    override: dict[str, Any] | None  # the account's pricePlanDetailsOverride, defaults filled in
    details: dict[str, Any]  # the plan version's details with the override applied (the API's JSON)
    cycle: cycles.CycleConfig | None
    stored: StoredDetails  # what the details are made of, as stored

    @cached_property  # (a frozen dataclass: cached_property writes the instance's __dict__ directly)
    def model(self) -> PlanModel:
        """The details, typed: what code reads (catalog/plan_model.py), parsed when first read."""
        return self.stored.model


def cycle_config(text: str | None) -> cycles.CycleConfig | None:
    if text is None:
        return None
    c = json.loads(text)
    return cycles.CycleConfig(
        interval=c["interval"],
        day_offset=c["dayOffset"],
        month_offset=c["monthOffset"],
        grace_period_days=c["gracePeriod"],
    )


def resolve_cycle(
    config: PricingCycleConfig | None, start_day: date, kept: str | None, retain: bool, where: str = ""
) -> str | None:
    """The cycle a schedule starting on `start_day` bills on, as stored (JSON with concrete offsets): the plan's
    offsets (`config`, its pricingCycleConfig); with `anniversaryCycle`, those of `start_day`; with `retain`, those
    of `kept`, the cycle of the schedule being continued (same interval, else 400)."""
    if config is None:
        if retain:
            raise BadRequest(f"{where}retainStartOffsets: this plan has no pricing cycle")
        return None
    resolved = {"interval": config.interval, "gracePeriod": config.grace_period}
    if retain:
        if kept is None:
            raise BadRequest(f"{where}retainStartOffsets: there is no pricing cycle on {start_day} to keep")
        current = json.loads(kept)
        if current["interval"] != config.interval:
            raise BadRequest(
                f"{where}retainStartOffsets needs the same pricing interval: the current plan is "
                f"{current['interval']}, this one is {config.interval}"
            )
        day, month = current["dayOffset"], current["monthOffset"]
    elif config.anniversary_cycle or config.start_offset is None:  # plan_rules: no startOffset without anniversary
        day, month = cycles.anniversary_offsets(config.interval, start_day)
    else:
        day, month = config.start_offset.day_offset, config.start_offset.month_offset
    return json.dumps({**resolved, "dayOffset": day, "monthOffset": month})


InvoicedUntil = Callable[[Context, Account], datetime | None]


class ScheduleService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = ScheduleRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.plans = PricePlanRepository(ctx.session, ctx.org_id)
        self.tz = ZoneInfo(ctx.org.timezone)

    def _account(self, account_id: str) -> Account:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    # -- reads ---------------------------------------------------------------------------------------------------
    def views(self, schedules: list[PricingSchedule]) -> list[ScheduleView]:
        plans: dict[str, PricePlan] = {}
        versions: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}  # many schedules share a plan version
        out = []
        for s in schedules:
            plan = plans.get(s.plan_pk) or self.plans.by_pk(s.plan_pk)
            plans[s.plan_pk] = plan
            if (s.plan_pk, s.plan_version) not in versions:
                found = self.plans.version(plan, s.plan_version)
                versions[(s.plan_pk, s.plan_version)] = (found, decode_details(found.details))  # type: ignore[union-attr]
            version, details = versions[(s.plan_pk, s.plan_version)]
            override = decode_details(s.override) if s.override is not None else None
            cycle = cycle_config(s.cycle)
            offsets = (cycle.day_offset, cycle.month_offset) if cycle is not None else None
            details = plan_model.with_override(details, override, offsets)
            out.append(
                ScheduleView(
                    id=s.pk,
                    plan_id=plan.id,
                    plan_name=plan.name,
                    plan_description=plan.description,
                    plan_type=plan.type,
                    version=s.plan_version,
                    active_currencies=[c for c in version.active_currencies.split(",") if c],
                    start=s.start_at,
                    end=s.end_at,
                    override=override,
                    details=details,
                    cycle=cycle,
                    stored=StoredDetails(version.details, s.override, offsets),
                )
            )
        return out

    def of_account(
        self, account_id: str, start: date | None = None, end: date | None = None
    ) -> tuple[Account, list[ScheduleView]]:
        account = self._account(account_id)
        window_start = cycles.local_start_of_day(start, self.tz) if start else None
        window_end = cycles.local_start_of_day(end, self.tz) if end else None
        return account, self.views(self.repo.of_account(account.pk, window_start, window_end))

    # -- writes --------------------------------------------------------------------------------------------------
    def edit(
        self,
        account_id: str,
        edits: list[schemas.UpdatePricingScheduleRequest],
        *,
        invoiced_until: InvoicedUntil,
        dry_run: bool = False,
        merge: bool = False,
    ) -> tuple[Account, list[ScheduleView]]:
        """Apply the edits in order. `invoiced_until` (required) tells up to when the account's usage is on
        finalized invoices (invoicing knows; usecases/schedules.py passes it): no edit reaches before then (D12)."""
        account = self._account(account_id)
        self.accounts.lock_account(account.pk)  # edits of one account's schedules take turns (no overlap)
        frozen = invoiced_until(self.ctx, account)
        savepoint = self.ctx.session.begin_nested() if dry_run else None
        for i, edit in enumerate(edits):
            where = f"edits[{i}]." if len(edits) > 1 else ""
            self._apply(account, edit, where, frozen)
        if merge:
            self._join(account, frozen)
        self.ctx.session.flush()
        result = self.views(self.repo.of_account(account.pk))
        if savepoint is not None:
            savepoint.rollback()  # the answer is what the edits would give; nothing is kept
        return account, result

    def _window(self, edit: schemas.UpdatePricingScheduleRequest, where: str) -> tuple[datetime, datetime]:
        if edit.effective_until <= edit.effective_from:
            raise BadRequest(f"{where}effectiveUntil must be after effectiveFrom")
        start = cycles.local_start_of_day(edit.effective_from, self.tz)
        end = (
            END_OF_TIME
            if edit.effective_until >= OPEN_END
            else cycles.local_start_of_day(edit.effective_until, self.tz)
        )
        return start, end

    def _apply(
        self, account: Account, edit: schemas.UpdatePricingScheduleRequest, where: str, frozen: datetime | None
    ) -> None:
        if getattr(edit, "pre_actions", None):
            raise BadRequest(
                f"{where}preActions: grant licenses with POST /license_updates; pre-actions are not "
                "supported by Meterline yet"
            )
        start, end = self._window(edit, where)
        if frozen is not None and start < frozen:
            raise BadRequest(
                f"{where}effectiveFrom: account {account.id} is invoiced up to "
                f"{cycles.local_day(frozen, self.tz).isoformat()} (finalized invoices never change); "
                "change its schedule from that day on"
            )
        mode = edit.mode or "ASSOCIATE"
        if mode == "DISASSOCIATE":
            if not self.repo.of_account(account.pk, start, end):
                raise BadRequest(
                    f"{where}Account {account.id} has no price plan between {edit.effective_from} and "
                    f"{edit.effective_until}"
                )
            self._cut(account, start, end)
            return
        if edit.price_plan_id is None:
            raise BadRequest(f"{where}pricePlanId is required to associate a price plan")
        plan = self.plans.by_id(edit.price_plan_id)
        if plan is None:
            raise BadRequest(f"{where}pricePlanId: no price plan {edit.price_plan_id!r}")
        if plan.status != ACTIVE:
            raise BadRequest(f"{where}pricePlanId: price plan {plan.id} is {plan.status}; activate it first")
        number = edit._plan_version or plan.latest_version  # a staged v2 card change keeps its schedule's version
        if not 1 <= number <= plan.latest_version:  # a pinned version: never the plan's pending v2 draft
            raise BadRequest(
                f"{where}pricePlanId: price plan {plan.id} has no version {number} "
                f"(its versions are 1 to {plan.latest_version})"
            )
        version = self.plans.version(plan, number)
        if version is None:  # pragma: no cover - versions are never deleted
            raise BadRequest(f"{where}pricePlanId: price plan {plan.id} has no version {number}")
        model = plan_model.parse_stored(version.details)
        active = [c for c in version.active_currencies.split(",") if c]
        currency = account.invoice_currency
        if currency not in active:
            raise BadRequest(
                f"{where}Price plan {plan.id} is not active in {currency}, the currency of account "
                f"{account.id} (active: {', '.join(active) or 'none'})"
            )
        override = None
        if edit.price_plan_details_override is not None or edit.pricing_rules_override is not None:
            override = {}
            if edit.price_plan_details_override is not None:
                override = edit.price_plan_details_override.model_dump(by_alias=True, exclude_none=True)
            rules_where = f"{where}pricingRules (the plan's)"
            if edit.pricing_rules_override is not None:  # the account's rules replace the plan's ([]: none)
                override["pricingRules"] = [
                    r.model_dump(by_alias=True, exclude_none=True) for r in edit.pricing_rules_override
                ]
                rules_where = f"{where}pricingRulesOverride"
            details = decode_details(version.details)
            merged = plan_rules.normalize(
                {**details, **override}, plan.type, PricePlanService(self.ctx).catalog(), rules_where
            )
            model = plan_model.parse(merged)
            plan_rules.check_activation(model, [currency])
            given = override
            override = {k: merged[k] for k in override if k in merged}  # with the defaults a plan's cards get
            if "pricingRules" in given and "pricingRules" not in override:
                override["pricingRules"] = []
        current = next(iter(self.repo.of_account(account.pk, start, start + timedelta(microseconds=1))), None)
        kept = current.cycle if current else None
        cycle = resolve_cycle(model.cycle, edit.effective_from, kept, bool(edit.retain_start_offsets), where)
        self._cut(account, start, end)
        self.repo.add(
            PricingSchedule(
                pk=new_id("ps"),
                org_id=self.ctx.org_id,
                account_pk=account.pk,
                plan_pk=plan.pk,
                plan_version=number,
                start_at=start,
                end_at=end,
                override=encode_details(override) if override is not None else None,
                cycle=cycle,
                created_at=self.ctx.now,
            )
        )

    def _join(self, account: Account, frozen: datetime | None) -> None:
        """mergeSchedules (v2): schedules that touch and are the same plan version with the same override and cycle
        become one (the earlier one runs on). A schedule starting before `frozen` (the finalized invoices) is never
        joined into an earlier one: its invoices are final and keep it."""
        schedules = self.repo.of_account(account.pk)
        kept: PricingSchedule | None = None
        for s in schedules:
            same = kept is not None and (kept.end_at, kept.plan_pk, kept.plan_version, kept.override, kept.cycle) == (
                s.start_at,
                s.plan_pk,
                s.plan_version,
                s.override,
                s.cycle,
            )
            if kept is not None and same and (frozen is None or s.start_at >= frozen):
                kept.end_at = s.end_at
                self.repo.delete(s)
                self.ctx.session.flush()
            else:
                kept = s

    def _cut(self, account: Account, start: datetime, end: datetime) -> None:
        """Remove [start, end) from the account's schedules: trim, split or delete what overlaps."""
        for s in self.repo.of_account(account.pk, start, end):
            if s.start_at < start and s.end_at > end:
                self.repo.add(
                    PricingSchedule(
                        pk=new_id("ps"),
                        org_id=s.org_id,
                        account_pk=s.account_pk,
                        plan_pk=s.plan_pk,
                        plan_version=s.plan_version,
                        start_at=end,
                        end_at=s.end_at,
                        override=s.override,
                        cycle=s.cycle,
                        created_at=self.ctx.now,
                    )
                )
                s.end_at = start
            elif s.start_at < start:
                s.end_at = start
            elif s.end_at > end:
                s.start_at = end
            else:
                self.repo.delete(s)
        self.ctx.session.flush()
