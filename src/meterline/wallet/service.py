"""The wallet (WalletApi): one per account, in its invoice currency (billing-rules D10; docs/credits.md).

- A top-up is a CREDITED entry; at finalization an invoice takes min(balance, amount due) as a DEBITED entry (its
  paidAmount grows: PAID when covered, else PARTIALLY_PAID); voiding that invoice gives the debit back (CREDITED).
- Every entry keeps the balance after it (`closingBalance`); the wallet row keeps the current one and is locked
  (PostgreSQL) by whoever writes an entry, so concurrent top-ups and finalizations never lose or double an amount.
- While an invoice is DRAFT what it would take is ON_HOLD: computed when read (`Holds`, passed in by invoicing),
  never stored. The balance shown is credited - (debited + on hold), never below 0.
- An account has its wallet from its first top-up; before that it reads as an empty ACTIVE wallet with the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.service import refuse_archived
from meterline.core import numbers
from meterline.core.errors import BadRequest, NotFound
from meterline.core.ids import new_id
from meterline.core.money import EXACT, round_money
from meterline.core.pagination import Page, PageRequest, encode_token
from meterline.core.repository import OrgRepository
from meterline.settings.repository import SettingRepository
from meterline.settings.service import full_setting_id
from meterline.tenancy.context import Context
from meterline.wallet.models import Wallet, WalletEntry
from meterline.wallet.statuses import WalletEntryType, WalletStatus
from meterline.webhooks import outbox

ACTIVE, INACTIVE = WalletStatus.ACTIVE, WalletStatus.INACTIVE
CREDITED, DEBITED = WalletEntryType.CREDITED, WalletEntryType.DEBITED
LIMIT = numbers.LIMIT  # the one number rule's bound (core/numbers.py)

Holds = Callable[[Context, Account], list[tuple[str, Decimal]]]  # (DRAFT invoice id, on hold), in due order


HOLDS_SHOWN = "hold:"  # a page token inside the holds: how many were shown (stored entries' tokens are their ids)


def _holds_shown(after: str | None) -> int | None:
    """How many holds the pages before showed; None when the token is past them (a stored entry's id)."""
    if after is None:
        return 0
    if not after.startswith(HOLDS_SHOWN):
        return None
    count = after.removeprefix(HOLDS_SHOWN)
    if not (count.isascii() and count.isdigit()) or len(count) > 6:
        raise BadRequest("nextToken is not valid: pass the nextToken of a previous page unchanged")
    return int(count)


def wallet_id(account: Account) -> str:
    return "wallet." + account.pk.split(".", 1)[1]


@dataclass(frozen=True)
class WalletView:
    id: str
    account: Account
    balance: Decimal  # credited - (debited + on hold)
    hold: Decimal
    status: str
    effective_from: datetime
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class HoldEntry:
    invoice_id: str
    amount: Decimal
    closing_balance: Decimal
    created_at: datetime


LOW_NAMESPACE, LOW_SETTING = "webhooks", "walletLowThreshold"


class WalletRepository(OrgRepository):
    def has_entries(self, account_pk: str) -> bool:
        stmt = (
            self.scoped(WalletEntry)
            .join(Wallet, Wallet.pk == WalletEntry.wallet_pk)
            .where(Wallet.account_pk == account_pk)
            .limit(1)
        )
        return self.session.scalar(stmt) is not None

    def of_account(self, account_pk: str, *, lock: bool = False) -> Wallet | None:
        stmt = self.scoped(Wallet).where(Wallet.account_pk == account_pk)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt)

    def of_accounts(self, account_pks: set[str], *, lock: bool = False) -> dict[str, Wallet]:
        if not account_pks:
            return {}
        stmt = self.scoped(Wallet).where(Wallet.account_pk.in_(account_pks)).order_by(Wallet.pk)
        if lock:
            stmt = stmt.with_for_update()
        return {w.account_pk: w for w in self.session.scalars(stmt)}

    def entries(self, wallet_pk: str, request: PageRequest) -> Page[WalletEntry]:
        return self.keyset_page(
            self.scoped(WalletEntry).where(WalletEntry.wallet_pk == wallet_pk), WalletEntry.pk, request
        )

    def debits_of_invoice(self, invoice_pk: str) -> list[WalletEntry]:
        stmt = self.scoped(WalletEntry).where(WalletEntry.entity_id == invoice_pk, WalletEntry.type == DEBITED)
        return list(self.session.scalars(stmt.order_by(WalletEntry.pk)))


