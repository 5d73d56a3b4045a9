"""Customers and their contacts (billing-rules D13).

- Creating a customer creates its first account: the one given in `account`, else a default account with the
  customer's id and name, billed in the organization's base currency.
- A customer's id never changes.
- Deleting a customer removes it with its accounts, or archives them all when any account has billing history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meterline.accounts.models import Account
from meterline.accounts.schemas import CreateAccountRequestWithoutCustomerId
from meterline.accounts.service import ARCHIVED, AccountService, HistoryCheck
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.customers import schemas
from meterline.customers.models import Customer, CustomerContact
from meterline.customers.repository import CustomerRepository
from meterline.customers.statuses import CustomerStatus
from meterline.settings.service import SettingsWriter
from meterline.tenancy.context import Context
from meterline.tenancy.security import hash_password


@dataclass(frozen=True)
class CreatedCustomer:
    customer: Customer
    account: Account


class CustomerService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = CustomerRepository(ctx.session, ctx.org_id)
        self.accounts = AccountService(ctx)
        self.settings = SettingsWriter(ctx)

    def get(self, customer_id: str) -> Customer:
        customer = self.repo.by_id(customer_id)
        if customer is None:
            raise NotFound(f"Customer {customer_id} not found")
        return customer

    def page(self, request: PageRequest) -> Page[Customer]:
        """Active customers; archived ones stay readable by id."""
        return self.repo.page(request, status=CustomerStatus.ACTIVE)

    def listed(self, request: Slice, search: str = "") -> Counted[Customer]:
        """Active customers, sorted, a slice at a time with their count (the console's list)."""
        return self.repo.listed(request, status=CustomerStatus.ACTIVE, search=search.strip())

    def create(self, request: schemas.CreateCustomerRequest) -> CreatedCustomer:
        if self.repo.by_id(request.id) is not None:
            raise Conflict(f"A customer with id {request.id} already exists")
        now = self.ctx.now
        customer = Customer(
            pk=new_id("customer"),
            org_id=self.ctx.org_id,
            id=request.id,
            name=request.name,
            primary_email=request.primary_email,
            address=request.address.model_dump(by_alias=True, exclude_none=True),
            status=CustomerStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(customer)
        account_request = request.account or CreateAccountRequestWithoutCustomerId(id=request.id, name=request.name)
        account = self.accounts.create_for(customer, account_request)
        if request.settings:
            self.settings.put_for_entity("CUSTOMER", customer.id, request.settings)
        return CreatedCustomer(customer=customer, account=account)

    def update(self, customer_id: str, request: schemas.UpdateCustomerRequest) -> Customer:
        customer = self.get(customer_id)
        if customer.status == ARCHIVED:
            raise BadRequest(f"Customer {customer_id} is archived and cannot be changed")
        if request.name is not None:
            customer.name = request.name
        if request.primary_email is not None:
            customer.primary_email = request.primary_email
        if request.address is not None:
            customer.address = request.address.model_dump(by_alias=True, exclude_none=True)
        customer.updated_at = self.ctx.now
        return customer

    def delete(self, customer_id: str, *, has_history: HistoryCheck) -> None:
        """Remove the customer and its accounts; when any account has billing history (D13), archive the customer
        and every account instead. `has_history` is required (usecases/accounts.py passes it)."""
        customer = self.get(customer_id)
        # Nothing new attaches to the customer or its accounts while this decides (an account created, an invoice
        # or a payment recorded at the same instant waits, then finds them gone or archived); the lock order:
        # customer, accounts, then their invoices (which `has_history` locks).
        self.repo.lock_rows(Customer, [customer.pk], removal=True)
        accounts = self.accounts.of_customer(customer)
        self.accounts.repo.lock_rows(Account, [a.pk for a in accounts], removal=True)
        if any(has_history(self.ctx, account) for account in accounts):
            for account in accounts:
                self.accounts.archive(account)
            customer.status = ARCHIVED
            customer.updated_at = self.ctx.now
            return
        for account in accounts:
            self.accounts.remove(account, has_history=has_history)
        self.settings.delete_for_entity("CUSTOMER", customer.id)
        self.repo.delete(customer)

    def settings_of(self, customer: Customer) -> list:
        return self.settings.for_entity("CUSTOMER", customer.id)

    # -- contacts --------------------------------------------------------------------------------------------
    def create_contact(
        self, customer_id: str, request: schemas.CreateCustomerContactRequest, *, created_by: str | None
    ) -> CustomerContact:
        customer = self.get(customer_id)
        email = request.email.strip().lower()
        self.repo.lock_key("contact-email", customer.pk, email)  # held to the end: one contact per email
        if email in self.repo.contact_emails(customer):
            raise Conflict(f"Customer {customer_id} already has a contact with email {email}")
        username = request.preferred_username or self._free_username(email)
        if self.repo.contact_by_username(username) is not None:
            raise Conflict(f"The username {username} is taken")
        contact = CustomerContact(
            pk=new_id("contact"),
            org_id=self.ctx.org_id,
            customer_pk=customer.pk,
            username=username,
            preferred_username=request.preferred_username,
            name=request.name,
            email=email,
            phone=request.phone,
            password_hash=hash_password(request.password) if request.password else None,
            login_access=request.login_access,
            verified=bool(request.verified),
            created_by=created_by,
            created_at=self.ctx.now,
        )
        self.repo.add(contact)
        return contact

    def contacts(self, customer_id: str) -> list[CustomerContact]:
        return self.repo.contacts(self.get(customer_id))

    def _free_username(self, email: str) -> str:
        base = (re.sub(r"[^A-Za-z0-9]", "", email.split("@")[0]) or "contact")[:40]
        base = base if len(base) >= 3 else f"{base}usr"
        candidate, n = base, 1
        while self.repo.contact_by_username(candidate) is not None:
            n += 1
            candidate = f"{base}{n}"
        return candidate
