from __future__ import annotations

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.purchases.models import Purchase

PROPOSAL_STATUSES = ("PROPOSAL_ACTIVE", "PROPOSAL_APPROVED", "PROPOSAL_DECLINED", "PROPOSAL_EXPIRED")


class PurchaseRepository(OrgRepository):
    def by_id(self, pk: str) -> Purchase | None:
        return self.session.scalar(self.scoped(Purchase).where(Purchase.pk == pk))

    def locked(self, pk: str) -> Purchase | None:
        rows = self.lock_rows(Purchase, [pk], removal=True)
        return rows[0] if rows else None

    def by_idempotency_key(self, key: str) -> Purchase | None:
        return self.session.scalar(self.scoped(Purchase).where(Purchase.idempotency_key == key))

    def page(self, account_pk: str, request: PageRequest, *, proposals: bool) -> Page[Purchase]:
        stmt = self.scoped(Purchase).where(Purchase.account_pk == account_pk)
        stmt = stmt.where(Purchase.payment_mode.is_not(None) if proposals else Purchase.payment_mode.is_(None))
        return self.keyset_page(stmt, Purchase.pk, request)
