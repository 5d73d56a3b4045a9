"""Price plan migrations: move the accounts on a plan version to another plan or version (a PRICE_PLAN job).

Each account is one job entry. Of its schedules on a source version that have not ended, a schedule that has not
started moves whole; the ongoing one is cut where the mode says and the rest goes to the target:
- IMMEDIATE(_IGNORE_OVERRIDE): at `now`;
- NEXT_CYCLE(_IGNORE_OVERRIDE): at the end of the ongoing cycle (nothing moves if the schedule ends first);
- START_OF_CURRENT_CYCLE: at the start of the ongoing cycle (that cycle is rated on the target).
The account's overrides go along, re-checked against the target, unless the mode ends in _IGNORE_OVERRIDE. The
cycle is the target's, or the old schedule's offsets with `retainStartOffsets` (same interval, else the entry
fails). The target must be ACTIVE in the account's currency; an entry that cannot move fails with its reason and
the account keeps its schedules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_model, plan_rules
from meterline.catalog.plan_repository import PricePlanRepository, decode_details, encode_details
from meterline.catalog.plan_service import ACTIVE, PricePlanService
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.rating import cycles
from meterline.schedules.models import PricingSchedule
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import InvoicedUntil, cycle_config, resolve_cycle
from meterline.tenancy.context import Context

MODES = ("IMMEDIATE", "IMMEDIATE_IGNORE_OVERRIDE", "NEXT_CYCLE", "NEXT_CYCLE_IGNORE_OVERRIDE", "START_OF_CURRENT_CYCLE")
JOB_TYPE = "PRICE_PLAN"


def affected_accounts(ctx: Context, source_pk: str, versions: list[int]) -> list[str]:
    """Ids of the accounts with a schedule on one of these versions that has not ended."""
    return ScheduleRepository(ctx.session, ctx.org_id).account_ids_on(source_pk, versions, ctx.now)


def migrate_account(ctx: Context, params: dict[str, Any], account_id: str, *, invoiced_until: InvoicedUntil) -> Account:
    """Move one account as `params` say (the PRICE_PLAN job's entry, run by usecases/schedules.py, which re-syncs
    the drafts after). `invoiced_until` (required): no schedule is cut before the end of the account's finalized
    invoices (D12); such an entry fails with its reason."""
    plans = PricePlanRepository(ctx.session, ctx.org_id)
    accounts = AccountRepository(ctx.session, ctx.org_id)
    account = accounts.by_id(account_id)
    # the account's schedules are read and moved under its row lock (as schedule edits are): a simultaneous
    # migration or edit waits, then sees what this one left
    if account is None or accounts.lock_account(account.pk) is None:
        raise NotFound(f"Account {account_id} not found")
    source = plans.by_id(params["sourceId"])
    target = plans.by_id(params["targetId"])
    if source is None or target is None:
        raise NotFound("The source or target price plan no longer exists")
    if target.status != ACTIVE:
        raise BadRequest(f"Target price plan {target.id} is {target.status}")
    version = plans.version(target, int(params["targetVersion"]))
    if version is None:
        raise NotFound(f"Price plan {target.id} has no version {params['targetVersion']}")
    if account.invoice_currency not in version.active_currencies.split(","):
        raise BadRequest(f"Target price plan {target.id} is not active in {account.invoice_currency}")
    target_details = decode_details(version.details)
    target_cycle = plan_model.parse_stored(version.details).cycle
    mode = params["migrationMode"]
    versions = [int(v) for v in str(params["sourceVersions"]).split(",")]
    tz = ZoneInfo(ctx.org.timezone)
    schedules = ScheduleRepository(ctx.session, ctx.org_id)
    frozen = invoiced_until(ctx, account)
    for schedule in schedules.on_versions(source.pk, versions, ctx.now, account.pk):
        switch = _switch_at(schedule, mode, ctx.now, tz)
        if switch is None:
            continue
        if frozen is not None and switch < frozen:
            raise BadRequest(
                f"Account {account.id} is invoiced up to {cycles.local_day(frozen, tz).isoformat()} "
                f"(finalized invoices never change); {mode} would move it from "
                f"{cycles.local_day(switch, tz).isoformat()}"
            )
        override = None
        if schedule.override is not None and not mode.endswith("_IGNORE_OVERRIDE"):
            given = decode_details(schedule.override)
            merged = plan_rules.normalize({**target_details, **given}, target.type, PricePlanService(ctx).catalog())
            plan_rules.check_activation(plan_model.parse(merged), [account.invoice_currency])
            kept = {k: merged[k] for k in given if k in merged}
            if "pricingRules" in given and "pricingRules" not in kept:  # the account's "no rules" goes along
                kept["pricingRules"] = []
            override = encode_details(kept)
        retain = params.get("retainStartOffsets") == "true"
        cycle = resolve_cycle(target_cycle, switch.astimezone(tz).date(), schedule.cycle, retain)
        moved = PricingSchedule(
            pk=new_id("ps"),
            org_id=ctx.org_id,
            account_pk=account.pk,
            plan_pk=target.pk,
            plan_version=version.version,
            start_at=switch,
            end_at=schedule.end_at,
            override=override,
            cycle=cycle,
            created_at=ctx.now,
        )
        if switch <= schedule.start_at:
            schedules.delete(schedule)
        else:
            schedule.end_at = switch
        schedules.add(moved)
    return account


def _switch_at(schedule: PricingSchedule, mode: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    if schedule.start_at >= now:
        return schedule.start_at
    if mode.startswith("IMMEDIATE"):
        return now
    config = cycle_config(schedule.cycle)
    if config is None:  # no cycle: the next cycle or this one's start mean now
        return now
    current = cycles.cycle_containing(config, now, tz)
    if mode == "START_OF_CURRENT_CYCLE":
        return max(current.start, schedule.start_at)
    return current.end if current.end < schedule.end_at else None


def plan_migration(
    ctx: Context,
    *,
    source_id: str,
    source_versions: list[int],
    target_id: str | None,
    target_version: int | None,
    mode: str,
    retain_start_offsets: bool,
    v2: bool = False,
) -> tuple[dict[str, str], list[str]]:
    """Check a migration request: the PRICE_PLAN job's params and the ids of the accounts it moves
    (usecases/jobs.py makes and runs the job). `v2` (isPricePlanV2Migration) changes nothing: v1 and v2 plans are
    one model (docs/pricing.md, "Price plans v2")."""
    plans = PricePlanRepository(ctx.session, ctx.org_id)
    source = plans.by_id(source_id)
    if source is None:
        raise NotFound(f"Price plan {source_id} not found")
    missing = [v for v in source_versions if not 1 <= v <= source.latest_version]
    if missing:
        raise BadRequest(f"sourceVersion: price plan {source_id} has no version {missing[0]}")
    target = plans.by_id(target_id or source_id)
    if target is None:
        raise BadRequest(f"targetId: no price plan {target_id!r}")
    if target.status != ACTIVE:
        raise BadRequest(f"targetId: price plan {target.id} is {target.status}; activate it first")
    version = target_version or target.latest_version
    if not 1 <= version <= target.latest_version:
        raise BadRequest(f"targetVersion: price plan {target.id} has no version {version}")
    if target.pk == source.pk and version in source_versions:
        raise BadRequest("The target is the source: choose another plan or version")
    params = {
        "sourceId": source.id,
        "sourceVersions": ",".join(map(str, source_versions)),
        "targetId": target.id,
        "targetVersion": str(version),
        "migrationMode": mode,
        "retainStartOffsets": str(retain_start_offsets).lower(),
    }
    return params, affected_accounts(ctx, source.pk, source_versions)
