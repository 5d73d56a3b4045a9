"""Price plan schedules change only after what is invoiced, and the account's DRAFT invoices follow at once.

Previews: what a change would do to the open DRAFT invoices, computed for real. The change itself (the same use
case the action calls) runs inside a SAVEPOINT; the drafts' totals are read through the invoicing service before and
after it, then the savepoint is rolled back. So a preview and the action it previews cannot disagree, and a preview
changes nothing (`preview_schedule_edits` and `preview_finalize_schedules` here; `preview_plan_migration`,
`preview_price_plan_update` and `preview_finalize_price_plan_v2` in usecases/plans.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_rules, plan_v2
from meterline.catalog.plan_repository import PricePlanRepository, encode_details
from meterline.catalog.plan_schemas import CreatePricingRule
from meterline.catalog.plan_service import PricePlanService
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import BadRequest, MeterlineError, NotFound
from meterline.entitlements.plan_grants import PlanGrants
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, invoiced_until
from meterline.rating import cycles
from meterline.schedules import migration, v2
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.schedules.service import OPEN_END, ScheduleService, ScheduleView
from meterline.tenancy.context import Context

T = TypeVar("T")


def edit_schedules(
    ctx: Context,
    account_id: str,
    edits: Sequence[UpdatePricingScheduleRequest],
    *,
    dry_run: bool = False,
    merge: bool = False,
) -> tuple[Account, list[ScheduleView]]:
    """Apply the edits in order (all or none); refused before the end of the account's finalized invoices; the
    drafts are re-synced unless it is a dry run. `merge`: then join the schedules that touch and are alike (v2's
    mergeSchedules)."""
    account, views = ScheduleService(ctx).edit(
        account_id, list(edits), invoiced_until=invoiced_until, dry_run=dry_run, merge=merge
    )
    if not dry_run:
        follow_schedules(ctx, account)
    return account, views


def follow_schedules(ctx: Context, account: Account) -> None:
    """After the account's schedules changed: the price plan's feature credits fitted to them (entries of a schedule
    or cycle that is gone voided, overage ending with its schedule; entitlements/plan_grants.py), then the DRAFT
    invoices re-synced. In this order: entries are locked before invoices (docs/architecture.md, "Locks")."""
    PlanGrants(ctx).fit(account)
    InvoiceService(ctx).sync(account, ctx.now)


def migrate_account_entry(ctx: Context, params: dict[str, Any], account_id: str) -> None:
    """A PRICE_PLAN job's entry: move one account (never over its finalized invoices), then re-sync its drafts."""
    account = migration.migrate_account(ctx, params, account_id, invoiced_until=invoiced_until)
    follow_schedules(ctx, account)


# -- previews ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DraftTotal:
    """A DRAFT invoice as a preview reads it: whose, which period, on which plan version, and its total."""

    invoice_id: str
    account_id: str
    account_name: str
    invoice_type: str
    currency: str
    start: datetime
    end: datetime
    plan_name: str | None
    plan_version: int | None
    total: Decimal | None  # None: its data breaks computing it (the bill run reports such a draft)
    usage: tuple[tuple[str, str, Decimal], ...] = ()  # (meter id, name, usage) as the draft's usageInfo has it


def _shape(draft: DraftTotal) -> tuple[object, ...]:
    """What a person reads of a draft: a change of any of it is a change."""
    return (draft.total, draft.start, draft.end, draft.plan_name, draft.plan_version)


@dataclass(frozen=True)
class DraftChange:
    """One draft before and after: `before` None is a draft the change makes, `after` None one it removes."""

    before: DraftTotal | None
    after: DraftTotal | None

    @property
    def draft(self) -> DraftTotal:
        return self.after or self.before  # type: ignore[return-value]  # one of the two is always set

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return True
        return _shape(self.before) != _shape(self.after)

    @property
    def difference(self) -> Decimal | None:
        """after - before (a removed draft counts as 0 after, a new one as 0 before); None if one is unknown."""
        before = Decimal(0) if self.before is None else self.before.total
        after = Decimal(0) if self.after is None else self.after.total
        return None if before is None or after is None else after - before


