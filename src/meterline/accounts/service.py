"""Accounts and their aliases (billing-rules D13).

Rules kept here:
- an account's id is unique in the organization and, like an alias, names one account only: an account id may not
  equal another account's alias, nor an alias another account's id;
- `invoiceCurrency` defaults to the organization's base currency and never changes afterwards;
- alias values are unique in the organization at every instant; open ends of an alias's range are stored as the
  sentinels of `core.clock`; an account holds at most 10 aliases that have not ended, and at most 10 are effective
  at any one instant, past ones included (so an account read at any `effectiveOn` shows every alias effective then,
  within the 10 that Togai's Account model holds);
- every alias value is also registered in the organization's alias registry (`/aliases`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from meterline.accounts import schemas
from meterline.accounts.models import Account, AccountAlias, AccountView, Alias
from meterline.accounts.repository import AccountRepository
from meterline.core.clock import BEGINNING_OF_TIME, END_OF_TIME, isoformat_z
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.ids import new_id
from meterline.core.money import is_currency
from meterline.core.pagination import Page, PageRequest
from meterline.customers.models import Customer
from meterline.customers.repository import CustomerRepository
from meterline.customers.statuses import CustomerStatus
from meterline.settings.service import SettingsWriter
from meterline.tenancy.context import Context

MAX_OPEN_ALIASES = 10
ARCHIVED = CustomerStatus.ARCHIVED

# Does an account have billing history that must be kept (finalized invoices, payments)? Accounts cannot know: the
# use-case layer (usecases/accounts.py) passes its check to every removal. There is no default on purpose.
HistoryCheck = Callable[[Context, Account], bool]


def refuse_archived(account: Account, what: str) -> None:
    """An ARCHIVED account is never billed again: it takes payments for the invoices it still owes, but nothing
    that only a future invoice would use (a credit, a wallet top-up)."""
    if account.status == ARCHIVED:
        raise BadRequest(f"Account {account.id} is archived and will not be billed again: {what}")


@dataclass(frozen=True)
class AliasSpan:
    value: str
    start: datetime
    end: datetime


def most_at_once(ranges: list[tuple[datetime, datetime]]) -> tuple[int, datetime]:
    """The most ranges [start, end) that overlap at one instant, and the first instant they do (no range: 0)."""
    # at one instant, a range that ends there is gone before one that starts there counts (-1 sorts before +1)
    moments = sorted([(start, 1) for start, _ in ranges] + [(end, -1) for _, end in ranges])
    peak, at, count = 0, BEGINNING_OF_TIME, 0
    for moment, step in moments:
        count += step
        if count > peak:
            peak, at = count, moment
    return peak, at


class AccountService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = AccountRepository(ctx.session, ctx.org_id)
        self.customers = CustomerRepository(ctx.session, ctx.org_id)
        self.settings = SettingsWriter(ctx)

    # -- reads -----------------------------------------------------------------------------------------------
    def get(self, account_id: str) -> Account:
        account = self.repo.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    def page(self, request: PageRequest) -> Page[Account]:
        """Accounts that are not archived (archived ones stay readable by id)."""
        return self.repo.page(request, status_not=ARCHIVED)

    def of_customer(self, customer: Customer) -> list[Account]:
        return self.repo.of_customer(customer.pk)

    def views(
        self, accounts: list[Account], at: datetime | None = None, customers: dict[str, Customer] | None = None
    ) -> list[AccountView]:
        """Accounts with their customers, the aliases effective at `at` (default now) and their settings,
        in four queries whatever the number of accounts (three when the customers are given)."""
        if customers is None:
            customers = self.customers.by_pks({a.customer_pk for a in accounts})
        aliases = self.repo.aliases_of_many([a.pk for a in accounts], at or self.ctx.now)
        settings = self.settings.for_entities("ACCOUNT", [a.id for a in accounts])
        return [AccountView(a, customers[a.customer_pk], aliases[a.pk], settings.get(a.id, [])) for a in accounts]

    def view(self, account: Account, at: datetime | None = None) -> AccountView:
        return self.views([account], at)[0]

    def view_by_id(self, account_id: str, at: datetime | None = None) -> AccountView:
        """GET /accounts/{id}: the account with its customer, aliases and settings (one statement on PostgreSQL)."""
        found = self.repo.view_of(account_id, at or self.ctx.now)
        if found is None:
            raise NotFound(f"Account {account_id} not found")
        return AccountView(*found)

    def aliases(self, account_id: str) -> list[AccountAlias]:
        return self.repo.aliases_of(self.get(account_id).pk)

    def resolve(self, id_or_alias: str, at: datetime) -> Account | None:
        """The account an event's `accountId` names at `at`: an account id first, else an alias effective then."""
        account = self.repo.by_id(id_or_alias)
        if account is not None:
            return account
        alias = self.repo.alias_at(id_or_alias, at)
        return self.repo.session.get(Account, alias.account_pk) if alias else None

    # -- writes ----------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreateAccountRequest) -> Account:
        customer = self.customers.by_id(request.customer_id)
        if customer is None:
            raise NotFound(f"Customer {request.customer_id} not found")
        return self.create_for(customer, request)

    def create_for(self, customer: Customer, request: schemas.CreateAccountRequestWithoutCustomerId) -> Account:
        if customer.status == ARCHIVED:
            raise BadRequest(f"Customer {customer.id} is archived: it cannot get new accounts")
        spans = _spans(request.aliases, request.account_aliases)
        # an account id and alias values are one namespace: all locked at once, in one order
        self.repo.lock_alias_values([request.id, *(s.value for s in spans)])
        if self.repo.by_id(request.id) is not None:
            raise Conflict(f"An account with id {request.id} already exists")
        now = self.ctx.now
        if self.repo.alias_values_ending_after({request.id}, BEGINNING_OF_TIME):
            raise Conflict(f"Account id {request.id} is already an alias of another account")
        currency = (request.invoice_currency or self.ctx.org.base_currency).upper()
        _check_currency(currency)
        account = Account(
            pk=new_id("account"),
            org_id=self.ctx.org_id,
            id=request.id,
            customer_pk=customer.pk,
            name=request.name,
            invoice_currency=currency,
            net_term_days=request.net_term_days,
            address=_dump(request.address),
            primary_email=request.primary_email,
            billing_information=_dump(request.billing_information),
            metadata_=request.metadata,
            tags=_tags(request.tags),
            status=request.status or CustomerStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(account)
        self._add_aliases(account, spans)
        if request.settings:
            self.settings.put_for_entity("ACCOUNT", account.id, request.settings)
        return account

    def update(self, account_id: str, request: schemas.UpdateAccountRequest) -> Account:
        account = self.get(account_id)
        if account.status == ARCHIVED:
            raise BadRequest(f"Account {account_id} is archived and cannot be changed")
        if request.invoice_currency is not None and request.invoice_currency.upper() != account.invoice_currency:
            raise BadRequest(
                f"An account's invoiceCurrency cannot be changed once set: account {account_id} is billed in "
                f"{account.invoice_currency}. Create another account for {request.invoice_currency.upper()}."
            )
        fields = request.model_fields_set
        if "name" in fields and request.name is not None:
            account.name = request.name
        if "status" in fields and request.status is not None:
            account.status = request.status
        if "net_term_days" in fields:
            account.net_term_days = request.net_term_days
        if "primary_email" in fields:
            account.primary_email = request.primary_email
        if "billing_information" in fields:
            account.billing_information = _dump(request.billing_information)
        if "address" in fields:
            account.address = _dump(request.address)
        if "metadata" in fields and request.metadata is not None:
            account.metadata_ = request.metadata or None  # a non-null map replaces; {} clears
        if "tags" in fields:
            account.tags = _tags(request.tags)
        account.updated_at = self.ctx.now
        return account

    def delete(self, account_id: str, *, has_history: HistoryCheck) -> None:
        """Remove the account, or archive it when it has billing history (D13). `has_history` is required: only the
        use-case layer knows what history is (usecases/accounts.py)."""
        self.remove(self.get(account_id), has_history=has_history)

    def remove(self, account: Account, *, has_history: HistoryCheck) -> None:
        """Archive the account when `has_history` says it has billing history, else delete it with what is its.
        The account's row is locked first (the lock order: account, then its invoices, which `has_history` locks)."""
        self.repo.lock_rows(Account, [account.pk], removal=True)  # nothing new attaches to it meanwhile
        if has_history(self.ctx, account):
            self.archive(account)
            return
        self.settings.delete_for_entity("ACCOUNT", account.id)
        self.repo.delete(account)

    def archive(self, account: Account) -> None:
        """ARCHIVED: hidden from lists, every row kept; its aliases end now."""
        account.status = ARCHIVED
        account.updated_at = self.ctx.now
        for alias in self.repo.aliases_ending_after_account(account.pk, self.ctx.now):
            self._end_alias(alias, self.ctx.now)

    def add_aliases(self, account_id: str, request: schemas.AddAccountAliasesRequest) -> Account:
        account = self.get(account_id)
        if account.status == ARCHIVED:
            raise BadRequest(f"Account {account_id} is archived: it cannot get aliases")
        spans = _spans(request.aliases, request.account_aliases)
        if not spans:
            raise BadRequest("Give at least one alias in aliases or accountAliases")
        self._add_aliases(account, spans)
        account.updated_at = self.ctx.now
        return account

    def remove_aliases(self, account_id: str, request: schemas.RemoveAccountAliasesRequest) -> Account:
        account = self.get(account_id)
        now = self.ctx.now
        if not request.aliases and not request.account_aliases:
            raise BadRequest("Give at least one alias in aliases or accountAliases")
        rows = {row.id: row for row in self.repo.aliases_of(account.pk)}
        for value in request.aliases or []:
            open_rows = [r for r in rows.values() if r.value == value and r.effective_until > now]
            if not open_rows:
                raise NotFound(f"Account {account_id} has no current or future alias {value!r}")
            for row in open_rows:
                self._end_alias(row, now)
        for item in request.account_aliases or []:
            found = rows.get(item.id)
            if found is None:
                raise NotFound(f"Account {account_id} has no alias with id {item.id}")
            self._end_alias(found, item.from_ or now)
        account.updated_at = now
        return account

    # -- alias registry --------------------------------------------------------------------------------------
    def register_aliases(self, values: list[str]) -> list[Alias]:
        duplicates = {v for v in values if values.count(v) > 1}
        if duplicates:
            raise BadRequest(f"Alias {sorted(duplicates)[0]!r} is given twice")
        taken = self.repo.registry_values(set(values))
        if taken:
            raise Conflict(f"Alias {sorted(taken)[0]!r} already exists")
        created = []
        for value in values:
            alias = Alias(id=new_id("alias"), org_id=self.ctx.org_id, value=value, created_at=self.ctx.now)
            self.repo.add(alias)
            created.append(alias)
        return created

    def registry_alias(self, value: str) -> Alias:
        alias = self.repo.registry_alias(value)
        if alias is None:
            raise NotFound(f"Alias {value} not found")
        return alias

    def registry_page(self, request: PageRequest) -> Page[Alias]:
        return self.repo.registry_page(request)

    def delete_registry_alias(self, value: str) -> None:
        self.repo.lock_alias_values([value])  # an account claiming the value at the same instant takes turns with this
        alias = self.registry_alias(value)
        users = self.repo.aliases_ending_after(value, self.ctx.now)
        if users:
            holder = self.repo.session.get(Account, users[0].account_pk)
            raise BadRequest(
                f"Alias {value} is assigned to account {holder.id if holder else '?'}: remove it from the account "
                "first (POST /accounts/{id}/remove_aliases)"
            )
        self.repo.delete(alias)

    # -- internals -------------------------------------------------------------------------------------------
    def _add_aliases(self, account: Account, spans: list[AliasSpan]) -> None:
        if not spans:
            return
        now = self.ctx.now
        self.repo.lock_alias_values([s.value for s in spans])  # the lock order: alias values, then the account
        locked = self.repo.lock_account(account.pk)  # the limit below counts under the account's lock
        if locked is None:
            raise NotFound(f"Account {account.id} not found")
        if locked.status == ARCHIVED:  # archived meanwhile
            raise BadRequest(f"Account {account.id} is archived: it cannot get aliases")
        for i, span in enumerate(spans):
            if span.start >= span.end:
                raise BadRequest(f"Alias {span.value}: effectiveFrom must be before effectiveUntil")
            for other in spans[:i]:
                if other.value == span.value and other.start < span.end and span.start < other.end:
                    raise BadRequest(f"Alias {span.value} is given twice for overlapping times")
        taken_ids = self.repo.ids_taken({s.value for s in spans}) - {account.id}
        if taken_ids:
            raise Conflict(f"Alias {sorted(taken_ids)[0]} is the id of another account")
        for span in spans:
            clash = self.repo.overlapping_aliases(span.value, span.start, span.end)
            if clash:
                holder = self.repo.session.get(Account, clash[0].account_pk)
                raise Conflict(
                    f"Alias {span.value} is already used by account {holder.id if holder else '?'} from "
                    f"{isoformat_z(clash[0].effective_from)} until {isoformat_z(clash[0].effective_until)}"
                )
        open_after = self.repo.count_open_aliases(account.pk, now) + sum(1 for s in spans if s.end > now)
        if open_after > MAX_OPEN_ALIASES:
            raise BadRequest(f"An account can hold at most {MAX_OPEN_ALIASES} current or future aliases")
        peak, at = most_at_once(
            [(a.effective_from, a.effective_until) for a in self.repo.aliases_of(account.pk)]
            + [(s.start, s.end) for s in spans]
        )
        if peak > MAX_OPEN_ALIASES:
            raise BadRequest(
                f"An account can have at most {MAX_OPEN_ALIASES} aliases effective at one instant: these "
                f"aliases would make {peak} effective at {isoformat_z(at)}"
            )
        registered = self.repo.registry_values({s.value for s in spans})
        for span in spans:
            self.repo.add(
                AccountAlias(
                    id=new_id("aa"),
                    org_id=self.ctx.org_id,
                    account_pk=account.pk,
                    value=span.value,
                    effective_from=span.start,
                    effective_until=span.end,
                    created_at=now,
                    updated_at=now,
                )
            )
            if span.value not in registered:
                self.repo.add(Alias(id=new_id("alias"), org_id=self.ctx.org_id, value=span.value, created_at=now))
                registered.add(span.value)

    def _end_alias(self, row: AccountAlias, at: datetime) -> None:
        """The alias stops applying at `at`; one that would never have applied is removed."""
        if at <= row.effective_from:
            self.repo.delete(row)
        elif at < row.effective_until:
            row.effective_until = at
            row.updated_at = self.ctx.now


def _check_currency(currency: str) -> None:
    if not is_currency(currency):
        raise BadRequest(f"invoiceCurrency {currency!r} is not an ISO 4217 currency code (e.g. USD, EUR, INR)")


def _spans(values: list[str] | None, ranged: list[schemas.CreateAccountAliasRequest] | None) -> list[AliasSpan]:
    spans = [AliasSpan(v, BEGINNING_OF_TIME, END_OF_TIME) for v in values or []]
    for item in ranged or []:
        spans.append(
            AliasSpan(item.value, item.effective_from or BEGINNING_OF_TIME, item.effective_until or END_OF_TIME)
        )
    return spans


def _tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


def _dump(model: BaseModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return model.model_dump(by_alias=True, exclude_none=True)
