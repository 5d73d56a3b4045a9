"""Every query of invoice groups, their members and their COMPOSITE invoices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.invoice_groups.models import CompositeInvoice, CompositeMember, InvoiceGroup, InvoiceGroupMember


class InvoiceGroupRepository(OrgRepository):
    def by_pk(self, pk: str) -> InvoiceGroup | None:
        return self.session.scalar(self.scoped(InvoiceGroup).where(InvoiceGroup.pk == pk))

    def locked(self, pk: str) -> InvoiceGroup | None:
        """The group, locked until the transaction ends (its members change, or its composite is built)."""
        found = self.lock_rows(InvoiceGroup, [pk])
        return found[0] if found else None

    def page(self, request: PageRequest) -> Page[InvoiceGroup]:
        return self.keyset_page(self.scoped(InvoiceGroup), InvoiceGroup.pk, request)

    def all_pks(self) -> list[str]:
        return list(self.session.scalars(select(InvoiceGroup.pk).where(InvoiceGroup.org_id == self.org_id)))

    def members(self, group_pk: str) -> list[InvoiceGroupMember]:
        stmt = self.scoped(InvoiceGroupMember).where(InvoiceGroupMember.group_pk == group_pk)
        return list(self.session.scalars(stmt.order_by(InvoiceGroupMember.account_pk)))

    def counts(self, group_pks: set[str]) -> dict[str, int]:
        if not group_pks:
            return {}
        stmt = (
            select(InvoiceGroupMember.group_pk, func.count())
            .where(InvoiceGroupMember.org_id == self.org_id, InvoiceGroupMember.group_pk.in_(group_pks))
            .group_by(InvoiceGroupMember.group_pk)
        )
        return {pk: int(n) for pk, n in self.session.execute(stmt)}

    def memberships(self, account_pks: set[str]) -> dict[str, str]:
        """account pk -> the group it is in, for those of `account_pks` in one."""
        if not account_pks:
            return {}
        stmt = select(InvoiceGroupMember.account_pk, InvoiceGroupMember.group_pk).where(
            InvoiceGroupMember.org_id == self.org_id, InvoiceGroupMember.account_pk.in_(account_pks)
        )
        return {a: g for a, g in self.session.execute(stmt)}

    def add_members(self, group_pk: str, account_pks: list[str], at: datetime) -> None:
        for pk in sorted(account_pks):
            self.session.add(InvoiceGroupMember(account_pk=pk, org_id=self.org_id, group_pk=group_pk, joined_at=at))
        self.session.flush()

    def remove_members(self, group_pk: str, account_pks: set[str]) -> None:
        self.session.execute(
            delete(InvoiceGroupMember).where(
                InvoiceGroupMember.org_id == self.org_id,
                InvoiceGroupMember.group_pk == group_pk,
                InvoiceGroupMember.account_pk.in_(account_pks),
            )
        )

    # -- composite invoices -------------------------------------------------------------------------------------------
    def composite(self, pk: str) -> CompositeInvoice | None:
        return self.session.scalar(self.scoped(CompositeInvoice).where(CompositeInvoice.pk == pk))

    def composites_of(self, group_pk: str) -> list[CompositeInvoice]:
        stmt = self.scoped(CompositeInvoice).where(CompositeInvoice.group_pk == group_pk)
        return list(self.session.scalars(stmt.order_by(CompositeInvoice.sequence_number)))

    def composites_after(
        self,
        after: str | None,
        limit: int,
        *,
        group_pk: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[CompositeInvoice]:
        """Up to `limit` composites in id order after `after`, of one group when given, whose period overlaps
        [start, end) (GET /invoices)."""
        stmt = self.scoped(CompositeInvoice)
        if after is not None:
            stmt = stmt.where(CompositeInvoice.pk > after)
        if group_pk is not None:
            stmt = stmt.where(CompositeInvoice.group_pk == group_pk)
        if start is not None:
            stmt = stmt.where(CompositeInvoice.end_at > start)
        if end is not None:
            stmt = stmt.where(CompositeInvoice.start_at < end)
        return list(self.session.scalars(stmt.order_by(CompositeInvoice.pk).limit(limit)))

    def recent_of_groups(self, group_pks: set[str], limit: int) -> list[CompositeInvoice]:
        """The groups' newest composites, newest first (the console's customer page)."""
        if not group_pks:
            return []
        stmt = self.scoped(CompositeInvoice).where(CompositeInvoice.group_pk.in_(sorted(group_pks)))
        return list(self.session.scalars(stmt.order_by(CompositeInvoice.pk.desc()).limit(limit)))

    def consolidated(self, invoice_pks: set[str]) -> set[str]:
        """Those of `invoice_pks` already in a composite."""
        if not invoice_pks:
            return set()
        stmt = select(CompositeMember.invoice_pk).where(
            CompositeMember.org_id == self.org_id, CompositeMember.invoice_pk.in_(invoice_pks)
        )
        return set(self.session.scalars(stmt))

    def member_invoice_pks(self, composite_pk: str) -> list[str]:
        stmt = select(CompositeMember.invoice_pk).where(
            CompositeMember.org_id == self.org_id, CompositeMember.composite_pk == composite_pk
        )
        return sorted(self.session.scalars(stmt))

    def members_of(self, composite_pks: set[str]) -> dict[str, list[str]]:
        """composite pk -> its member invoices' pks (sorted), for many composites in one query."""
        found: dict[str, list[str]] = {pk: [] for pk in composite_pks}
        if not composite_pks:
            return found
        stmt = select(CompositeMember.composite_pk, CompositeMember.invoice_pk).where(
            CompositeMember.org_id == self.org_id, CompositeMember.composite_pk.in_(sorted(composite_pks))
        )
        for composite_pk, invoice_pk in self.session.execute(stmt.order_by(CompositeMember.invoice_pk)):
            found[composite_pk].append(invoice_pk)
        return found

    def add_composite(self, composite: CompositeInvoice, invoice_pks: list[str]) -> None:
        self.session.add(composite)
        self.session.flush()
        for pk in invoice_pks:
            self.session.add(CompositeMember(invoice_pk=pk, org_id=self.org_id, composite_pk=composite.pk))
        self.session.flush()
