from __future__ import annotations

from meterline.catalog.models import AddOn
from meterline.catalog.statuses import AddOnStatus
from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository


class AddOnRepository(OrgRepository):
    def by_id(self, addon_id: str) -> AddOn | None:
        return self.session.scalar(self.scoped(AddOn).where(AddOn.id == addon_id))

    def lock_name(self, name: str) -> None:
        """Serialize writers that check and take the same active name (PostgreSQL; SQLite has one writer)."""
        self.lock_key("addon-name", name)

    def active_named(self, name: str) -> AddOn | None:
        return self.session.scalar(self.scoped(AddOn).where(AddOn.name == name, AddOn.status == AddOnStatus.ACTIVE))

    def all(self) -> list[AddOn]:
        return list(self.session.scalars(self.scoped(AddOn)))

    def page(self, request: PageRequest, *, status: str | None) -> Page[AddOn]:
        stmt = self.scoped(AddOn)
        if status is not None:
            stmt = stmt.where(AddOn.status == status)
        return self.keyset_page(stmt, AddOn.id, request)