@dataclass(frozen=True)
class DraftsPreview:
    """Every open DRAFT of the accounts concerned, before and after (in account, then period order)."""

    drafts: list[DraftChange]

    @property
    def changed(self) -> list[DraftChange]:
        return [d for d in self.drafts if d.changed]

    @property
    def unchanged(self) -> int:
        return len(self.drafts) - len(self.changed)

    def of_account(self, account_id: str) -> DraftsPreview:
        return DraftsPreview([d for d in self.drafts if d.draft.account_id == account_id])

    def sums(self) -> list[tuple[str, Decimal | None, Decimal | None]]:
        """(currency, before, after) over the drafts that change; None where a total is unknown."""
        out: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        for change in self.changed:
            before, after = out.get(change.draft.currency, (Decimal(0), Decimal(0)))
            if change.before is not None:
                before = None if before is None or change.before.total is None else before + change.before.total
            if change.after is not None:
                after = None if after is None or change.after.total is None else after + change.after.total
            out[change.draft.currency] = (before, after)
        return [(currency, before, after) for currency, (before, after) in sorted(out.items())]


def draft_totals(ctx: Context, accounts: Sequence[Account]) -> dict[str, DraftTotal]:
    """The accounts' DRAFT invoices with their totals as the invoicing service computes them now (a fresh service:
    nothing computed earlier in the unit of work is reused)."""
    service = InvoiceService(ctx)
    names = {a.pk: (a.id, a.name) for a in accounts}
    out: dict[str, DraftTotal] = {}
    for account_pk, invoices in service.repo.drafts_of_accounts(set(names)).items():
        for invoice in invoices:
            out[invoice.pk] = _draft_total(service, invoice, *names[account_pk])
    return out


def _draft_total(service: InvoiceService, invoice: Invoice, account_id: str, account_name: str) -> DraftTotal:
    total: Decimal | None
    usage: tuple[tuple[str, str, Decimal], ...] = ()
    try:
        _, lines, _, total = service.view(invoice)
        usage = tuple((line.id, line.description, line.value) for line in lines)
    except MeterlineError:
        raise
    except Exception:  # a draft whose data breaks computing it: shown as unknown, not a failed page
        total = None
    view = service.inputs.view(invoice.schedule_pk) if invoice.schedule_pk else None
    return DraftTotal(
        invoice_id=invoice.pk,
        account_id=account_id,
        account_name=account_name,
        invoice_type=invoice.invoice_type,
        currency=invoice.currency,
        start=invoice.start_at,
        end=invoice.end_at,
        plan_name=view.plan_name if view else None,
        plan_version=view.version if view else None,
        total=total,
        usage=usage,
    )


def pair(before: dict[str, DraftTotal], after: dict[str, DraftTotal]) -> DraftsPreview:
    """Drafts matched by invoice (a re-dated or re-priced draft keeps its id); then a draft that goes away and one
    that is made for the same account, kind and period start (the cycle moved whole to another plan or version) read
    as one draft re-priced; what is left is a draft removed or a new one."""
    changes = [DraftChange(b, after.get(pk)) for pk, b in before.items()]
    made = [a for pk, a in after.items() if pk not in before]
    for i, change in enumerate(changes):
        if change.after is not None:
            continue
        b = change.before
        twin = next(
            (
                a
                for a in made
                if b is not None and (a.account_id, a.invoice_type, a.start) == (b.account_id, b.invoice_type, b.start)
            ),
            None,
        )
        if twin is not None:
            made.remove(twin)
            changes[i] = DraftChange(b, twin)
    changes += [DraftChange(None, a) for a in made]
    changes.sort(key=lambda c: (c.draft.account_id, c.draft.start, c.draft.invoice_type, c.before is None))
    return DraftsPreview(changes)


def previewed(
    ctx: Context, accounts: Callable[[], Sequence[Account]], change: Callable[[], T]
) -> tuple[DraftsPreview, T]:
    """Run `change` inside a savepoint and roll it back: the accounts' drafts (synced to now, as the action syncs
    them) before and after it, and what `change` returned. A refusal of the change propagates, nothing kept."""
    session = ctx.session
    session.flush()
    savepoint = session.begin_nested()
    try:
        concerned = list(accounts())
        InvoiceService(ctx).sync_many(concerned, ctx.now)  # the drafts as they stand now, as the action finds them
        session.flush()
        before = draft_totals(ctx, concerned)
        result = change()
        session.flush()
        after = draft_totals(ctx, concerned)
    finally:
        savepoint.rollback()
        session.expire_all()  # what was read inside the savepoint (drafts it made, totals) is not kept either
    return pair(before, after), result


