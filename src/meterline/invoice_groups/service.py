"""Invoice groups: accounts of one currency billed together (docs/invoicing.md, "Invoice groups").

- A group has 1 to 100 accounts, all in its currency (the first account's), each in no other group.
- Adding and removing accounts lock the group row; the accounts are taken under one key each first (the lock order:
  keys, then the group), so two requests putting one account into two groups take turns and the second is refused.
- Removing the last account deletes the group (its COMPOSITE invoices stay: they outlive it).
- What the group's accounts are billed on is built in usecases/invoice_groups.py (it spans invoicing).
"""

from __future__ import annotations

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Page, PageRequest
from meterline.customers.statuses import CustomerStatus
from meterline.invoice_groups import schemas
from meterline.invoice_groups.models import InvoiceGroup
from meterline.invoice_groups.repository import InvoiceGroupRepository
from meterline.tenancy.context import Context

MAX_ACCOUNTS = schemas.MAX_ACCOUNTS


class InvoiceGroupService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = InvoiceGroupRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)

    # -- reads -----------------------------------------------------------------------------------------------------
    def get(self, group_id: str) -> InvoiceGroup:
        group = self.repo.by_pk(group_id)
        if group is None:
            raise NotFound(f"Invoice group {group_id} not found")
        return group

    def page(self, request: PageRequest) -> tuple[Page[InvoiceGroup], dict[str, int]]:
        """A page of groups and how many accounts each has."""
        page = self.repo.page(request)
        return page, self.repo.counts({g.pk for g in page.items})

    def account_ids(self, group: InvoiceGroup) -> list[str]:
        """The group's accounts (their ids, the API's), in id order."""
        pks = {m.account_pk for m in self.repo.members(group.pk)}
        return sorted(a.id for a in self.accounts.by_pks(pks).values())

    def count(self, group: InvoiceGroup) -> int:
        return self.repo.counts({group.pk}).get(group.pk, 0)

    def of_account(self, account: Account) -> InvoiceGroup | None:
        """The group the account is in, if any (GET /accounts/{id}?includeGroupDetails=true)."""
        group_pk = self.repo.memberships({account.pk}).get(account.pk)
        return self.repo.by_pk(group_pk) if group_pk is not None else None

    def of_accounts(self, accounts: list[Account]) -> dict[str, InvoiceGroup]:
        """account pk -> the group it is in, for those of `accounts` in one (the console's customer page)."""
        memberships = self.repo.memberships({a.pk for a in accounts})
        groups = {pk: self.repo.by_pk(pk) for pk in set(memberships.values())}
        return {a: g for a, pk in memberships.items() if (g := groups[pk]) is not None}

    # -- changes ---------------------------------------------------------------------------------------------------
    def create(self, request: schemas.CreateInvoiceGroupRequest) -> InvoiceGroup:
        accounts = self._accounts(request.account_ids)
        currency = accounts[0].invoice_currency
        self._check_joining(None, currency, accounts)
        now = self.ctx.now
        group = InvoiceGroup(
            pk=new_id("igroup"),
            org_id=self.ctx.org_id,
            name=request.name,
            email=request.email,
            daily_consolidation=request.daily_invoice_consolidation,
            net_term_days=request.net_term_days,
            currency=currency,
            address=request.address.model_dump(by_alias=True, exclude_none=True),
            created_at=now,
            updated_at=now,
        )
        self.repo.add(group)
        self.repo.add_members(group.pk, [a.pk for a in accounts], now)
        return group

    def add_accounts(self, group_id: str, account_ids: list[str]) -> InvoiceGroup:
        accounts = self._accounts(account_ids)
        group = self._locked(group_id)
        joining = self._check_joining(group, group.currency, accounts)
        if joining:
            count = self.count(group)
            if count + len(joining) > MAX_ACCOUNTS:
                raise BadRequest(
                    f"Invoice group {group.pk} has {count} accounts: {len(joining)} more would pass the "
                    f"{MAX_ACCOUNTS} a group can have"
                )
            self.repo.add_members(group.pk, [a.pk for a in joining], self.ctx.now)
            group.updated_at = self.ctx.now
        return group

    def remove_accounts(self, group_id: str, account_ids: list[str]) -> bool:
        """Take the accounts out of the group; True when that emptied it, which deletes it."""
        accounts = self._accounts(account_ids)
        group = self._locked(group_id)
        members = {m.account_pk for m in self.repo.members(group.pk)}
        for account in accounts:
            if account.pk not in members:
                raise BadRequest(f"Account {account.id} is not in invoice group {group.pk}")
        return self._remove(group, {a.pk for a in accounts}, members)

    def leave(self, account: Account) -> None:
        """The account leaves its group, if it is in one (it is being deleted or archived)."""
        self.repo.lock_key("invoice-group-account", account.pk)
        group_pk = self.repo.memberships({account.pk}).get(account.pk)
        if group_pk is None:
            return
        group = self._locked(group_pk)
        self._remove(group, {account.pk}, {m.account_pk for m in self.repo.members(group.pk)})

    # -- the rules -------------------------------------------------------------------------------------------------
    def _locked(self, group_id: str) -> InvoiceGroup:
        group = self.repo.locked(group_id)
        if group is None:
            raise NotFound(f"Invoice group {group_id} not found")
        return group

    def _remove(self, group: InvoiceGroup, leaving: set[str], members: set[str]) -> bool:
        self.repo.remove_members(group.pk, leaving)
        if not members - leaving:
            self.repo.delete(group)
            return True
        group.updated_at = self.ctx.now
        return False

    def _accounts(self, account_ids: list[str]) -> list[Account]:
        """The accounts named, in the order given (404 for an unknown one, 400 for one named twice), each under its
        key until the transaction ends: no other request puts it in a group meanwhile."""
        seen: set[str] = set()
        for account_id in account_ids:
            if account_id in seen:
                raise BadRequest(f"accountIds: account {account_id} is named twice")
            seen.add(account_id)
        found = self.accounts.pks_by_ids(seen)
        for account_id in account_ids:
            if account_id not in found:
                raise NotFound(f"Account {account_id} not found")
        for pk in sorted(found.values()):
            self.repo.lock_key("invoice-group-account", pk)
        by_pk = self.accounts.by_pks(set(found.values()))
        return [by_pk[found[account_id]] for account_id in account_ids]

    def _check_joining(self, group: InvoiceGroup | None, currency: str, accounts: list[Account]) -> list[Account]:
        """The accounts that join `group` (those already in it are left as they are); 400 for an archived one, one
        of another currency, or one in another group."""
        memberships = self.repo.memberships({a.pk for a in accounts})
        joining = []
        for account in accounts:
            if account.status == CustomerStatus.ARCHIVED:
                raise BadRequest(f"Account {account.id} is ARCHIVED: it cannot join an invoice group")
            if account.invoice_currency != currency:
                raise BadRequest(
                    f"Account {account.id} invoices in {account.invoice_currency}: the accounts of an invoice group "
                    f"share one currency, {currency}"
                )
            other = memberships.get(account.pk)
            if other is not None and (group is None or other != group.pk):
                raise BadRequest(
                    f"Account {account.id} is already in invoice group {other}: an account is in at most one group"
                )
            if other is None:
                joining.append(account)
        if group is None and len(joining) > MAX_ACCOUNTS:  # the request's own bound says it too
            raise BadRequest(f"An invoice group has at most {MAX_ACCOUNTS} accounts")
        return joining
