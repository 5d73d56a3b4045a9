from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.licenses.models import LicenseUpdate


class LicenseRepository(OrgRepository):
    def by_idempotency_key(self, key: str) -> LicenseUpdate | None:
        return self.session.scalar(self.scoped(LicenseUpdate).where(LicenseUpdate.idempotency_key == key))

    def history(self, account_pk: str, license_id: str) -> list[LicenseUpdate]:
        """Every update of the license for the account, in effective order (then creation order)."""
        stmt = self.scoped(LicenseUpdate).where(
            LicenseUpdate.account_pk == account_pk, LicenseUpdate.license_id == license_id
        )
        return list(self.session.scalars(stmt.order_by(LicenseUpdate.effective_from, LicenseUpdate.pk)))

    def of_account(self, account_pk: str) -> list[LicenseUpdate]:
        stmt = self.scoped(LicenseUpdate).where(LicenseUpdate.account_pk == account_pk)
        return list(self.session.scalars(stmt.order_by(LicenseUpdate.effective_from, LicenseUpdate.pk)))

    def of_accounts(self, account_pks: set[str]) -> dict[str, list[LicenseUpdate]]:
        """Every update of these accounts, per account, in effective order (invoicing: one query per chunk)."""
        found: dict[str, list[LicenseUpdate]] = {pk: [] for pk in account_pks}
        if account_pks:
            stmt = self.scoped(LicenseUpdate).where(LicenseUpdate.account_pk.in_(account_pks))
            for u in self.session.scalars(stmt.order_by(LicenseUpdate.effective_from, LicenseUpdate.pk)):
                found[u.account_pk].append(u)
        return found

    def steps_for(
        self,
        start: datetime,
        end: datetime,
        *,
        account_pks: set[str] | None,
        license_ids: set[str] | None,
        limit: int,
    ) -> list[LicenseUpdate] | None:
        """What [start, end) needs of the updates (of these accounts and licenses, when given): per (account,
        license) the one in force at `start` (the last effective at or before it) and those effective inside
        (start, end); sorted by account, license, then effective order. None when there are more than `limit`
        (metrics: NAMED_LICENSE_USAGE)."""
        if (account_pks is not None and not account_pks) or (license_ids is not None and not license_ids):
            return []
        where = [LicenseUpdate.org_id == self.org_id]
        if account_pks is not None:
            where.append(LicenseUpdate.account_pk.in_(sorted(account_pks)))
        if license_ids is not None:
            where.append(LicenseUpdate.license_id.in_(sorted(license_ids)))
        rank = (
            func.row_number()
            .over(
                partition_by=(LicenseUpdate.account_pk, LicenseUpdate.license_id),
                order_by=(LicenseUpdate.effective_from.desc(), LicenseUpdate.pk.desc()),
            )
            .label("rank")
        )
        ranked = select(LicenseUpdate.pk, rank).where(*where, LicenseUpdate.effective_from <= start).subquery()
        in_force = select(ranked.c.pk).where(ranked.c.rank == 1)
        inside = and_(LicenseUpdate.effective_from > start, LicenseUpdate.effective_from < end)
        stmt = (
            select(LicenseUpdate)
            .where(*where, or_(LicenseUpdate.pk.in_(in_force), inside))
            .order_by(
                LicenseUpdate.account_pk, LicenseUpdate.license_id, LicenseUpdate.effective_from, LicenseUpdate.pk
            )
            .limit(limit + 1)
        )
        found = list(self.session.scalars(stmt))
        return None if len(found) > limit else found

    def at(self, account_pk: str, license_id: str, effective_from: datetime) -> LicenseUpdate | None:
        stmt = self.scoped(LicenseUpdate).where(
            LicenseUpdate.account_pk == account_pk,
            LicenseUpdate.license_id == license_id,
            LicenseUpdate.effective_from == effective_from,
        )
        return self.session.scalars(stmt.order_by(LicenseUpdate.pk.desc())).first()

    def page(
        self, request: PageRequest, *, account_pk: str | None, license_id: str | None, effective_from: datetime | None
    ) -> Page[LicenseUpdate]:
        stmt = self.scoped(LicenseUpdate)
        if account_pk is not None:
            stmt = stmt.where(LicenseUpdate.account_pk == account_pk)
        if license_id is not None:
            stmt = stmt.where(LicenseUpdate.license_id == license_id)
        if effective_from is not None:
            stmt = stmt.where(LicenseUpdate.effective_from >= effective_from)
        return self.keyset_page(stmt, LicenseUpdate.pk, request)