def preview_schedule_edits(
    ctx: Context, account_id: str, edits: Sequence[UpdatePricingScheduleRequest]
) -> DraftsPreview:
    """What `edit_schedules` would do to the account's DRAFT invoices; refused as the edits would be."""

    def account() -> list[Account]:
        found = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
        if found is None:
            raise NotFound(f"Account {account_id} not found")
        return [found]

    preview, _ = previewed(ctx, account, lambda: edit_schedules(ctx, account_id, edits))
    return preview


# -- staged edits (SchedulesApi v2) --------------------------------------------------------------------------------
def _staged_account(
    ctx: Context, account_id: str, *, lock: bool
) -> tuple[Account, ScheduleRepository, list[dict[str, Any]]]:
    """The account and its staged items; `lock`: its row locked first (staging and finalizing take turns; a read
    of the draft takes no lock, so it never waits behind a finalize nor holds one up)."""
    accounts = AccountRepository(ctx.session, ctx.org_id)
    found = accounts.by_id(account_id)
    if found is None:
        raise NotFound(f"Account {account_id} not found")
    account = accounts.lock_account(found.pk) if lock else found
    if account is None:
        raise NotFound(f"Account {account_id} not found")
    repo = ScheduleRepository(ctx.session, ctx.org_id)
    draft = repo.draft_of(account.pk)
    return account, repo, v2.staged(draft.edits if draft else None)


def _v1_edits(
    ctx: Context,
    account: Account,
    repo: ScheduleRepository,
    items: list[dict[str, Any]],
    frozen: datetime | None,
) -> tuple[list[UpdatePricingScheduleRequest], bool]:
    """The staged items (v2 edits, and a schedule's staged cards and rules) as the v1 edits they stand for, and
    whether one asks to merge schedules."""
    out = []
    merge = False
    tz = ZoneInfo(ctx.org.timezone)
    for i, item in enumerate(items):
        where = f"edits[{i}]." if len(items) > 1 else ""
        if "schedule" in item:
            schedule = repo.by_pk(item["schedule"])
            if schedule is None or schedule.account_pk != account.pk:
                raise BadRequest(f"{where}schedule {item['schedule']} is no longer the account's")
            plan = PricePlanRepository(ctx.session, ctx.org_id).by_pk(schedule.plan_pk)
            out.append(v2.item_to_v1(item, schedule, plan.id, tz, frozen, where))
            continue
        edit = v2.edit_of(item)
        out.append(v2.to_v1(edit, account.pk, repo, where))
        merge = merge or bool(edit.merge_schedules)
    return out, merge


def _never_invoiced(ctx: Context, account: Account) -> datetime | None:
    return None


def draft_schedules(ctx: Context, account_id: str) -> tuple[Account, list[ScheduleView]]:
    """The account's schedules as its staged edits would make them (ACTIVE ones if nothing is staged). Read without
    the finalized-period guard (finalize applies it), so a draft stays readable after an invoice is finalized."""
    account, repo, items = _staged_account(ctx, account_id, lock=False)
    edits, merge = _v1_edits(ctx, account, repo, items, invoiced_until(ctx, account))
    if not edits:
        return ScheduleService(ctx).of_account(account_id)
    return ScheduleService(ctx).edit(account_id, edits, invoiced_until=_never_invoiced, dry_run=True, merge=merge)


def stage_schedule_edits(
    ctx: Context, account_id: str, edits: Sequence[v2.UpdateAccountScheduleV2Request], *, discard: bool = False
) -> tuple[Account, list[ScheduleView]]:
    """Add the edits to the account's staged ones (`discard`: in place of them), checked at once as finalize would
    apply them (the finalized-period guard included) but kept only as staged; answers the account's draft
    schedules. An edit's pinned plan version (`_plan_version`, the console's choice; the API's edits take the newest)
    is staged with it and finalized as chosen."""
    account, repo, items = _staged_account(ctx, account_id, lock=True)
    items = ([] if discard else items) + [v2.edit_item(e) for e in edits]
    if len(items) > v2.MAX_STAGED:
        raise BadRequest(
            f"Account {account_id} would have {len(items)} staged schedule edits (at most {v2.MAX_STAGED}): "
            "finalize or discard them first"
        )
    v1_edits, merge = _v1_edits(ctx, account, repo, items, invoiced_until(ctx, account))
    _, views = ScheduleService(ctx).edit(account_id, v1_edits, invoiced_until=invoiced_until, dry_run=True, merge=merge)
    repo.save_draft(account.pk, encode_details({"items": items}), ctx.now)
    return account, views


