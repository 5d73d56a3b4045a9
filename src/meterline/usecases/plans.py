"""Updating a price plan: an edit of an ACTIVE plan makes a version, to which a migration mode moves accounts.

Previews (see usecases/schedules.py): what moving accounts between versions ("Move accounts to version N", an
update of an ACTIVE plan with a migration mode, or finalizing a v2 draft with one) would do to each account's DRAFT
invoices, computed by running the same use case inside a savepoint that is then rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.catalog.plan_schemas import UpdatePricePlanRequest
from meterline.catalog.plan_service import ACTIVE, PlanView, PricePlanService
from meterline.catalog.plan_v2_service import PricePlanV2Service, V2View
from meterline.jobs.models import Job
from meterline.jobs.statuses import JobStatus
from meterline.schedules import migration
from meterline.tenancy.context import Context
from meterline.usecases.jobs import job_service, start_plan_migration
from meterline.usecases.schedules import DraftsPreview, previewed

PREVIEW_ACCOUNTS = 50  # accounts whose drafts a migration preview lists (it counts the rest)


def update_price_plan(ctx: Context, plan_id: str, request: UpdatePricePlanRequest) -> PlanView:
    return _update(ctx, plan_id, request)[0]


def _update(ctx: Context, plan_id: str, request: UpdatePricePlanRequest) -> tuple[PlanView, Job | None]:
    view = PricePlanService(ctx).update(plan_id, request)
    mode = request.migration_mode
    if view.replaced is None or mode in (None, "NONE"):
        return view, None
    job = start_plan_migration(
        ctx,
        source_id=plan_id,
        source_versions=_migrated_versions(view.replaced, request),
        target_id=plan_id,
        target_version=view.plan.latest_version,
        mode=mode,
        retain_start_offsets=False,
        require_confirmation=False,
    )
    return view, job


def _migrated_versions(previous: int, request: UpdatePricePlanRequest) -> list[int]:
    return list(range(1, previous + 1)) if request.versions_to_migrate == "ALL_VERSION" else [previous]


def _finalize_versions(previous: int, versions_to_migrate: str | None) -> list[int]:
    return list(range(1, previous + 1)) if versions_to_migrate == "ALL_VERSION" else [previous]


def finalize_price_plan_v2(
    ctx: Context, plan_id: str, mode: str | None, versions_to_migrate: str | None
) -> tuple[V2View, Job | None]:
    """v2's finalize: the draft becomes the version in force; a migration mode other than NONE then moves the
    accounts of the version it follows (or of every earlier version, ALL_VERSION) to it, as v1's update does."""
    done = PricePlanV2Service(ctx).finalize(plan_id)
    if done.previous is None or mode in (None, "NONE"):
        return done.view, None
    versions = _finalize_versions(done.previous, versions_to_migrate)
    job = start_plan_migration(
        ctx,
        source_id=plan_id,
        source_versions=versions,
        target_id=plan_id,
        target_version=done.view.version.version,
        mode=mode,
        retain_start_offsets=False,
        require_confirmation=False,
    )
    return done.view, job


# -- previews ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountMove:
    """One account of a migration: why it cannot move (None: it moves), and its drafts before and after."""

    account_id: str
    account_name: str
    failure: str | None
    drafts: DraftsPreview


@dataclass(frozen=True)
class MigrationPreview:
    """What a migration would do: the first `PREVIEW_ACCOUNTS` accounts with their drafts, and counts of all."""

    accounts: list[AccountMove]
    total: int  # accounts the migration takes
    failures: int  # of them, those that cannot move
    first_failure: str | None

    @property
    def rest(self) -> int:
        return self.total - len(self.accounts)

    @property
    def drafts(self) -> DraftsPreview:
        """The listed accounts' drafts together."""
        return DraftsPreview([change for account in self.accounts for change in account.drafts.drafts])

    @property
    def changed_drafts(self) -> int:
        return len(self.drafts.changed)