class WalletService:
    def __init__(self, ctx: Context, *, holds: Holds) -> None:
        """`holds` (required): what the account's DRAFT invoices would take of the wallet; invoicing knows it, and
        usecases/balances.py passes it."""
        self.ctx = ctx
        self.repo = WalletRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.holds = holds

    def _account(self, account_id: str) -> Account:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        return account

    def _locked(self, account: Account) -> Wallet:
        """The account's wallet, created if it has none, locked until the transaction ends."""
        wallet = self.repo.of_account(account.pk, lock=True)
        if wallet is not None:
            return wallet
        self.ctx.session.execute(
            self.repo.insert(Wallet)
            .values(
                pk=wallet_id(account),
                org_id=self.ctx.org_id,
                account_pk=account.pk,
                currency=account.invoice_currency,
                status=ACTIVE,
                effective_from=account.created_at,
                balance=Decimal(0),
                created_at=self.ctx.now,
                updated_at=self.ctx.now,
            )
            .on_conflict_do_nothing()
        )
        wallet = self.repo.of_account(account.pk, lock=True)
        if wallet is None:  # it was just inserted, by this transaction or another one
            raise NotFound(f"Account {account.id} was removed meanwhile")
        return wallet

    def view(self, account_id: str) -> WalletView:
        account = self._account(account_id)
        wallet = self.repo.of_account(account.pk)
        hold = sum((amount for _, amount in self.holds(self.ctx, account)), Decimal(0))
        zero = round_money(Decimal(0), account.invoice_currency)
        if wallet is None:
            return WalletView(wallet_id(account), account, zero, zero, ACTIVE, account.created_at, None, None)
        return WalletView(
            wallet.pk,
            account,
            max(zero, EXACT.subtract(wallet.balance, hold)),
            hold + zero,
            wallet.status,
            wallet.effective_from,
            wallet.created_at,
            wallet.updated_at,
        )

    def top_up(
        self, account_id: str, amount: Decimal, description: str = "Top-up", entity_id: str | None = None
    ) -> WalletView:
        account = self._account(account_id)
        refuse_archived(account, "its wallet takes no top-up")
        currency = account.invoice_currency
        if amount <= 0 or amount >= LIMIT or round_money(amount, currency) != amount:
            raise BadRequest(f"topupAmount: must be more than 0 and below 10^15, in whole {currency} minor units")
        wallet = self._locked(account)
        if wallet.balance + amount >= LIMIT:  # under the wallet's lock: the balance too obeys the number rule
            raise BadRequest(
                f"topupAmount: the wallet's balance ({numbers.plain(wallet.balance)} {currency}) plus "
                f"{numbers.plain(amount)} would reach 10^15; nothing was added"
            )
        self._entry(wallet, CREDITED, amount, entity_id, description)
        return self.view(account_id)

    def update(self, account_id: str, status: str | None, effective_from: datetime | None) -> WalletView:
        account = self._account(account_id)
        wallet = self._locked(account)
        if status is not None:
            wallet.status = status
        if effective_from is not None:
            wallet.effective_from = effective_from
        wallet.updated_at = self.ctx.now
        return self.view(account_id)

    def entries(self, account_id: str, request: PageRequest) -> tuple[list[HoldEntry | WalletEntry], str | None, str]:
        """One page of the wallet's entries: the holds of DRAFT invoices first (due order), then the stored entries
        (oldest first); `pageSize` counts both. Returns the page, its nextToken and the wallet id.

        Holds are computed when read, so a token inside them carries a position (`hold:<n>`: n holds were shown);
        the first page with room for stored entries goes on with their keyset token. A DRAFT finalized between two
        pages leaves the holds and appears as its stored DEBITED entry (docs/credits.md)."""
        account = self._account(account_id)
        wallet = self.repo.of_account(account.pk)
        wallet_pk = wallet.pk if wallet is not None else wallet_id(account)
        shown = _holds_shown(request.after)
        if shown is None:  # the holds are behind: stored entries only
            stored = self._stored(wallet, request)
            return list(stored.items), stored.next_token, wallet_pk
        holds: list[HoldEntry] = []
        left = wallet.balance if wallet is not None else Decimal(0)
        for invoice_id, amount in self.holds(self.ctx, account):
            left = EXACT.subtract(left, amount)
            holds.append(HoldEntry(invoice_id, amount, left, self.ctx.now))
        page: list[HoldEntry | WalletEntry] = list(holds[shown : shown + request.size])
        if shown + len(page) < len(holds):
            return page, encode_token(f"{HOLDS_SHOWN}{shown + len(page)}"), wallet_pk
        room = request.size - len(page)
        if room == 0:  # the page ends with the last hold: a next page only if there are stored entries
            more = self._stored(wallet, PageRequest(size=1)).items
            return page, encode_token(f"{HOLDS_SHOWN}{len(holds)}") if more else None, wallet_pk
        stored = self._stored(wallet, PageRequest(size=room))
        return page + list(stored.items), stored.next_token, wallet_pk

    def _stored(self, wallet: Wallet | None, request: PageRequest) -> Page[WalletEntry]:
        if wallet is None:
            return Page(items=[], next_token=None, size=request.size)
        return self.repo.entries(wallet.pk, request)

    # -- used by invoicing, under the wallet's lock --------------------------------------------------------------
    def debit(self, wallet: Wallet, amount: Decimal, invoice_pk: str) -> None:
        if amount > wallet.balance:
            raise RuntimeError(f"wallet {wallet.pk} cannot pay {amount}: {wallet.balance} left")
        before = wallet.balance
        self._entry(wallet, DEBITED, amount, invoice_pk, "Invoice payment")
        if outbox.wants(self.ctx, "wallet.low"):
            account = self.accounts.by_pks({wallet.account_pk})[wallet.account_pk]
            threshold = self.low_threshold(account)
            if threshold is not None and before > threshold >= wallet.balance:  # crossed by this debit
                outbox.emit(self.ctx, "wallet.low", lambda: self._presented(account), object_id=wallet.pk)

    def low_threshold(self, account: Account) -> Decimal | None:
        """When the wallet is low (wallet.low): the account's NUMERIC setting `webhooks.walletLowThreshold`, else
        the organization's; none: never (docs/webhooks.md)."""
        settings = SettingRepository(self.ctx.session, self.ctx.org_id)
        for entity_type, entity_id in (("ACCOUNT", account.id), ("ORGANIZATION", self.ctx.org_id)):
            found = settings.by_full_id(full_setting_id(LOW_NAMESPACE, LOW_SETTING, entity_type, entity_id))
            if found is not None and found.data_type == "NUMERIC":
                return Decimal(found.value)
        return None

    def _presented(self, account: Account) -> dict[str, object]:
        """The wallet as GET /accounts/{id}/wallet answers it."""
        from meterline.customers.repository import CustomerRepository
        from meterline.wallet import schemas  # the presenter module imports this one

        customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks({account.customer_pk})
        out = schemas.wallet_out(self.view(account.id), customer[account.customer_pk].id)
        return out.model_dump(mode="python", by_alias=True, exclude_none=True)

    def give_back(self, invoice_pk: str, account: Account) -> Decimal:
        """A voided invoice's wallet payments return to the wallet; returns how much."""
        debits = self.repo.debits_of_invoice(invoice_pk)
        total = Decimal(0)
        if debits:
            wallet = self._locked(account)
            for debit in debits:
                self._entry(wallet, CREDITED, debit.amount, invoice_pk, "Voided invoice")
                total = EXACT.add(total, debit.amount)
        return total

    def _entry(self, wallet: Wallet, kind: str, amount: Decimal, entity_id: str | None, description: str) -> None:
        wallet.balance = (
            EXACT.add(wallet.balance, amount) if kind == CREDITED else EXACT.subtract(wallet.balance, amount)
        )
        wallet.updated_at = self.ctx.now
        self.ctx.session.add(
            WalletEntry(
                pk=new_id("wentry"),
                org_id=self.ctx.org_id,
                wallet_pk=wallet.pk,
                type=kind,
                entity_id=entity_id,
                description=description[:50],
                amount=amount,
                closing_balance=wallet.balance,
                created_at=self.ctx.now,
            )
        )
        self.ctx.session.flush()