def finalize_schedules(ctx: Context, account_id: str, request: v2.FinalizeAccountSchedules) -> list[ScheduleView]:
    """Apply the staged edits through `edit_schedules` (in order, all or none, never before the finalized invoices,
    the drafts re-synced), then drop them."""
    if request.pre_actions:
        raise BadRequest(
            "preActions: grant licenses with POST /license_updates; pre-actions are not supported by Meterline yet"
        )
    account, repo, items = _staged_account(ctx, account_id, lock=True)
    if not items:
        raise BadRequest(f"Account {account_id} has no staged schedule edits to finalize")
    v1_edits, merge = _v1_edits(ctx, account, repo, items, invoiced_until(ctx, account))
    _, views = edit_schedules(ctx, account_id, v1_edits, merge=merge or bool(request.merge_schedules))
    repo.drop_draft(account.pk)
    return views


def preview_finalize_schedules(
    ctx: Context, account_id: str, request: v2.FinalizeAccountSchedules
) -> tuple[DraftsPreview, list[ScheduleView]]:
    """What `finalize_schedules` would do to the account's DRAFT invoices, and the schedules it would leave; refused
    as finalizing would be."""

    def account() -> list[Account]:
        found = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
        if found is None:
            raise NotFound(f"Account {account_id} not found")
        return [found]

    return previewed(ctx, account, lambda: finalize_schedules(ctx, account_id, request))


def discard_schedules(ctx: Context, account_id: str) -> None:
    account, repo, items = _staged_account(ctx, account_id, lock=True)
    if not repo.drop_draft(account.pk):
        raise BadRequest(f"Account {account_id} has no staged schedule edits to discard")


# -- a schedule's rate cards and pricing rules (SchedulesApi v2) ---------------------------------------------------
def _schedule(
    ctx: Context, schedule_id: str, *, lock: bool
) -> tuple[Account, ScheduleRepository, list[dict[str, Any]], Any]:
    """The schedule's account (`lock`: its row locked), the staged items, and the schedule in force."""
    repo = ScheduleRepository(ctx.session, ctx.org_id)
    schedule = repo.by_pk(schedule_id)
    if schedule is None:
        raise NotFound(f"Schedule {schedule_id} not found")
    account = AccountRepository(ctx.session, ctx.org_id).read_by_pk(schedule.account_pk)
    if account is None:
        raise NotFound(f"Schedule {schedule_id} not found")
    account, repo, items = _staged_account(ctx, account.id, lock=lock)
    return account, repo, items, schedule


def schedule_view(ctx: Context, schedule_id: str, mode: str) -> tuple[Account, ScheduleView]:
    """The schedule in force (ACTIVE) or with its staged cards and rules (DRAFT)."""
    account, _, items, schedule = _schedule(ctx, schedule_id, lock=False)
    item = v2.schedule_item(items, schedule.pk) if mode == "DRAFT" else None
    [view] = ScheduleService(ctx).views([v2.staged_copy(schedule, item)])
    return account, view


def _stage_item(
    ctx: Context, schedule_id: str, change: Callable[[ScheduleView], dict[str, Any]]
) -> tuple[Account, ScheduleView]:
    """Stage a change of the schedule's override (its cards or rules), checked at once as finalize would apply it."""
    account, repo, items, schedule = _schedule(ctx, schedule_id, lock=True)
    item = v2.schedule_item(items, schedule.pk)
    [view] = ScheduleService(ctx).views([v2.staged_copy(schedule, item)])
    changed = {"schedule": schedule.pk, "override": change(view)}
    for other in items:
        if "edit" in other:
            edit = v2.UpdateAccountScheduleV2Request.model_validate(other["edit"])
            tz = ZoneInfo(ctx.org.timezone)
            if edit.effective_from < _day(schedule.end_at, tz) and edit.effective_until > _day(schedule.start_at, tz):
                raise BadRequest(
                    f"Schedule {schedule_id}: a staged edit of the account changes it; finalize or discard the "
                    "staged edits first"
                )
    items = [i for i in items if i is not item] + [changed]
    v1_edits, merge = _v1_edits(ctx, account, repo, items, invoiced_until(ctx, account))
    ScheduleService(ctx).edit(account.id, v1_edits, invoiced_until=invoiced_until, dry_run=True, merge=merge)
    repo.save_draft(account.pk, encode_details({"items": items}), ctx.now)
    [staged_view] = ScheduleService(ctx).views([v2.staged_copy(schedule, changed)])
    return account, staged_view


