from __future__ import annotations

from sqlalchemy import func, or_, select

from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.repository import OrgRepository, sort_column, sorted_by
from meterline.customers.models import Customer, CustomerContact


class CustomerRepository(OrgRepository):
    def by_id(self, customer_id: str) -> Customer | None:
        return self.session.scalar(self.scoped(Customer).where(Customer.id == customer_id))

    def by_pk(self, pk: str) -> Customer | None:
        return self.session.scalar(self.scoped(Customer).where(Customer.pk == pk))

    def by_pks(self, pks: set[str]) -> dict[str, Customer]:
        if not pks:
            return {}
        rows = self.session.scalars(self.scoped(Customer).where(Customer.pk.in_(pks)))
        return {row.pk: row for row in rows}

    def page(self, request: PageRequest, *, status: str | None = None) -> Page[Customer]:
        stmt = self.scoped(Customer)
        if status is not None:
            stmt = stmt.where(Customer.status == status)
        return self.keyset_page(stmt, Customer.pk, request)

    # the console's sorts: by name (case aside), id or when created
    SORTS = {"name": func.lower(Customer.name), "id": Customer.id, "created": Customer.created_at}

    def listed(self, request: Slice, *, status: str, search: str = "") -> Counted[Customer]:
        """A sorted slice of the customers in `status`, with their count; `search`: a part of the name, id or email
        (any case; `%` and `_` match themselves)."""
        stmt = self.scoped(Customer).where(Customer.status == status)
        if search:
            stmt = stmt.where(
                or_(
                    Customer.name.icontains(search, autoescape=True),
                    Customer.id.icontains(search, autoescape=True),
                    Customer.primary_email.icontains(search, autoescape=True),
                )
            )
        column = sort_column(self.SORTS, request)
        order = [*sorted_by(column, request.descending), *sorted_by(Customer.pk, request.descending)]
        return self.counted_page(stmt, order, request)

    def contact_by_username(self, username: str) -> CustomerContact | None:
        return self.session.scalar(self.scoped(CustomerContact).where(CustomerContact.username == username))

    def contacts(self, customer: Customer) -> list[CustomerContact]:
        stmt = self.scoped(CustomerContact).where(CustomerContact.customer_pk == customer.pk)
        return list(self.session.scalars(stmt.order_by(CustomerContact.pk)))

    def contact_emails(self, customer: Customer) -> set[str]:
        stmt = select(CustomerContact.email).where(
            CustomerContact.org_id == self.org_id, CustomerContact.customer_pk == customer.pk
        )
        return {email.lower() for email in self.session.scalars(stmt)}