def _accounts(ctx: Context, ids: Sequence[str]) -> list[Account]:
    repo = AccountRepository(ctx.session, ctx.org_id)
    pks = repo.pks_by_ids(set(ids))
    found = repo.by_pks(set(pks.values()))
    return [found[pks[i]] for i in ids if i in pks]


def _failures(ctx: Context, job: Job | None) -> dict[str, str]:
    """Account id -> why its entry failed (the job's other entries moved)."""
    if job is None:
        return {}
    entries = job_service(ctx).repo.entries(job)
    return {e.entity_id: str((e.result or {}).get("reason", "")) for e in entries if e.status == JobStatus.FAILED}


def _preview(
    ctx: Context, ids: Callable[[], list[str]], change: Callable[[], Job | None], limit: int
) -> MigrationPreview:
    taken: list[str] = []

    def accounts() -> list[Account]:
        taken.extend(ids())
        return _accounts(ctx, taken[:limit])

    drafts, failures = previewed(ctx, accounts, lambda: _failures(ctx, change()))
    shown = _accounts(ctx, taken[:limit])
    first = next(iter(failures.values()), None)
    return MigrationPreview(
        accounts=[AccountMove(a.id, a.name, failures.get(a.id), drafts.of_account(a.id)) for a in shown],
        total=len(taken),
        failures=len(failures),
        first_failure=first,
    )


def preview_plan_migration(
    ctx: Context,
    *,
    source_id: str,
    source_versions: list[int],
    target_id: str | None,
    target_version: int | None,
    mode: str,
    retain_start_offsets: bool,
    limit: int = PREVIEW_ACCOUNTS,
) -> MigrationPreview:
    """What `start_plan_migration` (run at once) would do to the drafts of the accounts it moves; refused as the
    migration would be."""

    def ids() -> list[str]:
        return migration.plan_migration(
            ctx,
            source_id=source_id,
            source_versions=source_versions,
            target_id=target_id,
            target_version=target_version,
            mode=mode,
            retain_start_offsets=retain_start_offsets,
        )[1]

    def change() -> Job:
        return start_plan_migration(
            ctx,
            source_id=source_id,
            source_versions=source_versions,
            target_id=target_id,
            target_version=target_version,
            mode=mode,
            retain_start_offsets=retain_start_offsets,
            require_confirmation=False,
        )

    return _preview(ctx, ids, change, limit)


def preview_price_plan_update(
    ctx: Context, plan_id: str, request: UpdatePricePlanRequest, limit: int = PREVIEW_ACCOUNTS
) -> MigrationPreview:
    """What `update_price_plan` would do to DRAFT invoices: nothing unless it makes a version of an ACTIVE plan and
    a migration mode moves accounts to it; then, that migration's preview. Refused as the update would be."""

    def ids() -> list[str]:
        plan = PricePlanService(ctx).get(plan_id).plan
        moves = request.price_plan_details is not None and request.migration_mode not in (None, "NONE")
        if plan.status != ACTIVE or not moves:
            return []
        return migration.affected_accounts(ctx, plan.pk, _migrated_versions(plan.latest_version, request))

    return _preview(ctx, ids, lambda: _update(ctx, plan_id, request)[1], limit)


def preview_finalize_price_plan_v2(
    ctx: Context, plan_id: str, mode: str | None, versions_to_migrate: str | None, limit: int = PREVIEW_ACCOUNTS
) -> MigrationPreview:
    """What `finalize_price_plan_v2` would do to DRAFT invoices: nothing unless the plan was finalized before and a
    migration mode other than NONE moves accounts; then, that migration's preview. Refused as finalizing would be
    (its `errors` included)."""

    def ids() -> list[str]:
        plan = PricePlanService(ctx).get(plan_id).plan
        if plan.status != ACTIVE or mode in (None, "NONE"):
            return []
        return migration.affected_accounts(ctx, plan.pk, _finalize_versions(plan.latest_version, versions_to_migrate))

    return _preview(ctx, ids, lambda: finalize_price_plan_v2(ctx, plan_id, mode, versions_to_migrate)[1], limit)
