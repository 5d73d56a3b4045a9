from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from meterline.accounts.models import Account
from meterline.core.prepared import Prepared, columns, load
from meterline.core.repository import OrgRepository
from meterline.schedules.models import PricingSchedule, ScheduleDraft

# Ingestion's read of one account's schedules, built once and run through the driver (core/prepared.py).
_OF_ACCOUNT = Prepared(
    select(*columns(PricingSchedule))
    .where(PricingSchedule.org_id == bindparam("org_id"), PricingSchedule.account_pk == bindparam("account_pk"))
    .order_by(PricingSchedule.start_at)
)

# The entitlement reads' and /entitled's look at what an account's schedules grant now (entitlements/plan_grants.py):
# on every such request, so built once too.
_OF_ACCOUNT_DURING = Prepared(
    select(*columns(PricingSchedule))
    .where(
        PricingSchedule.org_id == bindparam("org_id"),
        PricingSchedule.account_pk == bindparam("account_pk"),
        PricingSchedule.end_at > bindparam("start"),
        PricingSchedule.start_at < bindparam("end"),
    )
    .order_by(PricingSchedule.start_at)
)


class ScheduleRepository(OrgRepository):
    def by_pk(self, pk: str) -> PricingSchedule | None:
        return self.session.scalar(self.scoped(PricingSchedule).where(PricingSchedule.pk == pk))

    def by_pks(self, pks: set[str]) -> dict[str, PricingSchedule]:
        if not pks:
            return {}
        return {s.pk: s for s in self.session.scalars(self.scoped(PricingSchedule).where(PricingSchedule.pk.in_(pks)))}

    def of_account(
        self, account_pk: str, start: datetime | None = None, end: datetime | None = None, *, fresh: bool = False
    ) -> list[PricingSchedule]:
        """The account's schedules that overlap [start, end), in time order. `fresh`: read again from the database
        even those this session already holds (after a lock, a concurrent edit's values)."""
        stmt = self.scoped(PricingSchedule).where(PricingSchedule.account_pk == account_pk)
        if fresh:
            stmt = stmt.execution_options(populate_existing=True)
        if start is not None:
            stmt = stmt.where(PricingSchedule.end_at > start)
        if end is not None:
            stmt = stmt.where(PricingSchedule.start_at < end)
        return list(self.session.scalars(stmt.order_by(PricingSchedule.start_at)))

    def read_of_account(self, account_pk: str, start: datetime, end: datetime) -> list[PricingSchedule]:
        """`of_account` over [start, end) for a reader (a prepared statement; instances that are not in the session,
        read from the database whatever the session holds)."""
        params = {"org_id": self.org_id, "account_pk": account_pk, "start": start, "end": end}
        return [load(PricingSchedule, row) for row in _OF_ACCOUNT_DURING.all(self.session, params)]

    def of_accounts(self, account_pks: set[str]) -> dict[str, list[PricingSchedule]]:
        """Every schedule of these accounts, per account, in time order (ingestion: one query per batch)."""
        if not account_pks:
            return {}
        stmt = self.scoped(PricingSchedule).where(self.among(PricingSchedule.account_pk, account_pks))
        found: dict[str, list[PricingSchedule]] = {}
        for row in self.session.scalars(stmt.order_by(PricingSchedule.start_at)):
            found.setdefault(row.account_pk, []).append(row)
        return found

    def for_coverage(self, account_pks: set[str]) -> dict[str, list[PricingSchedule]]:
        """`of_accounts` for ingestion's coverage, which only reads them: with one account (an event sent alone), a
        prepared statement, and instances that are not in the session."""
        if len(account_pks) != 1:
            return self.of_accounts(account_pks)
        [account_pk] = account_pks
        rows = _OF_ACCOUNT.all(self.session, {"org_id": self.org_id, "account_pk": account_pk})
        return {account_pk: [load(PricingSchedule, row) for row in rows]} if rows else {}

    def plan_in_use(self, plan_pk: str, after: datetime) -> bool:
        """Does any schedule use the plan at or after `after`?"""
        stmt = select(PricingSchedule.pk).where(
            PricingSchedule.org_id == self.org_id, PricingSchedule.plan_pk == plan_pk, PricingSchedule.end_at > after
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def on_versions(
        self, plan_pk: str, versions: list[int], after: datetime, account_pk: str | None = None
    ) -> list[PricingSchedule]:
        """Schedules on these versions of a plan that end after `after` (of one account, or of all)."""
        stmt = self.scoped(PricingSchedule).where(
            PricingSchedule.plan_pk == plan_pk,
            PricingSchedule.plan_version.in_(versions),
            PricingSchedule.end_at > after,
        )
        if account_pk is not None:
            stmt = stmt.where(PricingSchedule.account_pk == account_pk)
        return list(self.session.scalars(stmt.order_by(PricingSchedule.start_at)))

    def account_ids_on(self, plan_pk: str, versions: list[int], after: datetime) -> list[str]:
        stmt = (
            select(Account.id)
            .join(PricingSchedule, PricingSchedule.account_pk == Account.pk)
            .where(
                PricingSchedule.org_id == self.org_id,
                PricingSchedule.plan_pk == plan_pk,
                PricingSchedule.plan_version.in_(versions),
                PricingSchedule.end_at > after,
            )
            .distinct()
            .order_by(Account.id)
        )
        return list(self.session.scalars(stmt))

    # -- staged edits (SchedulesApi v2): the caller holds the account's row lock ---------------------------------
    def draft_of(self, account_pk: str) -> ScheduleDraft | None:
        return self.session.scalar(self.scoped(ScheduleDraft).where(ScheduleDraft.account_pk == account_pk))

    def save_draft(self, account_pk: str, edits: str, now: datetime) -> None:
        draft = self.draft_of(account_pk)
        if draft is None:
            self.add(ScheduleDraft(account_pk=account_pk, org_id=self.org_id, edits=edits, updated_at=now))
        else:
            draft.edits, draft.updated_at = edits, now
        self.session.flush()

    def drop_draft(self, account_pk: str) -> bool:
        draft = self.draft_of(account_pk)
        if draft is None:
            return False
        self.delete(draft)
        self.session.flush()
        return True
