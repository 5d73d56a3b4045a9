"""What computing invoices reads (accounts, customers, schedules, meters, license updates, usage), loaded for many
invoices at once and kept for the unit of work.

A bill run computes its invoices a chunk at a time: `prefetch(invoices)` reads each kind of input with one query
for the whole chunk (usage: one per distinct billing window), so the cost of an invoice does not depend on how
many queries its account would need alone. Usage comes from the organization's daily totals for the whole local
days of a window, and from the 15-minute buckets only for a partial day at either end: an invoice reads at most
one row per day and meter, however many events there were (docs/performance.md, "Bill runs").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.core.money import EXACT
from meterline.credits.models import Credit
from meterline.credits.service import CreditRepository
from meterline.customers.models import Customer
from meterline.customers.repository import CustomerRepository
from meterline.entitlements.repository import EntryRepository
from meterline.events.store import EventStore
from meterline.invoicing.models import Invoice
from meterline.invoicing.repository import InvoiceRepository
from meterline.licenses.named import NamedSeats
from meterline.licenses.repository import LicenseRepository
from meterline.metering.models import UsageMeter
from meterline.metering.repository import MeteringRepository
from meterline.rating import cycles
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import ScheduleService, ScheduleView
from meterline.tenancy.context import Context
from meterline.wallet.models import Wallet
from meterline.wallet.service import WalletRepository

Steps = dict[str, list[tuple[datetime, Decimal]]]  # license id -> (effective from, quantity), in order
Window = tuple[datetime, datetime]


class BillingInputs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tz = ZoneInfo(ctx.org.timezone)
        self._accounts: dict[str, Account] = {}
        self._customers: dict[str, Customer] = {}
        self._views: dict[str, ScheduleView | None] = {}
        self._meters: list[UsageMeter] | None = None
        self._steps: dict[str, Steps] = {}
        self._usage: dict[tuple[str, Window], dict[str, Decimal]] = {}
        self.rate_plans: dict[tuple[int, str], tuple[Any, Any]] = {}  # revenue.compute.plan_revenue's memo
        self._credits: dict[str, list[Credit]] = {}
        self._wallets: dict[str, Wallet | None] = {}
        self._drafts: dict[str, list[Invoice]] = {}
        self._overage: dict[str, dict[tuple[str, str], Decimal]] = {}

    # -- one at a time (cached) --------------------------------------------------------------------------------------
    def account(self, pk: str) -> Account:
        if pk not in self._accounts:
            self._accounts.update(AccountRepository(self.ctx.session, self.ctx.org_id).by_pks({pk}))
        return self._accounts[pk]

    def customer(self, pk: str) -> Customer:
        if pk not in self._customers:
            self._customers.update(CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks({pk}))
        return self._customers[pk]

    def view(self, schedule_pk: str) -> ScheduleView | None:
        if schedule_pk not in self._views:
            self._load_views({schedule_pk})
        return self._views[schedule_pk]

    def meters(self) -> list[UsageMeter]:
        if self._meters is None:
            self._meters = MeteringRepository(self.ctx.session, self.ctx.org_id).usable_meters()
        return self._meters

    def license_steps(self, account_pk: str) -> Steps:
        if account_pk not in self._steps:
            self._load_steps({account_pk})
        return self._steps[account_pk]

    def usage(self, account_pk: str, window: Window) -> dict[str, Decimal]:
        """meter id -> the account's usage over the window (meters that are not archived)."""
        if (account_pk, window) not in self._usage:
            self._load_usage({account_pk}, window)
        return self._usage[(account_pk, window)]

    def credits(self, account_pk: str) -> list[Credit]:
        """The account's ACTIVE credits."""
        if account_pk not in self._credits:
            self._load_money({account_pk}, lock=False)
        return self._credits[account_pk]

    def wallet(self, account_pk: str) -> Wallet | None:
        if account_pk not in self._wallets:
            self._load_money({account_pk}, lock=False)
        return self._wallets[account_pk]

    def overage_used(self, account_pk: str) -> dict[tuple[str, str], Decimal]:
        """(feature id, entry id) -> what was used of each of the account's OVERAGE entries."""
        if account_pk not in self._overage:
            self._overage[account_pk] = EntryRepository(self.ctx.session, self.ctx.org_id).overage_used(account_pk)
        return self._overage[account_pk]

    def drafts(self, account_pk: str) -> list[Invoice]:
        """The account's DRAFT invoices, in the order they are due for finalization."""
        if account_pk not in self._drafts:
            self._load_drafts({account_pk})
        return self._drafts[account_pk]

    # -- many at once ------------------------------------------------------------------------------------------------
    def prefetch(self, invoices: list[Invoice], *, lock: bool = False) -> None:
        """Load what computing these invoices reads. With `lock` (finalizing), the accounts' credits and wallets are
        read under row locks (PostgreSQL), held until the transaction ends: nobody else spends them meanwhile."""
        everyone = {i.account_pk for i in invoices}
        self._load_money(everyone if lock else everyone - set(self._credits), lock=lock)
        self._load_drafts(
            {pk for pk in everyone if pk not in self._drafts and (self._credits[pk] or self._wallets[pk])}
        )
        account_pks = everyone - set(self._accounts)
        self._accounts.update(AccountRepository(self.ctx.session, self.ctx.org_id).by_pks(account_pks))
        customer_pks = {self._accounts[pk].customer_pk for pk in account_pks} - set(self._customers)
        self._customers.update(CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks(customer_pks))
        self._load_views({i.schedule_pk for i in invoices if i.schedule_pk} - set(self._views))
        windows: dict[Window, set[str]] = {}
        for invoice in invoices:
            view = self._views.get(invoice.schedule_pk) if invoice.schedule_pk else None
            if view is not None and invoice.cycle_start is not None and invoice.cycle_end is not None:
                window = (max(invoice.cycle_start, view.start), min(invoice.cycle_end, view.end))
                windows.setdefault(window, set()).add(invoice.account_pk)
        for window, pks in windows.items():
            self._load_usage({pk for pk in pks if (pk, window) not in self._usage}, window)
        self._load_steps({i.account_pk for i in invoices} - set(self._steps))

    def _load_money(self, account_pks: set[str], *, lock: bool) -> None:
        if not account_pks:
            return
        postgres = lock and self.ctx.session.get_bind().dialect.name == "postgresql"
        self._credits.update(
            CreditRepository(self.ctx.session, self.ctx.org_id).of_accounts(account_pks, lock=postgres)
        )
        wallets = WalletRepository(self.ctx.session, self.ctx.org_id).of_accounts(account_pks, lock=postgres)
        for pk in account_pks:
            self._wallets[pk] = wallets.get(pk)
        if lock:  # read again what an earlier, unlocked read may have cached
            for item in [*[c for pk in account_pks for c in self._credits[pk]], *wallets.values()]:
                self.ctx.session.refresh(item)

    def _load_drafts(self, account_pks: set[str]) -> None:
        if not account_pks:
            return
        for pk, rows in InvoiceRepository(self.ctx.session, self.ctx.org_id).drafts_of_accounts(account_pks).items():
            self._drafts[pk] = rows

    def _load_views(self, pks: set[str]) -> None:
        if not pks:
            return
        found = ScheduleRepository(self.ctx.session, self.ctx.org_id).by_pks(pks)
        for view in ScheduleService(self.ctx).views(list(found.values())):
            self._views[view.id] = view
        for pk in pks - set(found):
            self._views[pk] = None

    def _load_steps(self, account_pks: set[str]) -> None:
        # named licenses' quantities (their seats in force, licenses/named.py) beside the others: add-on ids differ
        named = NamedSeats(self.ctx.session, self.ctx.org_id).steps_of(account_pks)
        for pk, updates in LicenseRepository(self.ctx.session, self.ctx.org_id).of_accounts(account_pks).items():
            steps: Steps = {}
            for u in updates:
                steps.setdefault(u.license_id, []).append((u.effective_from, u.quantity))
            steps.update(named.get(pk, {}))
            self._steps[pk] = steps

    def _load_usage(self, account_pks: set[str], window: Window) -> None:
        if not account_pks:
            return
        start, end = window
        meter_ids = [m.id for m in self.meters()]
        first_day = cycles.local_start_of_day(cycles.local_day(start, self.tz), self.tz)
        if first_day < start:
            first_day = cycles.local_start_of_day(cycles.local_day(start, self.tz) + timedelta(days=1), self.tz)
        last_day = cycles.local_start_of_day(cycles.local_day(end, self.tz), self.tz)
        store = EventStore(self.ctx.session, self.ctx.org_id)
        if first_day >= last_day:  # less than a whole day
            parts = [store.usage_of_accounts(account_pks, meter_ids, start, end, daily=False)]
        else:
            parts = [store.usage_of_accounts(account_pks, meter_ids, first_day, last_day, daily=True)]
            for edge_start, edge_end in ((start, first_day), (last_day, end)):
                if edge_start < edge_end:
                    parts.append(store.usage_of_accounts(account_pks, meter_ids, edge_start, edge_end, daily=False))
        for pk in account_pks:
            totals = {m: Decimal(0) for m in meter_ids}
            for part in parts:
                for m in meter_ids:
                    got = part.get((pk, m))
                    if got is not None:
                        totals[m] = EXACT.add(totals[m], got[0])
            self._usage[(pk, window)] = totals