def _day(instant: datetime, tz: ZoneInfo) -> date:
    return OPEN_END if instant >= END_OF_TIME else cycles.local_day(instant, tz)


def stage_schedule_cards(
    ctx: Context, schedule_id: str, operations: list[plan_v2.Operation]
) -> tuple[Account, ScheduleView, list[plan_v2.NamedCard]]:
    """Stage rate-card operations on a schedule (v2's CREATE / UPDATE / DELETE on its cards, as on a plan's)."""
    touched: list[str] = []

    def change(view: ScheduleView) -> dict[str, Any]:
        cards, names = plan_v2.apply(plan_v2.named_cards(view.model), operations)
        touched.extend(names)
        return v2.with_cards(view, cards)

    account, view = _stage_item(ctx, schedule_id, change)
    by_name = {c.name: c for c in plan_v2.named_cards(view.model)}
    return account, view, [by_name[n] for n in touched if n in by_name]


def stage_schedule_rules(
    ctx: Context, schedule_id: str, rules: list[CreatePricingRule]
) -> tuple[Account, ScheduleView]:
    """Stage the schedule's pricing rules (replacing its rules whole; [] none), checked against its cards."""

    def change(view: ScheduleView) -> dict[str, Any]:
        dumped = [r.model_dump(by_alias=True, exclude_none=True) for r in rules]
        plan_rules.check_pricing_rules(dumped, view.model.cards())
        return {**(view.override or {}), "pricingRules": dumped}

    return _stage_item(ctx, schedule_id, change)


def account_schedule(ctx: Context, account_id: str, schedule_id: str) -> tuple[Account, ScheduleView]:
    """One of the account's schedules (NotFound when it is not the account's)."""
    account = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
    schedule = ScheduleRepository(ctx.session, ctx.org_id).by_pk(schedule_id)
    if account is None or schedule is None or schedule.account_pk != account.pk:
        raise NotFound(f"Account {account_id} has no schedule {schedule_id}")
    [view] = ScheduleService(ctx).views([schedule])
    return account, view


def set_schedule_rules(ctx: Context, account_id: str, schedule_id: str, rules: list[dict[str, Any]]) -> ScheduleView:
    """The account's own pricing rules on one schedule (`pricingRulesOverride`, replacing the plan's; [] none), at
    once (the console): as a staged rule change is finalized (`item_to_v1`: the schedule's plan and version again
    over its window, from the end of the finalized invoices, with its card override kept), through
    `edit_schedules`, the drafts re-synced. Answers the schedule made (a new id)."""
    account, view = account_schedule(ctx, account_id, schedule_id)
    repo = ScheduleRepository(ctx.session, ctx.org_id)
    schedule = repo.by_pk(schedule_id)
    if schedule is None:  # pragma: no cover - account_schedule found it
        raise NotFound(f"Account {account_id} has no schedule {schedule_id}")
    plan = PricePlanRepository(ctx.session, ctx.org_id).by_pk(schedule.plan_pk)
    given = [{k: v for k, v in r.items() if k not in ("id", "version")} for r in rules]  # numbered by order
    item = {"schedule": schedule.pk, "override": {**(view.override or {}), "pricingRules": given}}
    edit = v2.item_to_v1(item, schedule, plan.id, ZoneInfo(ctx.org.timezone), invoiced_until(ctx, account), "")
    _, views = edit_schedules(ctx, account.id, [edit])
    start = max(schedule.start_at, invoiced_until(ctx, account) or schedule.start_at)
    return next(v for v in views if v.start <= start < v.end)


def schedule_errors(ctx: Context, schedule_id: str) -> list[plan_v2.CardError]:
    """What keeps the schedule (with its staged cards and rules) from finalizing: catalog/plan_rules.py run card by
    card as for a v2 plan's draft (catalog/plan_v2.py, `settle`); the schedule's own fields are its errors."""
    _, view = schedule_view(ctx, schedule_id, "DRAFT")
    catalog = PricePlanService(ctx).catalog()
    errors = plan_v2.settle(view.details, view.plan_type, catalog, schedule_id).errors
    return errors
